//! Concurrent writers: two clerks who read the same version of a record and change it at the
//! same moment. Exactly one change wins; the other is told (412) instead of being silently
//! overwritten, on both engines (SQLite: one write transaction at a time; PostgreSQL: the row
//! is locked and read again before its version is compared).

use futures_util::future::join_all;
use party_records::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// Five rounds of two simultaneous PATCHes of `path` with the ETag both read.
async fn race(app: &TestApp, admin: &str, tokens: &[String], path: &str, body: fn(usize) -> Value) {
    for round in 0..5 {
        let current = app.get(path, admin).await;
        current.expect(200);
        let etag = current.header("etag").unwrap().to_string();
        let requests = tokens.iter().enumerate().map(|(i, token)| {
            let etag = etag.clone();
            async move { app.patch(path, token, &etag, body(round * 10 + i)).await }
        });
        let answers = join_all(requests).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 412], "{path}, round {round}: {answers:?}");
        answers
            .iter()
            .find(|a| a.status.as_u16() == 412)
            .unwrap()
            .expect_problem(412, None);
        // The record holds the winner's change, one version on.
        let winner = answers.iter().find(|a| a.status.as_u16() == 200).unwrap();
        let now = app.get(path, admin).await;
        assert_eq!(now.body, winner.body, "{path}");
        assert_eq!(
            now.body["version"].as_i64(),
            current.body["version"].as_i64().map(|v| v + 1)
        );
    }
}

#[tokio::test]
async fn two_updates_with_the_same_etag_one_wins_the_other_gets_412() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.org(&admin, "CB", "grassroots_branch", Some("HG"), "2004-01-01")
        .await;
    app.post(
        "/api/v1/members",
        &admin,
        json!({"profile_number": "HG-1", "full_name": "Nguyễn Văn An", "gender": "male",
               "born_on": "1980-01-01", "organization_code": "CB", "admitted_on": "2010-01-01"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/admission-targets",
        &admin,
        json!({"organization_code": "CB", "year": 2024, "target": 1}),
    )
    .await
    .expect(201);
    app.insert_user("clerk-a", Role::Clerk, Some("HG"));
    app.insert_user("clerk-b", Role::Clerk, Some("HG"));
    let tokens = [app.token("clerk-a").await, app.token("clerk-b").await];
    race(
        &app,
        &admin,
        &tokens,
        "/api/v1/members/HG-1",
        |n| json!({"full_name": format!("Nguyễn Văn An {n}")}),
    )
    .await;
    race(
        &app,
        &admin,
        &tokens,
        "/api/v1/organizations/CB",
        |n| json!({"name": format!("Chi bộ {n}")}),
    )
    .await;
    race(
        &app,
        &admin,
        &tokens,
        "/api/v1/admission-targets/CB/2024",
        |n| json!({"target": n + 2}),
    )
    .await;
}
