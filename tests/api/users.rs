//! User management by administrators.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn administrators_create_read_list_and_update_users() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.org(
        &admin,
        "HG.VT",
        "subordinate_committee",
        Some("HG"),
        "2004-01-01",
    )
    .await;

    let created = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": " Hoa.Nguyen ", "password": "a long enough password", "role": "clerk", "scope": "HG.VT"}),
        )
        .await;
    created.expect(201);
    assert_eq!(created.header("location"), Some("/api/v1/users/hoa.nguyen"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["username"], "hoa.nguyen");
    assert_eq!(created.body["role"], "clerk");
    assert_eq!(created.body["scope"], "HG.VT");
    assert_eq!(created.body["active"], true);
    assert!(created.body.get("password").is_none() && created.body.get("password_hash").is_none());

    app.token("admin").await;
    let login = app.login("hoa.nguyen", "a long enough password").await;
    login.expect(200);

    let list = app.get("/api/v1/users?role=clerk", &admin).await;
    list.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let list = app.get("/api/v1/users?limit=1", &admin).await;
    assert_eq!(list.body["items"][0]["username"], "admin");
    let cursor = list.body["next_cursor"].as_str().unwrap().to_string();
    let next = app
        .get(&format!("/api/v1/users?limit=1&cursor={cursor}"), &admin)
        .await;
    assert_eq!(next.body["items"][0]["username"], "hoa.nguyen");
    assert!(next.body["next_cursor"].is_null());

    // Becoming an administrator drops the scope.
    let updated = app
        .patch(
            "/api/v1/users/hoa.nguyen",
            &admin,
            "\"1\"",
            json!({"role": "admin"}),
        )
        .await;
    updated.expect(200);
    assert_eq!(updated.body["scope"], serde_json::Value::Null);
    assert_eq!(updated.header("etag"), Some("\"2\""));
    // And back to clerk needs a scope.
    app.patch(
        "/api/v1/users/hoa.nguyen",
        &admin,
        "\"2\"",
        json!({"role": "clerk"}),
    )
    .await
    .expect_problem(422, Some("user.scope_required"));
    app.patch(
        "/api/v1/users/hoa.nguyen",
        &admin,
        "\"2\"",
        json!({"role": "clerk", "scope": "HG"}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn updates_need_the_current_etag() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/users/admin",
            Some(&admin),
            Some(json!({"active": true})),
        )
        .await;
    answer.expect_problem(428, None);
    app.patch(
        "/api/v1/users/admin",
        &admin,
        "\"7\"",
        json!({"active": true}),
    )
    .await
    .expect_problem(412, None);
    app.patch(
        "/api/v1/users/admin",
        &admin,
        "W/\"1\"",
        json!({"active": true}),
    )
    .await
    .expect(200);
    app.patch(
        "/api/v1/users/nobody",
        &admin,
        "\"1\"",
        json!({"active": true}),
    )
    .await
    .expect_problem(404, None);
}

#[tokio::test]
async fn bad_user_input_is_refused_with_the_field_and_rule() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    let cases = [
        (
            json!({"username": "x", "password": "a long enough password", "role": "clerk", "scope": "HG"}),
            "pattern",
        ),
        (
            json!({"username": "bad name", "password": "a long enough password", "role": "clerk", "scope": "HG"}),
            "pattern",
        ),
        (
            json!({"username": "clerk1", "password": "short", "role": "clerk", "scope": "HG"}),
            "length",
        ),
        (
            json!({"username": "clerk1", "password": "a long enough password", "role": "clerk"}),
            "user.scope_required",
        ),
        (
            json!({"username": "admin2", "password": "a long enough password", "role": "admin", "scope": "HG"}),
            "user.admin_has_no_scope",
        ),
        (
            json!({"username": "clerk1", "password": "a long enough password", "role": "clerk", "scope": "NOPE"}),
            "user.scope_not_found",
        ),
        (
            json!({"username": "admin", "password": "a long enough password", "role": "admin"}),
            "user.username_taken",
        ),
    ];
    for (body, code) in cases {
        app.post("/api/v1/users", &admin, body)
            .await
            .expect_problem(422, Some(code));
    }
    // An unknown role is not even readable.
    app.post(
        "/api/v1/users",
        &admin,
        json!({"username": "clerk1", "password": "a long enough password", "role": "boss", "scope": "HG"}),
    )
    .await
    .expect_problem(400, None);
}

#[tokio::test]
async fn an_administrator_resets_a_password() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.insert_user("clerk1", party_records::domain::Role::Clerk, Some("HG"));
    let old_token = app.token("clerk1").await;
    app.post(
        "/api/v1/users/clerk1/password",
        &admin,
        json!({"password": "short"}),
    )
    .await
    .expect_problem(422, Some("length"));
    app.post(
        "/api/v1/users/clerk1/password",
        &admin,
        json!({"password": "the reset password"}),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", &old_token)
        .await
        .expect_problem(401, None);
    app.login("clerk1", "the reset password").await.expect(200);
    app.post(
        "/api/v1/users/nobody/password",
        &admin,
        json!({"password": "the reset password"}),
    )
    .await
    .expect_problem(404, None);
}
