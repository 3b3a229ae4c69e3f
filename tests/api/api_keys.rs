//! API keys for scripts.

use party_records::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_key_is_shown_once_authenticates_and_can_be_revoked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.insert_user("clerk1", Role::Clerk, Some("HG"));
    let clerk = app.token("clerk1").await;

    let created = app
        .post(
            "/api/v1/api-keys",
            &clerk,
            json!({"name": "nightly import"}),
        )
        .await;
    created.expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    let id = created.body["id"].as_i64().unwrap();
    assert!(secret.starts_with("prk_"));
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/api-keys/{id}").as_str())
    );
    assert_eq!(created.body["role"], "clerk");
    assert_eq!(created.body["scope"], "HG");

    let list = app.get("/api/v1/api-keys", &clerk).await;
    list.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(
        list.body["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );

    // The key carries its owner's role and scope.
    let me = app.get("/api/v1/me", &secret).await;
    me.expect(200);
    assert_eq!(me.body["username"], "clerk1");
    app.get("/api/v1/users", &secret)
        .await
        .expect_problem(403, None);

    // Someone else cannot revoke it; its owner can.
    app.insert_user("clerk2", Role::Clerk, Some("HG"));
    let other = app.token("clerk2").await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        Some(&other),
        None,
    )
    .await
    .expect_problem(404, None);
    app.call(
        Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        Some(&clerk),
        None,
    )
    .await
    .expect(204);
    app.get("/api/v1/me", &secret)
        .await
        .expect_problem(401, None);
    let list = app.get("/api/v1/api-keys", &clerk).await;
    assert!(list.body["items"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn only_administrators_see_and_revoke_other_peoples_keys() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.insert_user("clerk1", Role::Clerk, Some("HG"));
    app.insert_user("clerk2", Role::Clerk, Some("HG"));
    let clerk = app.token("clerk1").await;
    let other = app.token("clerk2").await;
    let key = app
        .post("/api/v1/api-keys", &clerk, json!({"name": "k"}))
        .await;
    let id = key.body["id"].as_i64().unwrap();

    app.get("/api/v1/api-keys?username=clerk1", &other)
        .await
        .expect_problem(403, None);
    let seen = app.get("/api/v1/api-keys?username=clerk1", &admin).await;
    seen.expect(200);
    assert_eq!(seen.body["items"][0]["id"], id);
    app.call(
        Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        Some(&admin),
        None,
    )
    .await
    .expect(204);
    app.call(
        Method::DELETE,
        "/api/v1/api-keys/999999",
        Some(&admin),
        None,
    )
    .await
    .expect_problem(404, None);
    app.call(
        Method::DELETE,
        "/api/v1/api-keys/not-a-number",
        Some(&admin),
        None,
    )
    .await
    .expect_problem(404, None);
}

#[tokio::test]
async fn expiry_must_be_in_the_future_and_expired_keys_do_not_work() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.post(
        "/api/v1/api-keys",
        &admin,
        json!({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .expect_problem(422, Some("api_key.expiry_in_past"));
    app.post("/api/v1/api-keys", &admin, json!({"name": ""}))
        .await
        .expect_problem(422, Some("length"));
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let key = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "brief", "expires_at": soon}),
        )
        .await;
    key.expect(201);
    let secret = key.body["secret"].as_str().unwrap().to_string();
    app.get("/api/v1/me", &secret).await.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    app.get("/api/v1/me", &secret)
        .await
        .expect_problem(401, None);
}
