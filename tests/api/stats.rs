//! Statistics and the annual report on a small province built by hand through the API: every
//! field checked, truncation against half-up, zero denominators, a member who moved during the
//! year, an organisation moved after it (the old year's figures stay), annulled discipline.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// P ─┬─ D1 ─┬─ G1 (grassroots committee) ─┬─ S1 (sub-branch)
///    │      │                             └─ S2 (sub-branch, established 2023-09-01)
///    │      └─ B1 (grassroots branch)
///    ├─ D2 ── B2 (grassroots branch)
///    └─ PD (party delegation)
/// G1 moves from D1 to D2 on 2024-03-01.
pub async fn province(app: &TestApp, admin: &str) {
    for (code, kind, parent, established) in [
        ("P", "provincial_committee", None, "2000-01-01"),
        ("D1", "subordinate_committee", Some("P"), "2000-01-01"),
        ("D2", "subordinate_committee", Some("P"), "2000-01-01"),
        ("PD", "party_delegation", Some("P"), "2000-01-01"),
        ("G1", "grassroots_committee", Some("D1"), "2000-01-01"),
        ("S1", "sub_branch", Some("G1"), "2000-01-01"),
        ("S2", "sub_branch", Some("G1"), "2023-09-01"),
        ("B1", "grassroots_branch", Some("D1"), "2000-01-01"),
        ("B2", "grassroots_branch", Some("D2"), "2000-01-01"),
    ] {
        app.org(admin, code, kind, parent, established).await;
    }
    // (profile, branch, born, admitted): ceremony on admission, full membership a year later.
    for (profile, branch, born, admitted) in [
        ("m1", "S1", "1970-01-01", "1994-02-01"),
        ("m2", "S1", "1960-01-01", "1984-05-01"),
        ("m3", "B1", "1980-01-01", "2005-01-01"),
        ("m4", "B1", "1980-01-01", "2005-01-01"),
        ("m5", "B2", "1950-01-01", "1990-01-01"),
        ("m6", "B1", "1985-01-01", "2010-01-01"),
        ("m8", "B1", "1940-01-01", "1964-07-01"),
    ] {
        let admitted_date: chrono::NaiveDate = admitted.parse().unwrap();
        let official = admitted_date
            .checked_add_months(chrono::Months::new(12))
            .unwrap();
        let body = json!({"profile_number": profile, "full_name": format!("Đảng viên {profile}"), "gender": "male",
            "born_on": born, "organization_code": branch, "organization_since": admitted.max("2000-01-01"),
            "admitted_on": admitted, "ceremony_on": admitted, "official_on": official.to_string()});
        app.post("/api/v1/members", admin, body).await.expect(201);
    }
    app.post(
        "/api/v1/members/m5/exemptions",
        admin,
        json!({"starts_on": "2020-01-01", "reason": "tuổi cao"}),
    )
    .await
    .expect(200);
    // m6 moves from B1 (D1) to B2 (D2) during 2023.
    app.post(
        "/api/v1/members/m6/transfers",
        admin,
        json!({"organization_code": "B2", "on": "2023-06-01"}),
    )
    .await
    .expect(200);
    // 2023 discipline: m4 warned.
    discipline(app, admin, "member", "m4", "warning", "2023-03-01").await;
    // 2023 ratings.
    for (profile, level) in [
        ("m1", "excellent"),
        ("m2", "good"),
        ("m3", "good"),
        ("m4", "not_completed"),
        ("m6", "good"),
        ("m8", "completed"),
    ] {
        app.post(
            "/api/v1/ratings/members",
            admin,
            json!({"profile_number": profile, "year": 2023, "level": level}),
        )
        .await
        .expect(201);
    }
    app.post(
        "/api/v1/ratings/members",
        admin,
        json!({"profile_number": "m5", "year": 2023, "level": "exempt", "reason": "miễn sinh hoạt"}),
    )
    .await
    .expect(201);
    for (code, level) in [("G1", "excellent"), ("B1", "good"), ("S1", "good")] {
        app.post(
            "/api/v1/ratings/organizations",
            admin,
            json!({"organization_code": code, "year": 2023, "level": level}),
        )
        .await
        .expect(201);
    }
    app.post(
        "/api/v1/ratings/organizations",
        admin,
        json!({"organization_code": "S2", "year": 2023, "level": "not_rated", "reason": "mới thành lập"}),
    )
    .await
    .expect(201);
    // 2024: G1 moves to D2; m8 dies; two admissions; discipline; insignia.
    app.post(
        "/api/v1/organizations/G1/move",
        admin,
        json!({"parent_code": "D2", "on": "2024-03-01"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/members/m8/leave",
        admin,
        json!({"reason": "deceased", "on": "2024-03-01"}),
    )
    .await
    .expect(200);
    for (profile, branch, admitted) in [("m7", "B2", "2024-05-01"), ("m9", "S1", "2024-02-01")] {
        let body = json!({"profile_number": profile, "full_name": "Đảng viên mới", "gender": "female",
            "born_on": "2000-01-01", "organization_code": branch, "admitted_on": admitted, "ceremony_on": admitted});
        app.post("/api/v1/members", admin, body).await.expect(201);
    }
    app.post(
        "/api/v1/admission-targets",
        admin,
        json!({"organization_code": "P", "year": 2024, "target": 3}),
    )
    .await
    .expect(201);
    discipline(app, admin, "member", "m3", "reprimand", "2024-04-01").await;
    let annulled = discipline(app, admin, "member", "m2", "reprimand", "2024-06-01").await;
    app.post(
        &format!("/api/v1/disciplinary-actions/{annulled}/appeal"),
        admin,
        json!({"filed_on": "2024-06-10", "outcome": "annulled", "decided_on": "2024-07-01"}),
    )
    .await
    .expect(200);
    discipline(app, admin, "organization", "B2", "reprimand", "2024-07-01").await;
    for (profile, tier, on, posthumous) in [
        ("m1", 30, "2024-02-03", false),
        ("m2", 40, "2024-05-19", false),
        ("m8", 60, "2024-05-19", true),
    ] {
        app.post(
            "/api/v1/insignia-awards",
            admin,
            json!({"profile_number": profile, "tier": tier, "awarded_on": on, "posthumous": posthumous}),
        )
        .await
        .expect(201);
    }
}

async fn discipline(
    app: &TestApp,
    admin: &str,
    subject_type: &str,
    subject: &str,
    form: &str,
    decided_on: &str,
) -> i64 {
    let answer = app
        .post(
            "/api/v1/disciplinary-actions",
            admin,
            json!({"subject_type": subject_type, "subject": subject, "form": form,
                   "decision_number": format!("{subject}-{decided_on}"), "authority_code": "P", "decided_on": decided_on}),
        )
        .await;
    answer.expect(201);
    answer.body["id"].as_i64().unwrap()
}

fn level(count: i64, percent: Option<&str>) -> Value {
    json!({"count": count, "percent": percent})
}

#[tokio::test]
async fn every_statistic_is_computed_from_the_records() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;

    let structure = app
        .get(
            "/api/v1/stats/structure?organization=P&on=2023-12-31",
            &admin,
        )
        .await;
    structure.expect(200);
    assert_eq!(
        structure.body,
        json!({"organization": "P", "on": "2023-12-31",
            "organizations": {"subordinate_committee": 2, "grassroots_committee": 1, "grassroots_branch": 2,
                "partial_committee": 0, "sub_branch": 2, "party_delegation": 1, "party_affairs_committee": 0, "other_body": 0},
            "grassroots_organizations": 3, "members": 7, "probationary_members": 0, "exempt_members": 1})
    );

    let ratings = app
        .get("/api/v1/stats/ratings?organization=P&year=2023", &admin)
        .await;
    ratings.expect(200);
    assert_eq!(ratings.body["on"], "2023-12-31");
    assert_eq!(
        ratings.body["grassroots_organizations"],
        json!({"total": 3, "rated": 2, "not_rated": 1, "rated_percent": "66.66",
            "excellent": level(1, Some("50.00")), "good": level(1, Some("50.00")),
            "completed": level(0, Some("0.00")), "not_completed": level(0, Some("0.00")),
            "excellent_quota": {"limit_percent": "20.00", "actual_percent": "100.00", "within": false}})
    );
    assert_eq!(
        ratings.body["sub_branches"],
        json!({"total": 2, "rated": 1, "not_rated": 1, "rated_percent": "50.00",
            "excellent": level(0, Some("0.00")), "good": level(1, Some("100.00")),
            "completed": level(0, Some("0.00")), "not_completed": level(0, Some("0.00")),
            "excellent_quota": {"limit_percent": "20.00", "actual_percent": "0.00", "within": true}})
    );
    assert_eq!(
        ratings.body["members"],
        json!({"total": 7, "rated": 6, "exempt": 1, "not_rated": 0, "rated_percent": "85.71",
            "excellent": level(1, Some("16.66")), "good": level(3, Some("50.00")),
            "completed": level(1, Some("16.66")), "not_completed": level(1, Some("16.66")),
            "excellent_quota": {"limit_percent": "20.00", "actual_percent": "33.33", "within": false}})
    );
    let half_up = app
        .get(
            "/api/v1/stats/ratings?organization=P&year=2023&rounding=half_up",
            &admin,
        )
        .await;
    assert_eq!(half_up.body["members"]["excellent"]["percent"], "16.67");
    assert_eq!(
        half_up.body["grassroots_organizations"]["rated_percent"],
        "66.67"
    );

    let admissions = app
        .get("/api/v1/stats/admissions?organization=P&year=2024", &admin)
        .await;
    assert_eq!(
        admissions.body,
        json!({"organization": "P", "year": 2024, "admitted": 2, "target": 3, "target_percent": "66.66",
            "members_on": {"date": "2024-12-31", "count": 8}})
    );
    let half_up = app
        .get(
            "/api/v1/stats/admissions?organization=P&year=2024&rounding=half_up",
            &admin,
        )
        .await;
    assert_eq!(half_up.body["target_percent"], "66.67");

    // The annulled reprimand of m2 is left out.
    let discipline = app
        .get("/api/v1/stats/discipline?organization=P&year=2024", &admin)
        .await;
    assert_eq!(
        discipline.body,
        json!({"organization": "P", "year": 2024,
            "members": {"total": 1, "reprimand": 1, "warning": 0, "dismissal": 0, "expulsion": 0,
                "previous_year_total": 1, "change": 0},
            "organizations": {"total": 1, "reprimand": 1, "warning": 0, "dissolution": 0,
                "previous_year_total": 0, "change": 1}})
    );

    let insignia = app
        .get("/api/v1/stats/insignia?organization=P&year=2024", &admin)
        .await;
    assert_eq!(
        insignia.body,
        json!({"organization": "P", "year": 2024, "total": 3, "posthumous": 1, "early": 0,
            "tiers": [{"tier": 30, "total": 1, "posthumous": 0, "early": 0},
                      {"tier": 40, "total": 1, "posthumous": 0, "early": 0},
                      {"tier": 60, "total": 1, "posthumous": 1, "early": 0}],
            "batches": [{"awarded_on": "2024-02-03", "total": 1}, {"awarded_on": "2024-05-19", "total": 2}]})
    );
}

#[tokio::test]
async fn past_figures_follow_the_tree_and_the_roll_as_they_stood() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // G1 moved to D2 in 2024: D1's 2023 figures still hold it; m6 left D1 in June 2023.
    let d1 = app
        .get("/api/v1/stats/ratings?organization=D1&year=2023", &admin)
        .await;
    assert_eq!(d1.body["grassroots_organizations"]["total"], 2);
    assert_eq!(d1.body["sub_branches"]["total"], 2);
    assert_eq!(d1.body["members"]["total"], 5);
    assert_eq!(d1.body["members"]["good"]["count"], 2);
    let d2 = app
        .get("/api/v1/stats/ratings?organization=D2&year=2023", &admin)
        .await;
    assert_eq!(d2.body["members"]["total"], 2);
    // No sub-branch under D2 at the end of 2023: zero denominators give null, not an error.
    assert_eq!(d2.body["sub_branches"]["total"], 0);
    assert_eq!(d2.body["sub_branches"]["rated_percent"], Value::Null);
    assert_eq!(d2.body["sub_branches"]["excellent"]["percent"], Value::Null);
    assert_eq!(
        d2.body["sub_branches"]["excellent_quota"]["actual_percent"],
        Value::Null
    );
    // The structure of today sees the move.
    let d2_now = app
        .get(
            "/api/v1/stats/structure?organization=D2&on=2024-12-31",
            &admin,
        )
        .await;
    assert_eq!(d2_now.body["organizations"]["grassroots_committee"], 1);
    assert_eq!(d2_now.body["organizations"]["sub_branch"], 2);
    let d1_then = app
        .get(
            "/api/v1/stats/structure?organization=D1&on=2023-12-31",
            &admin,
        )
        .await;
    assert_eq!(d1_then.body["organizations"]["grassroots_committee"], 1);
    assert_eq!(d1_then.body["members"], 5);
    // Discipline counts where the member was on the decision's day.
    let d1_discipline = app
        .get("/api/v1/stats/discipline?organization=D1&year=2023", &admin)
        .await;
    assert_eq!(d1_discipline.body["members"]["warning"], 1);
    let d2_discipline = app
        .get("/api/v1/stats/discipline?organization=D2&year=2024", &admin)
        .await;
    assert_eq!(d2_discipline.body["organizations"]["total"], 1);
    assert_eq!(d2_discipline.body["members"]["total"], 0);
    // The deceased m8 counts toward B1 (D1) for the posthumous award.
    let d1_insignia = app
        .get("/api/v1/stats/insignia?organization=D1&year=2024", &admin)
        .await;
    assert_eq!(d1_insignia.body["posthumous"], 1);
}

