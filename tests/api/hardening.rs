//! Cases found in review: races on sign-in, keys minting keys, overrides by clerks, the effects
//! that an annulled expulsion must restore, and rules that hold whichever record comes second.

use party_records::domain::Role;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, PASSWORD};

async fn branch_with_member(app: &TestApp, admin: &str) {
    app.org(admin, "HG", "provincial_committee", None, "1990-01-01")
        .await;
    app.org(admin, "CB", "grassroots_branch", Some("HG"), "1990-01-01")
        .await;
    let body = json!({"profile_number": "M1", "full_name": "Nguyễn Văn Một", "gender": "male",
        "born_on": "1960-01-01", "organization_code": "CB", "admitted_on": "1995-01-01",
        "ceremony_on": "1995-01-01", "official_on": "1996-01-01"});
    app.post("/api/v1/members", admin, body).await.expect(201);
}

#[tokio::test]
async fn concurrent_wrong_passwords_still_lock_the_account() {
    let app = spawn_app().await;
    app.admin().await;
    let attempts = (0..12).map(|_| app.login("admin", "not the password"));
    for answer in futures_util::future::join_all(attempts).await {
        answer.expect_problem(401, None);
    }
    app.login("admin", PASSWORD).await.expect_problem(401, None);
}

#[tokio::test]
async fn an_api_key_cannot_create_api_keys() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let key = app
        .post("/api/v1/api-keys", &admin, json!({"name": "script"}))
        .await;
    let secret = key.body["secret"].as_str().unwrap().to_string();
    app.post("/api/v1/api-keys", &secret, json!({"name": "forever"}))
        .await
        .expect_problem(403, None);
}

#[tokio::test]
async fn only_administrators_override_member_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.insert_user("clerk", Role::Clerk, Some("HG"));
    let clerk = app.token("clerk").await;
    let old = json!({"profile_number": "M2", "full_name": "Lê Văn Già", "gender": "male",
        "born_on": "1950-01-01", "organization_code": "CB", "admitted_on": "2015-01-01",
        "override_reason": "tự cho phép"});
    app.post("/api/v1/members", &clerk, old.clone())
        .await
        .expect_problem(403, None);
    app.post("/api/v1/members", &admin, old).await.expect(201);
}

#[tokio::test]
async fn a_posthumous_award_counts_the_party_age_reached_in_life() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    // Admitted 1995, died 2020 at 25 years of party age: no 30-year insignia in 2026.
    app.post(
        "/api/v1/members/M1/leave",
        &admin,
        json!({"reason": "deceased", "on": "2020-01-01"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/insignia-awards",
        &admin,
        json!({"profile_number": "M1", "tier": 30, "awarded_on": "2026-02-03", "posthumous": true}),
    )
    .await
    .expect_problem(422, Some("insignia.too_early"));
}

#[tokio::test]
async fn an_annulled_expulsion_restores_exemption_and_positions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.post(
        "/api/v1/members/M1/exemptions",
        &admin,
        json!({"starts_on": "2020-01-01"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/members/M1/positions",
        &admin,
        json!({"title": "Bí thư chi bộ", "starts_on": "2018-01-01"}),
    )
    .await
    .expect(200);
    let expulsion = app
        .post(
            "/api/v1/disciplinary-actions",
            &admin,
            json!({"subject_type": "member", "subject": "M1", "form": "expulsion", "decision_number": "1-QĐ",
                   "authority_code": "HG", "decided_on": "2025-03-01"}),
        )
        .await;
    expulsion.expect(201);
    let id = expulsion.body["id"].as_i64().unwrap();
    let expelled = app.get("/api/v1/members/M1", &admin).await;
    assert_eq!(expelled.body["status"], "left");
    assert_eq!(expelled.body["exempt"], false);
    app.post(
        &format!("/api/v1/disciplinary-actions/{id}/appeal"),
        &admin,
        json!({"filed_on": "2025-03-10", "outcome": "annulled", "decided_on": "2025-05-01"}),
    )
    .await
    .expect(200);
    let back = app.get("/api/v1/members/M1", &admin).await;
    assert_eq!(back.body["status"], "full");
    assert_eq!(back.body["exempt"], true);
    assert_eq!(back.body["exempt_since"], "2020-01-01");
    let history = app.get("/api/v1/members/M1/history", &admin).await;
    assert_eq!(
        history.body["positions"][0]["ends_on"],
        serde_json::Value::Null
    );
    assert!(history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "reinstated"));
}

#[tokio::test]
async fn dismissal_ends_the_position_held() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.post(
        "/api/v1/members/M1/positions",
        &admin,
        json!({"title": "Bí thư chi bộ", "starts_on": "2018-01-01"}),
    )
    .await
    .expect(200);
    let dismiss = |number: &str| {
        json!({"subject_type": "member", "subject": "M1", "form": "dismissal", "decision_number": number,
               "authority_code": "HG", "decided_on": "2025-03-01"})
    };
    app.post("/api/v1/disciplinary-actions", &admin, dismiss("1"))
        .await
        .expect(201);
    let history = app.get("/api/v1/members/M1/history", &admin).await;
    assert_eq!(history.body["positions"][0]["ends_on"], "2025-03-01");
    app.post("/api/v1/disciplinary-actions", &admin, dismiss("2"))
        .await
        .expect_problem(422, Some("discipline.dismissal_needs_position"));
}

