//! The member register over HTTP: records, rules, lifecycle, history, party age, lists.

use party_records::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Answer, TestApp};

/// HG ─┬─ VT ── VT.P1 (grassroots committee) ─┬─ VT.P1.A (sub-branch)
///     │                                      └─ VT.P1.B (sub-branch)
///     └─ NB ── NB.CB (grassroots branch)
async fn province(app: &TestApp, admin: &str) {
    app.org(admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.org(
        admin,
        "VT",
        "subordinate_committee",
        Some("HG"),
        "2004-01-01",
    )
    .await;
    app.org(
        admin,
        "NB",
        "subordinate_committee",
        Some("HG"),
        "2004-01-01",
    )
    .await;
    app.org(
        admin,
        "VT.P1",
        "grassroots_committee",
        Some("VT"),
        "2004-01-01",
    )
    .await;
    app.org(admin, "VT.P1.A", "sub_branch", Some("VT.P1"), "2004-01-01")
        .await;
    app.org(admin, "VT.P1.B", "sub_branch", Some("VT.P1"), "2004-01-01")
        .await;
    app.org(
        admin,
        "NB.CB",
        "grassroots_branch",
        Some("NB"),
        "2004-01-01",
    )
    .await;
}

fn member(profile: &str, name: &str, org: &str) -> Value {
    json!({
        "profile_number": profile,
        "full_name": name,
        "gender": "female",
        "born_on": "1990-03-15",
        "ethnicity": "Kinh",
        "organization_code": org,
        "admitted_on": "2015-05-19",
        "ceremony_on": "2015-06-01",
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post("/api/v1/members", token, body).await
}

fn profiles(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["profile_number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_and_read_a_member() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut body = member("HG-0001", "  Nguyễn Thị Hoa ", "VT.P1.A");
    body["card_number"] = json!("52.001234");
    body["national_id"] = json!("093190001234");
    let created = create(&app, &admin, body).await;
    created.expect(201);
    assert_eq!(created.header("location"), Some("/api/v1/members/HG-0001"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let m = &created.body;
    assert_eq!(m["full_name"], "Nguyễn Thị Hoa");
    assert_eq!(m["organization_code"], "VT.P1.A");
    assert_eq!(m["organization_since"], "2015-05-19");
    assert_eq!(m["status"], "probationary");
    assert_eq!(m["official_on"], Value::Null);
    assert_eq!(m["exempt"], false);
    assert_eq!(m["birth_year"], 1990);
    assert_eq!(m["national_id"], "093190001234");

    let got = app.get("/api/v1/members/HG-0001", &admin).await;
    got.expect(200);
    assert_eq!(got.body, created.body);
    app.get("/api/v1/members/NOPE", &admin)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn auditors_see_personal_identifiers_masked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut body = member("HG-0001", "Nguyễn Thị Hoa", "VT.P1.A");
    body["card_number"] = json!("52001234");
    body["national_id"] = json!("093190001234");
    create(&app, &admin, body).await.expect(201);
    app.insert_user("audit", Role::Auditor, Some("HG"));
    let auditor = app.token("audit").await;
    for answer in [app.get("/api/v1/members/HG-0001", &auditor).await, {
        let list = app.get("/api/v1/members", &auditor).await;
        Answer {
            body: list.body["items"][0].clone(),
            ..list
        }
    }] {
        assert_eq!(answer.body["national_id"], "*********234");
        assert_eq!(answer.body["card_number"], "*****234");
        assert_eq!(answer.body["born_on"], Value::Null);
        assert_eq!(answer.body["birth_year"], 1990);
        assert_eq!(answer.body["full_name"], "Nguyễn Thị Hoa");
    }
}

#[tokio::test]
async fn the_member_rules_answer_422_with_their_codes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.org(
        &admin,
        "NB.OLD",
        "grassroots_branch",
        Some("NB"),
        "2004-01-01",
    )
    .await;
    app.post(
        "/api/v1/organizations/NB.OLD/dissolve",
        &admin,
        json!({"on": "2010-01-01"}),
    )
    .await
    .expect(200);
    let mut taken = member("HG-0001", "Lê Văn An", "VT.P1.A");
    taken["card_number"] = json!("C-1");
    create(&app, &admin, taken).await.expect(201);

    let with = |changes: Value| {
        let mut body = member("HG-0002", "Trần Văn Bình", "VT.P1.A");
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"profile_number": "HG-0001"})),
            "profile_number",
            "member.profile_number_taken",
        ),
        (
            with(json!({"card_number": "C-1"})),
            "card_number",
            "member.card_number_taken",
        ),
        // 17 years and 11 months old at admission.
        (
            with(json!({"born_on": "1997-06-20"})),
            "admitted_on",
            "member.admission_age",
        ),
        // Over 60 without an override reason.
        (
            with(json!({"born_on": "1955-01-01"})),
            "admitted_on",
            "member.admission_age",
        ),
        (
            with(json!({"ceremony_on": "2015-05-01"})),
            "ceremony_on",
            "member.dates_out_of_order",
        ),
        (
            with(json!({"organization_code": "VT.P1"})),
            "organization_code",
            "member.organization_not_branch",
        ),
        (
            with(json!({"organization_code": "NB.OLD"})),
            "organization_code",
            "member.organization_not_existing",
        ),
        (
            with(json!({"organization_code": "NOPE"})),
            "organization_code",
            "member.organization_not_found",
        ),
        (
            with(json!({"organization_since": "2010-01-01"})),
            "organization_since",
            "member.before_admission",
        ),
        (
            with(json!({"official_on": "2016-05-01"})),
            "official_on",
            "member.official_too_early",
        ),
        (
            with(json!({"official_on": "2016-07-01"})),
            "official_on",
            "member.official_date_fixed",
        ),
        (
            with(json!({"national_id": "12345"})),
            "national_id",
            "pattern",
        ),
        (
            with(json!({"profile_number": "HG 2"})),
            "profile_number",
            "pattern",
        ),
        (with(json!({"full_name": ""})), "full_name", "length"),
    ];
    for (body, field, code) in cases {
        let answer = create(&app, &admin, body.clone()).await;
        answer.expect_problem(422, Some(code));
        let error = answer.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["code"] == code)
            .unwrap();
        assert_eq!(error["field"], field, "{body}");
    }
    // Bad types are 400.
    create(&app, &admin, with(json!({"gender": "other"})))
        .await
        .expect_problem(400, None);
    create(&app, &admin, with(json!({"born_on": "1990-02-30"})))
        .await
        .expect_problem(400, None);
    // Over 60 with an override reason is recorded, and the reason is kept in the history.
    let created = create(
        &app,
        &admin,
        with(json!({"born_on": "1955-01-01", "override_reason": "Ban Bí thư đồng ý, công văn 12"})),
    )
    .await;
    created.expect(201);
    let history = app.get("/api/v1/members/HG-0002/history", &admin).await;
    assert_eq!(
        history.body["events"][0]["details"]["override_reason"],
        "Ban Bí thư đồng ý, công văn 12"
    );
    // The database holds the two accepted members only.
    let all = app.get("/api/v1/members", &admin).await;
    assert_eq!(profiles(&all.body).len(), 2);
}

