//! The whole party (toàn Đảng): the figures asked for without an organisation by a caller who
//! sees everything are the sums of the figures of the database's top-level committees, read
//! from the summaries and from the records, before and after an organisation moves from one
//! province to the other. A scoped caller who names no organisation gets their own scope.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::stats::province;
use crate::summaries::set_window;

/// A second province beside `stats::province`'s P:
/// Q ── DQ (subordinate committee) ── BQ (grassroots branch), with one member of 1990, one
/// admitted in 2024, ratings of 2023, a 2024 target, a 2024 decision about BQ and an award.
/// B2 (of P, with its members) moves under DQ on 2024-09-01.
async fn second_province(app: &TestApp, admin: &str) {
    app.org(admin, "Q", "provincial_committee", None, "2000-01-01")
        .await;
    app.org(
        admin,
        "DQ",
        "subordinate_committee",
        Some("Q"),
        "2000-01-01",
    )
    .await;
    app.org(admin, "BQ", "grassroots_branch", Some("DQ"), "2000-01-01")
        .await;
    for (profile, admitted, official) in [
        ("q1", "1990-01-01", Some("1991-01-01")),
        ("q2", "2024-03-01", None),
    ] {
        let mut body = json!({"profile_number": profile, "full_name": format!("Đảng viên {profile}"),
            "gender": "female", "born_on": "1965-01-01", "organization_code": "BQ",
            "organization_since": admitted.max("2000-01-01"), "admitted_on": admitted, "ceremony_on": admitted});
        if let Some(official) = official {
            body["official_on"] = json!(official);
        }
        app.post("/api/v1/members", admin, body).await.expect(201);
    }
    app.post(
        "/api/v1/ratings/members",
        admin,
        json!({"profile_number": "q1", "year": 2023, "level": "excellent"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/ratings/organizations",
        admin,
        json!({"organization_code": "BQ", "year": 2023, "level": "good"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/admission-targets",
        admin,
        json!({"organization_code": "Q", "year": 2024, "target": 2}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/disciplinary-actions",
        admin,
        json!({"subject_type": "organization", "subject": "BQ", "form": "warning",
               "decision_number": "BQ-1", "authority_code": "Q", "decided_on": "2024-05-01"}),
    )
    .await
    .expect(201);
    // A decision about the top-level committee itself: below no root, so in no report's
    // organisation figures, the whole party's included.
    app.post(
        "/api/v1/disciplinary-actions",
        admin,
        json!({"subject_type": "organization", "subject": "Q", "form": "reprimand",
               "decision_number": "Q-1", "authority_code": "Q", "decided_on": "2024-06-01"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/insignia-awards",
        admin,
        json!({"profile_number": "q1", "tier": 30, "awarded_on": "2024-05-19"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/organizations/B2/move",
        admin,
        json!({"parent_code": "DQ", "on": "2024-09-01"}),
    )
    .await
    .expect(200);
}

/// Every count of a report, by its path (`ratings.members.good.count`, `insignia.tiers.30.total`);
/// years, tiers and percentages left out.
fn counts(value: &Value, path: &str, into: &mut BTreeMap<String, i64>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if !["year", "rating_year", "tier"].contains(&key.as_str()) {
                    counts(v, &format!("{path}.{key}"), into);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let key = item
                    .get("tier")
                    .or_else(|| item.get("awarded_on"))
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                counts(item, &format!("{path}.{key}"), into);
            }
        }
        Value::Number(n) => {
            into.insert(path.to_string(), n.as_i64().unwrap());
        }
        _ => {}
    }
}

fn sum(reports: &[&Value]) -> BTreeMap<String, i64> {
    let mut total = BTreeMap::new();
    for report in reports {
        let mut one = BTreeMap::new();
        counts(report, "", &mut one);
        for (k, n) in one {
            *total.entry(k).or_insert(0) += n;
        }
    }
    total
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let answer = app
        .get(&format!("/api/v1/reports/annual?{query}"), token)
        .await;
    answer.expect(200);
    answer.body
}

async fn whole_equals_the_provinces(app: &TestApp, admin: &str) -> Vec<Value> {
    let mut wholes = Vec::new();
    for (year, rating_year) in [(2024, 2023), (2024, 2024), (2023, 2023), (2025, 2024)] {
        let years = format!("year={year}&rating_year={rating_year}");
        let whole = report(app, admin, &years).await;
        let p = report(app, admin, &format!("organization=P&{years}")).await;
        let q = report(app, admin, &format!("organization=Q&{years}")).await;
        let mut whole_counts = BTreeMap::new();
        counts(&whole, "", &mut whole_counts);
        // A count missing from one side (an insignia tier) reads as absent, not as zero.
        assert_eq!(
            whole_counts,
            sum(&[&p, &q]),
            "the whole party of {year} (ratings of {rating_year}) is P + Q"
        );
        assert_eq!(whole["organization"], Value::Null);
        assert_eq!(whole["organization_name"], "Toàn Đảng");
        wholes.push(whole);
    }
    wholes
}

#[tokio::test]
async fn the_whole_party_is_the_sum_of_its_top_level_committees() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    second_province(&app, &admin).await;

    let from_summaries = whole_equals_the_provinces(&app, &admin).await;
    let whole_2024 = &from_summaries[0];
    // Not all zero: P's 7 members at the end of 2023 and Q's one; P's 9 organisations below
    // it and Q's 2 (the top-level committees themselves are not counted).
    assert_eq!(whole_2024["structure"]["members"], 8);
    assert_eq!(
        whole_2024["structure"]["organizations"]["grassroots_branch"],
        3
    );
    assert_eq!(
        whole_2024["structure"]["organizations"]["subordinate_committee"],
        3
    );
    // Targets: P's 3 and Q's 2; none in 2023, so no percentage either.
    assert_eq!(whole_2024["admissions"]["target"], 5);
    assert_eq!(whole_2024["admissions"]["admitted"], 3);
    assert_eq!(whole_2024["admissions"]["target_percent"], "60.00");
    assert_eq!(from_summaries[2]["admissions"]["target"], Value::Null);
    assert_eq!(whole_2024["discipline"]["organizations"]["total"], 2);
    assert_eq!(whole_2024["insignia"]["total"], 4);

    // The same sums counted from the records (the summaries' window emptied).
    set_window(&app, 1, 0);
    let from_records = whole_equals_the_provinces(&app, &admin).await;
    assert_eq!(from_records, from_summaries);

    // The other statistics take the same scope.
    for path in UNNAMED {
        let answer = app.get(path, &admin).await;
        answer.expect(200);
        assert_eq!(answer.body["organization"], Value::Null, "{path}");
    }
    let text = app
        .get("/api/v1/reports/annual?year=2024&format=text", &admin)
        .await;
    text.expect(200);
    assert!(text.text.starts_with("Toàn Đảng"), "{}", text.text);
}

/// Every statistics route, without an organisation.
const UNNAMED: [&str; 7] = [
    "/api/v1/stats/structure?on=2023-12-31",
    "/api/v1/stats/ratings?year=2023",
    "/api/v1/stats/admissions?year=2024",
    "/api/v1/stats/discipline?year=2024",
    "/api/v1/stats/insignia?year=2024",
    "/api/v1/stats/checks?year=2023",
    "/api/v1/reports/annual?year=2024",
];

#[tokio::test]
async fn a_caller_naming_no_organisation_gets_their_own_scope() {
    use party_records::domain::Role;
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut scoped = Vec::new();
    for (name, role) in [
        ("c", Role::Clerk),
        ("i", Role::Inspector),
        ("a", Role::Auditor),
    ] {
        app.insert_user(name, role, Some("D1"));
        scoped.push(app.token(name).await);
    }
    for path in UNNAMED {
        // No credentials: 401 as for every statistic.
        app.call(reqwest::Method::GET, path, None, None)
            .await
            .expect_problem(401, None);
        // An admin: the whole party.
        let whole = app.get(path, &admin).await;
        whole.expect(200);
        assert_eq!(whole.body["organization"], Value::Null, "{path}");
        // The others: their scope organisation, as if they had named it.
        let named = path.replacen('?', "?organization=D1&", 1);
        for token in &scoped {
            let own = app.get(path, token).await;
            own.expect(200);
            assert_eq!(own.body["organization"], "D1", "{path}");
            assert_eq!(own.body, app.get(&named, token).await.body, "{path}");
        }
    }
    let structure = app.get(UNNAMED[0], &scoped[2]).await;
    assert_eq!(structure.body["members"], 5);
}

#[tokio::test]
async fn an_empty_organization_is_a_bad_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for path in [
        "/api/v1/reports/annual?organization=&year=2024",
        "/api/v1/reports/annual?organization=%20&year=2024",
        "/api/v1/stats/structure?organization=",
        "/api/v1/stats/checks?organization=&year=2024",
    ] {
        app.get(path, &admin)
            .await
            .expect_problem(400, Some("required"));
    }
    // The year is still required without an organisation.
    app.get("/api/v1/reports/annual", &admin)
        .await
        .expect_problem(400, None);
}