#[tokio::test]
async fn leaving_before_a_recorded_exemption_is_refused_not_a_server_error() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.post(
        "/api/v1/members/M1/exemptions",
        &admin,
        json!({"starts_on": "2025-06-01"}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/members/M1/leave",
        &admin,
        json!({"reason": "deceased", "on": "2025-05-01"}),
    )
    .await
    .expect_problem(422, Some("member.left_the_roll"));
}

#[tokio::test]
async fn an_exemption_written_after_a_rating_keeps_the_rating_rule() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.post(
        "/api/v1/ratings/members",
        &admin,
        json!({"profile_number": "M1", "year": 2025, "level": "good"}),
    )
    .await
    .expect(201);
    let answer = app
        .post(
            "/api/v1/members/M1/exemptions",
            &admin,
            json!({"starts_on": "2025-11-01"}),
        )
        .await;
    answer.expect_problem(422, Some("rating.exempt_member"));
    assert_eq!(answer.body["errors"][0]["field"], "starts_on");
}

#[tokio::test]
async fn a_past_tree_leaves_out_what_has_moved_out_of_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "1990-01-01")
        .await;
    app.org(
        &admin,
        "A",
        "subordinate_committee",
        Some("HG"),
        "1990-01-01",
    )
    .await;
    app.org(
        &admin,
        "B",
        "subordinate_committee",
        Some("HG"),
        "1990-01-01",
    )
    .await;
    app.org(&admin, "X", "grassroots_branch", Some("A"), "1990-01-01")
        .await;
    app.post(
        "/api/v1/organizations/X/move",
        &admin,
        json!({"parent_code": "B", "on": "2025-01-01"}),
    )
    .await
    .expect(200);
    app.insert_user("a", Role::Clerk, Some("A"));
    let clerk = app.token("a").await;
    let then = app
        .get("/api/v1/organizations/A/tree?on=2024-06-01", &clerk)
        .await;
    then.expect(200);
    assert!(
        then.body["children"].as_array().unwrap().is_empty(),
        "{}",
        then.text
    );
    let then_admin = app
        .get("/api/v1/organizations/A/tree?on=2024-06-01", &admin)
        .await;
    assert_eq!(then_admin.body["children"][0]["code"], "X");
}

#[tokio::test]
async fn a_rating_and_a_discipline_sent_together_cannot_both_break_the_rule() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    for round in 0..4 {
        let year = 2020 + round;
        let rating = app.post(
            "/api/v1/ratings/members",
            &admin,
            json!({"profile_number": "M1", "year": year, "level": "good"}),
        );
        let reprimand = app.post(
            "/api/v1/disciplinary-actions",
            &admin,
            json!({"subject_type": "member", "subject": "M1", "form": "reprimand",
                   "decision_number": format!("K-{year}"), "authority_code": "HG",
                   "decided_on": format!("{year}-06-01")}),
        );
        let (rating, reprimand) = tokio::join!(rating, reprimand);
        let statuses = [rating.status.as_u16(), reprimand.status.as_u16()];
        assert!(
            statuses == [201, 422] || statuses == [422, 201],
            "round {round}: {statuses:?} {} {}",
            rating.text,
            reprimand.text
        );
    }
}

#[tokio::test]
async fn two_transfers_sent_together_leave_one_official_membership() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    branch_with_member(&app, &admin).await;
    app.org(&admin, "CB2", "grassroots_branch", Some("HG"), "1990-01-01")
        .await;
    app.org(&admin, "CB3", "grassroots_branch", Some("HG"), "1990-01-01")
        .await;
    let first = app.post(
        "/api/v1/members/M1/transfers",
        &admin,
        json!({"organization_code": "CB2", "on": "2024-01-01"}),
    );
    let second = app.post(
        "/api/v1/members/M1/transfers",
        &admin,
        json!({"organization_code": "CB3", "on": "2024-01-01"}),
    );
    let (first, second) = tokio::join!(first, second);
    let statuses = [first.status.as_u16(), second.status.as_u16()];
    assert!(
        statuses == [200, 422] || statuses == [422, 200],
        "{statuses:?}"
    );
    let roll = app
        .get("/api/v1/members?under=HG&on=2024-06-01", &admin)
        .await;
    assert_eq!(roll.body["items"].as_array().unwrap().len(), 1);
}