#[tokio::test]
async fn recognition_is_exactly_twelve_months_after_the_ceremony() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    let recognise = |body: Value| app.post("/api/v1/members/HG-0001/recognition", &admin, body);
    recognise(json!({"official_on": "2016-05-31"}))
        .await
        .expect_problem(422, Some("member.official_too_early"));
    recognise(json!({"official_on": "2016-09-01"}))
        .await
        .expect_problem(422, Some("member.official_date_fixed"));
    // Approved late: still the anniversary of the ceremony.
    let done = recognise(json!({})).await;
    done.expect(200);
    assert_eq!(done.body["official_on"], "2016-06-01");
    assert_eq!(done.body["status"], "full");
    recognise(json!({}))
        .await
        .expect_problem(422, Some("member.already_official"));

    // A probation that has not ended yet cannot be closed.
    let mut recent = member("HG-0002", "Lê Thị Bé", "VT.P1.A");
    let today = chrono::Utc::now().date_naive();
    recent["admitted_on"] = json!(today.to_string());
    recent["ceremony_on"] = json!(today.to_string());
    recent["organization_since"] = json!(today.to_string());
    create(&app, &admin, recent).await.expect(201);
    app.post("/api/v1/members/HG-0002/recognition", &admin, json!({}))
        .await
        .expect_problem(422, Some("member.official_too_early"));
    // Without a ceremony there is no probation to end.
    let mut no_ceremony = member("HG-0003", "Lê Thị Cúc", "VT.P1.A");
    no_ceremony.as_object_mut().unwrap().remove("ceremony_on");
    create(&app, &admin, no_ceremony).await.expect(201);
    app.post("/api/v1/members/HG-0003/recognition", &admin, json!({}))
        .await
        .expect_problem(422, Some("member.ceremony_missing"));
}