#[tokio::test]
async fn the_annual_report_as_json_text_and_csv() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let json_report = app
        .get("/api/v1/reports/annual?organization=P&year=2024", &admin)
        .await;
    json_report.expect(200);
    assert_eq!(json_report.body["rating_year"], 2023);
    assert_eq!(json_report.body["structure"]["on"], "2023-12-31");
    assert_eq!(json_report.body["ratings"]["members"]["rated"], 6);
    assert_eq!(json_report.body["admissions"]["admitted"], 2);
    assert_eq!(json_report.body["discipline"]["members"]["total"], 1);
    assert_eq!(json_report.body["insignia"]["total"], 3);

    let text = app
        .get(
            "/api/v1/reports/annual?organization=P&year=2024&format=text",
            &admin,
        )
        .await;
    text.expect(200);
    assert!(text
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    for expected in [
        "85,71%",
        "06/07",
        "02 đảng bộ trực thuộc",
        "đạt 66,66% chỉ tiêu kế hoạch (02/03)",
        "truy tặng 01",
    ] {
        assert!(
            text.text.contains(expected),
            "missing {expected:?} in:\n{}",
            text.text
        );
    }
    let csv = app
        .get(
            "/api/v1/reports/annual?organization=P&year=2024&format=csv",
            &admin,
        )
        .await;
    csv.expect(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let mut lines = csv.text.lines();
    assert_eq!(lines.next(), Some("section,figure,count,of,percent"));
    assert!(csv.text.contains("ratings.members,rated,6,7,85.71\n"));
    assert!(csv.text.contains("admissions,admitted,2,3,66.66\n"));

    app.get(
        "/api/v1/reports/annual?organization=P&year=2024&format=pdf",
        &admin,
    )
    .await
    .expect_problem(400, None);
    app.get("/api/v1/reports/annual?organization=NOPE&year=2024", &admin)
        .await
        .expect_problem(404, None);
    app.get("/api/v1/stats/ratings?organization=P", &admin)
        .await
        .expect_problem(400, None);
    app.get("/api/v1/stats/ratings?organization=P&year=1800", &admin)
        .await
        .expect_problem(400, None);
    app.get(
        "/api/v1/stats/ratings?organization=P&year=2023&rounding=up",
        &admin,
    )
    .await
    .expect_problem(400, None);
}

#[tokio::test]
async fn callers_see_figures_of_their_scope_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.insert_user("d1", party_records::domain::Role::Auditor, Some("D1"));
    let auditor = app.token("d1").await;
    app.get(
        "/api/v1/stats/structure?organization=D1&on=2023-12-31",
        &auditor,
    )
    .await
    .expect(200);
    app.get(
        "/api/v1/stats/structure?organization=P&on=2023-12-31",
        &auditor,
    )
    .await
    .expect_problem(404, None);
    app.get("/api/v1/reports/annual?organization=D2&year=2024", &auditor)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn checks_name_the_rules_and_the_records() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let checks = app
        .get("/api/v1/stats/checks?organization=P&year=2023", &admin)
        .await;
    checks.expect(200);
    assert_eq!(checks.body["on"], "2023-12-31");
    let items = checks.body["items"].as_array().unwrap();
    let find = |rule: &str, org: Option<&str>| {
        items
            .iter()
            .find(|i| i["rule"] == rule && (org.is_none() || i["organization_code"] == json!(org)))
            .cloned()
            .unwrap_or_else(|| panic!("no {rule} item for {org:?} in {items:?}"))
    };
    // S1 (in G1) has one excellent member against one good.
    assert_eq!(find("rating.excellent_quota", Some("G1"))["count"], 1);
    // Among D1's grassroots committees, G1 is excellent and none is good.
    assert_eq!(find("rating.excellent_quota", Some("D1"))["count"], 1);
    assert_eq!(find("rating.missing", None)["records"], json!(["B2"]));
    assert_eq!(
        find("organization.min_full_members", None)["records"],
        json!(["B2", "S1", "S2"])
    );
    assert!(items
        .iter()
        .all(|i| i["rule"] != "organization.branch_committee_required"));
    assert!(items
        .iter()
        .all(|i| i["rule"] != "rating.disciplined_member_not_above_not_completed"));

    // An administrator's override puts a disciplined member above not_completed: it shows.
    let rating = app.get("/api/v1/ratings/members/m4/2023", &admin).await;
    let etag = rating.header("etag").unwrap().to_string();
    app.patch(
        "/api/v1/ratings/members/m4/2023",
        &admin,
        &etag,
        json!({"level": "good", "override_reason": "Ủy ban Kiểm tra kết luận lại"}),
    )
    .await
    .expect(200);
    let checks = app
        .get("/api/v1/stats/checks?organization=P&year=2023", &admin)
        .await;
    let disciplined = checks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "rating.disciplined_member_not_above_not_completed")
        .cloned()
        .expect("the overridden rating is listed");
    assert_eq!(disciplined["records"], json!(["m4"]));
}