#[tokio::test]
async fn transfers_move_the_count_and_keep_the_past() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    let transfer = |body: Value| app.post("/api/v1/members/HG-0001/transfers", &admin, body);

    transfer(json!({"organization_code": "VT.P1.A", "on": "2020-01-01"}))
        .await
        .expect_problem(422, Some("member.same_organization"));
    transfer(json!({"organization_code": "NB.CB", "on": "2015-05-19"}))
        .await
        .expect_problem(422, Some("member.overlapping_membership"));
    transfer(json!({"organization_code": "VT.P1", "on": "2020-01-01"}))
        .await
        .expect_problem(422, Some("member.organization_not_branch"));
    let moved = transfer(json!({"organization_code": "NB.CB", "on": "2020-01-01"})).await;
    moved.expect(200);
    assert_eq!(moved.body["organization_code"], "NB.CB");
    assert_eq!(moved.body["organization_since"], "2020-01-01");

    let under = |org: &str, on: &str| format!("/api/v1/members?under={org}&on={on}");
    assert_eq!(
        profiles(&app.get(&under("VT", "2019-12-31"), &admin).await.body),
        ["HG-0001"]
    );
    assert!(profiles(&app.get(&under("VT", "2020-01-01"), &admin).await.body).is_empty());
    assert_eq!(
        profiles(&app.get(&under("NB", "2020-01-01"), &admin).await.body),
        ["HG-0001"]
    );
    let then = app.get(&under("HG", "2019-06-01"), &admin).await;
    assert_eq!(
        then.body["items"][0]["organization_code"], "VT.P1.A",
        "where they were that day"
    );

    // Temporary activity elsewhere does not move the count.
    let temp = transfer(json!({"organization_code": "VT.P1.B", "on": "2021-01-01", "kind": "temporary", "until": "2021-09-01"})).await;
    temp.expect(200);
    assert_eq!(temp.body["organization_code"], "NB.CB");
    let during = app.get(&under("NB", "2021-03-01"), &admin).await;
    assert_eq!(profiles(&during.body), ["HG-0001"]);
    assert_eq!(
        during.body["items"][0]["temporary_organization_code"],
        "VT.P1.B"
    );
    assert!(profiles(&app.get(&under("VT", "2021-03-01"), &admin).await.body).is_empty());
    transfer(json!({"organization_code": "VT.P1.B", "on": "2022-01-01", "until": "2022-06-01"}))
        .await
        .expect_problem(422, Some("member.official_transfer_has_no_end"));
}

#[tokio::test]
async fn exemption_leaving_and_what_comes_after() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    create(&app, &admin, member("HG-0002", "Lê Văn Bảo", "VT.P1.A"))
        .await
        .expect(201);

    app.post(
        "/api/v1/members/HG-0001/exemptions/end",
        &admin,
        json!({"on": "2020-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.not_exempt"));
    let exempt = app
        .post(
            "/api/v1/members/HG-0001/exemptions",
            &admin,
            json!({"starts_on": "2020-01-01", "reason": "tuổi cao, sức khỏe yếu"}),
        )
        .await;
    exempt.expect(200);
    assert_eq!(exempt.body["exempt"], true);
    assert_eq!(exempt.body["exempt_since"], "2020-01-01");
    app.post(
        "/api/v1/members/HG-0001/exemptions",
        &admin,
        json!({"starts_on": "2021-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.periods_overlap"));
    let list = app.get("/api/v1/members?exempt=true", &admin).await;
    assert_eq!(profiles(&list.body), ["HG-0001"]);
    let list = app.get("/api/v1/members?exempt=false", &admin).await;
    assert_eq!(profiles(&list.body), ["HG-0002"]);
    let list = app
        .get("/api/v1/members?exempt=true&on=2019-06-01", &admin)
        .await;
    assert!(profiles(&list.body).is_empty());

    app.post(
        "/api/v1/members/HG-0001/leave",
        &admin,
        json!({"reason": "expelled", "on": "2024-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.expulsion_needs_discipline"));
    app.post(
        "/api/v1/members/HG-0001/leave",
        &admin,
        json!({"reason": "resigned", "on": "2024-01-01"}),
    )
    .await
    .expect_problem(400, None);
    let left = app
        .post(
            "/api/v1/members/HG-0001/leave",
            &admin,
            json!({"reason": "deceased", "on": "2024-03-10"}),
        )
        .await;
    left.expect(200);
    assert_eq!(left.body["status"], "left");
    assert_eq!(left.body["leave_reason"], "deceased");
    assert_eq!(left.body["exempt"], false);
    assert_eq!(
        left.body["organization_code"], "VT.P1.A",
        "the last organisation"
    );

    let on_roll = |on: &str| format!("/api/v1/members?under=HG&on={on}");
    assert_eq!(
        profiles(&app.get(&on_roll("2024-03-09"), &admin).await.body),
        ["HG-0001", "HG-0002"]
    );
    assert_eq!(
        profiles(&app.get(&on_roll("2024-03-10"), &admin).await.body),
        ["HG-0002"]
    );
    assert_eq!(
        profiles(&app.get("/api/v1/members?status=left", &admin).await.body),
        ["HG-0001"]
    );

    // Nothing happens after leaving.
    for (path, body) in [
        (
            "transfers",
            json!({"organization_code": "NB.CB", "on": "2024-06-01"}),
        ),
        ("exemptions", json!({"starts_on": "2024-06-01"})),
        ("leave", json!({"reason": "removed", "on": "2024-06-01"})),
        (
            "positions",
            json!({"title": "Bí thư chi bộ", "starts_on": "2024-06-01"}),
        ),
    ] {
        app.post(&format!("/api/v1/members/HG-0001/{path}"), &admin, body)
            .await
            .expect_problem(422, Some("member.left_the_roll"));
    }
}

#[tokio::test]
async fn party_age_subtracts_recorded_gaps() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut body = member("HG-0001", "Lê Văn An", "VT.P1.A");
    body["born_on"] = json!("1960-01-01");
    body["admitted_on"] = json!("1994-05-19");
    body["ceremony_on"] = json!("1994-06-01");
    body["organization_since"] = json!("2004-01-01");
    create(&app, &admin, body).await.expect(201);

    let age = app
        .get("/api/v1/members/HG-0001/party-age?on=2024-05-19", &admin)
        .await;
    age.expect(200);
    assert_eq!(
        (
            age.body["years"].as_i64(),
            age.body["months"].as_i64(),
            age.body["days"].as_i64()
        ),
        (Some(30), Some(0), Some(0))
    );

    app.post(
        "/api/v1/members/HG-0001/party-age-gaps",
        &admin,
        json!({"reason": "transfer_gap", "starts_on": "2000-01-01", "ends_on": "2001-01-01", "note": "chậm nộp giấy giới thiệu"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/members/HG-0001/party-age-gaps",
        &admin,
        json!({"reason": "lost_contact", "starts_on": "2000-06-01", "ends_on": "2002-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.periods_overlap"));
    app.post(
        "/api/v1/members/HG-0001/party-age-gaps",
        &admin,
        json!({"reason": "lost_contact", "starts_on": "2003-06-01", "ends_on": "2003-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.period_out_of_order"));

    let age = app
        .get("/api/v1/members/HG-0001/party-age?on=2024-05-19", &admin)
        .await;
    assert_eq!(age.body["gap_days"], 366);
    assert_eq!(age.body["years"], 28);
    assert_eq!(age.body["gaps"][0]["reason"], "transfer_gap");
    let age = app
        .get("/api/v1/members/HG-0001/party-age?on=2025-05-20", &admin)
        .await;
    assert_eq!(age.body["years"], 30);
    app.get("/api/v1/members/HG-0001/party-age?on=1990-01-01", &admin)
        .await
        .expect_problem(422, Some("member.before_admission"));
    app.get("/api/v1/members/HG-0001/party-age?on=yesterday", &admin)
        .await
        .expect_problem(400, None);
}

#[tokio::test]
async fn positions_and_the_history_in_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    app.post(
        "/api/v1/members/HG-0001/positions",
        &admin,
        json!({"title": "Bí thư chi bộ", "organization_code": "VT.P1.A", "starts_on": "2018-01-01"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/members/HG-0001/positions",
        &admin,
        json!({"title": "Bí thư chi bộ", "starts_on": "2018-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.position_taken"));
    app.post(
        "/api/v1/members/HG-0001/positions/end",
        &admin,
        json!({"title": "Phó bí thư", "on": "2020-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.position_not_found"));
    app.post(
        "/api/v1/members/HG-0001/positions/end",
        &admin,
        json!({"title": "Bí thư chi bộ", "on": "2017-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.period_out_of_order"));
    app.post(
        "/api/v1/members/HG-0001/positions/end",
        &admin,
        json!({"title": "Bí thư chi bộ", "on": "2020-01-01"}),
    )
    .await
    .expect(200);
    app.post("/api/v1/members/HG-0001/recognition", &admin, json!({}))
        .await
        .expect(200);
    app.post(
        "/api/v1/members/HG-0001/transfers",
        &admin,
        json!({"organization_code": "NB.CB", "on": "2019-01-01"}),
    )
    .await
    .expect(200);

    let history = app.get("/api/v1/members/HG-0001/history", &admin).await;
    history.expect(200);
    let kinds: Vec<(&str, &str)> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["on"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("2015-05-19", "admitted"),
            ("2016-06-01", "recognised"),
            ("2018-01-01", "position_started"),
            ("2019-01-01", "transferred"),
            ("2020-01-01", "position_ended"),
        ]
    );
    assert_eq!(history.body["events"][0]["recorded_by"], "admin");
    assert_eq!(
        history.body["positions"],
        json!([{"title": "Bí thư chi bộ", "organization_code": "VT.P1.A", "starts_on": "2018-01-01", "ends_on": "2020-01-01"}])
    );
}

#[tokio::test]
async fn updates_need_if_match_and_keep_the_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    app.post("/api/v1/members/HG-0001/recognition", &admin, json!({}))
        .await
        .expect(200);
    let current = app.get("/api/v1/members/HG-0001", &admin).await;
    let etag = current.header("etag").unwrap().to_string();
    app.call(
        reqwest::Method::PATCH,
        "/api/v1/members/HG-0001",
        Some(&admin),
        Some(json!({"religion": "Phật giáo"})),
    )
    .await
    .expect_problem(428, None);
    app.patch(
        "/api/v1/members/HG-0001",
        &admin,
        "\"999\"",
        json!({"religion": "Phật giáo"}),
    )
    .await
    .expect_problem(412, None);
    app.patch(
        "/api/v1/members/HG-0001",
        &admin,
        &etag,
        json!({"ceremony_on": "2015-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.dates_out_of_order"));
    app.patch(
        "/api/v1/members/HG-0001",
        &admin,
        &etag,
        json!({"national_id": "abc"}),
    )
    .await
    .expect_problem(422, Some("pattern"));
    // Moving a full member's ceremony moves the official date with it.
    let updated = app
        .patch(
            "/api/v1/members/HG-0001",
            &admin,
            &etag,
            json!({"ceremony_on": "2015-07-01", "religion": "Phật giáo", "full_name": "Lê Văn Ân", "card_number": null}),
        )
        .await;
    updated.expect(200);
    assert_eq!(updated.body["official_on"], "2016-07-01");
    assert_eq!(updated.body["religion"], "Phật giáo");
    assert_eq!(updated.body["full_name"], "Lê Văn Ân");
    // The stale version no longer works.
    app.patch(
        "/api/v1/members/HG-0001",
        &admin,
        &etag,
        json!({"religion": null}),
    )
    .await
    .expect_problem(412, None);
    let history = app.get("/api/v1/members/HG-0001/history", &admin).await;
    let last = history.body["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "updated");
    assert!(last["details"]["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("ceremony_on")));
}

#[tokio::test]
async fn lists_search_without_diacritics_sort_the_vietnamese_way_and_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let names = [
        ("P1", "Nguyễn Thị Hoa", "VT.P1.A", "2015-05-19"),
        ("P2", "Trần Văn Bình", "VT.P1.A", "2016-05-19"),
        ("P3", "Lê Văn An", "VT.P1.B", "2015-05-19"),
        ("P4", "Đặng Thị Hòa", "NB.CB", "2015-05-19"),
        ("P5", "Nguyễn Văn An", "NB.CB", "2016-05-19"),
        ("P6", "Phạm Đức Ánh", "NB.CB", "2015-05-19"),
    ];
    for (profile, name, org, admitted) in names {
        let mut body = member(profile, name, org);
        body["admitted_on"] = json!(admitted);
        body["ceremony_on"] = json!(admitted);
        create(&app, &admin, body).await.expect(201);
    }
    let ordered = app.get("/api/v1/members?limit=500", &admin).await;
    let full_names: Vec<&str> = ordered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        full_names,
        [
            "Lê Văn An",
            "Nguyễn Văn An",
            "Phạm Đức Ánh",
            "Trần Văn Bình",
            "Nguyễn Thị Hoa",
            "Đặng Thị Hòa"
        ]
    );
    let search = |q: &str| format!("/api/v1/members?q={q}");
    assert_eq!(
        profiles(&app.get(&search("nguyen%20thi%20hoa"), &admin).await.body),
        ["P1"]
    );
    assert_eq!(
        profiles(&app.get(&search("dang"), &admin).await.body),
        ["P4"]
    );
    assert_eq!(
        profiles(&app.get(&search("HOA"), &admin).await.body),
        ["P1", "P4"]
    );
    assert_eq!(
        profiles(&app.get(&search("an"), &admin).await.body),
        ["P3", "P5", "P6"]
    );
    assert_eq!(
        profiles(
            &app.get("/api/v1/members?admitted_year=2016", &admin)
                .await
                .body
        ),
        ["P5", "P2"]
    );
    assert_eq!(
        profiles(&app.get("/api/v1/members?under=VT", &admin).await.body),
        ["P3", "P2", "P1"]
    );
    assert_eq!(
        profiles(
            &app.get("/api/v1/members?status=probationary", &admin)
                .await
                .body
        )
        .len(),
        6
    );
    app.get("/api/v1/members?status=retired", &admin)
        .await
        .expect_problem(400, None);
    app.get("/api/v1/members?admitted_year=20", &admin)
        .await
        .expect_problem(400, None);
    app.get("/api/v1/members?under=NOPE", &admin)
        .await
        .expect_problem(404, None);

    // Pages of 2 walk the same order with nothing lost or repeated.
    let mut seen = Vec::new();
    let mut path = "/api/v1/members?limit=2".to_string();
    loop {
        let page = app.get(&path, &admin).await;
        page.expect(200);
        seen.extend(profiles(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/members?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, profiles(&ordered.body));
    app.get("/api/v1/members?cursor=bm90LWpzb24", &admin)
        .await
        .expect_problem(400, None);
}

#[tokio::test]
async fn clerks_work_within_their_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    create(&app, &admin, member("HG-0001", "Lê Văn An", "VT.P1.A"))
        .await
        .expect(201);
    create(&app, &admin, member("HG-0002", "Lê Văn Bảo", "NB.CB"))
        .await
        .expect(201);
    app.insert_user("vt", Role::Clerk, Some("VT"));
    let clerk = app.token("vt").await;
    app.get("/api/v1/members/HG-0001", &clerk).await.expect(200);
    app.get("/api/v1/members/HG-0002", &clerk)
        .await
        .expect_problem(404, None);
    assert_eq!(
        profiles(&app.get("/api/v1/members", &clerk).await.body),
        ["HG-0001"]
    );
    create(&app, &clerk, member("HG-0003", "Lê Văn Cường", "NB.CB"))
        .await
        .expect_problem(422, Some("member.organization_not_found"));
    create(&app, &clerk, member("HG-0003", "Lê Văn Cường", "VT.P1.B"))
        .await
        .expect(201);
    // A transfer out of the clerk's scope cannot be aimed there by the clerk.
    app.post(
        "/api/v1/members/HG-0001/transfers",
        &clerk,
        json!({"organization_code": "NB.CB", "on": "2020-01-01"}),
    )
    .await
    .expect_problem(422, Some("member.organization_not_found"));
    // After an administrator moves the member out, the clerk no longer sees them.
    app.post(
        "/api/v1/members/HG-0001/transfers",
        &admin,
        json!({"organization_code": "NB.CB", "on": "2020-01-01"}),
    )
    .await
    .expect(200);
    app.get("/api/v1/members/HG-0001", &clerk)
        .await
        .expect_problem(404, None);
}
