//! Sign-in, tokens, sessions, lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::prelude::*;
use party_records::db::schema::users;
use party_records::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, PASSWORD};

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::Answer {
    app.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

#[tokio::test]
async fn login_returns_tokens_and_the_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.insert_user("clerk1", Role::Clerk, Some("HG"));

    let answer = app.login("Clerk1", PASSWORD).await; // user names are case-insensitive
    answer.expect(200);
    let body = &answer.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 30 * 24 * 3600);
    assert_eq!(
        body["user"],
        json!({"username": "clerk1", "role": "clerk", "scope": "HG"})
    );
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);

    let me = app
        .get("/api/v1/me", body["access_token"].as_str().unwrap())
        .await;
    me.expect(200);
    assert_eq!(me.body["username"], "clerk1");
    assert_eq!(me.body["scope"], "HG");
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = spawn_app().await;
    app.admin().await;
    let wrong = app.login("admin", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    wrong.expect_problem(401, None);
    unknown.expect_problem(401, None);
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let app = spawn_app().await;
    app.admin().await;
    for _ in 0..5 {
        app.login("admin", "wrong password!")
            .await
            .expect_problem(401, None);
    }
    // Locked: even the right password is refused, with the same answer.
    let locked = app.login("admin", PASSWORD).await;
    locked.expect_problem(401, None);
    let wrong = app.login("admin", "wrong password!").await;
    assert_eq!(locked.body, wrong.body);
    {
        let mut conn = app.pool.get().unwrap();
        let until: Option<chrono::NaiveDateTime> = users::table
            .filter(users::username.eq("admin"))
            .select(users::locked_until)
            .first(&mut conn)
            .unwrap();
        let minutes = (until.unwrap() - party_records::time::now()).num_minutes();
        assert!((14..=15).contains(&minutes), "locked for {minutes} minutes");
        // Fifteen minutes pass.
        diesel::update(users::table.filter(users::username.eq("admin")))
            .set(users::locked_until.eq(Some(
                party_records::time::now() - chrono::Duration::seconds(1),
            )))
            .execute(&mut conn)
            .unwrap();
    }
    app.login("admin", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn four_failures_then_success_resets_the_count() {
    let app = spawn_app().await;
    app.admin().await;
    for _ in 0..4 {
        app.login("admin", "wrong password!").await.expect(401);
    }
    app.login("admin", PASSWORD).await.expect(200);
    for _ in 0..4 {
        app.login("admin", "wrong password!").await.expect(401);
    }
    app.login("admin", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.admin().await;
    let first = app.login("admin", PASSWORD).await;
    let r1 = first.body["refresh_token"].as_str().unwrap().to_string();

    let second = refresh(&app, &r1).await;
    second.expect(200);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_string();
    let a2 = second.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    app.get("/api/v1/me", &a2).await.expect(200);

    // r1 again: reuse. The family dies: r2 and the access tokens of the session too.
    refresh(&app, &r1).await.expect_problem(401, None);
    refresh(&app, &r2).await.expect_problem(401, None);
    app.get("/api/v1/me", &a2).await.expect_problem(401, None);
    // Another sign-in is unaffected.
    app.login("admin", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    app.admin().await;
    let login = app.login("admin", PASSWORD).await;
    let access = login.body["access_token"].as_str().unwrap();
    let refresh_token = login.body["refresh_token"].as_str().unwrap();
    let other_session = app.token("admin").await;

    let answer = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh_token})),
        )
        .await;
    answer.expect(204);
    app.get("/api/v1/me", access)
        .await
        .expect_problem(401, None);
    refresh(&app, refresh_token).await.expect_problem(401, None);
    app.get("/api/v1/me", &other_session).await.expect(200);
    // Logging out twice, or with an unknown token, is harmless.
    app.call(
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": "nope"})),
    )
    .await
    .expect(204);
}

#[tokio::test]
async fn changing_role_scope_or_active_invalidates_existing_tokens() {
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
    for (i, change) in [
        json!({"role": "auditor"}),
        json!({"scope": "HG.VT"}),
        json!({"active": false}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("clerk{i}");
        app.insert_user(&name, Role::Clerk, Some("HG"));
        let login = app.login(&name, PASSWORD).await;
        let token = login.body["access_token"].as_str().unwrap().to_string();
        let refresh_token = login.body["refresh_token"].as_str().unwrap().to_string();
        app.get("/api/v1/me", &token).await.expect(200);
        let user = app.get(&format!("/api/v1/users/{name}"), &admin).await;
        let etag = user.header("etag").unwrap().to_string();
        app.patch(
            &format!("/api/v1/users/{name}"),
            &admin,
            &etag,
            change.clone(),
        )
        .await
        .expect(200);
        app.get("/api/v1/me", &token)
            .await
            .expect_problem(401, None);
        refresh(&app, &refresh_token)
            .await
            .expect_problem(401, None);
        let again = app.login(&name, PASSWORD).await;
        if change.get("active").is_some() {
            again.expect_problem(401, None);
        } else {
            again.expect(200);
        }
    }
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.admin().await;
    let other = app.token("admin").await;
    let mine = app.token("admin").await;
    let answer = app
        .call(
            Method::PUT,
            "/api/v1/me/password",
            Some(&mine),
            Some(json!({"current_password": "wrong", "new_password": "a brand new password"})),
        )
        .await;
    answer.expect_problem(422, Some("user.wrong_password"));
    let answer = app
        .call(
            Method::PUT,
            "/api/v1/me/password",
            Some(&mine),
            Some(json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    answer.expect_problem(422, Some("length"));
    app.call(
        Method::PUT,
        "/api/v1/me/password",
        Some(&mine),
        Some(json!({"current_password": PASSWORD, "new_password": "a brand new password"})),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", &other)
        .await
        .expect_problem(401, None);
    app.login("admin", PASSWORD).await.expect_problem(401, None);
    app.login("admin", "a brand new password").await.expect(200);
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.admin().await;
    let parts: Vec<&str> = token.split('.').collect();
    // alg "none" with the same claims and no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let forged = format!("{none_header}.{}.", parts[1]);
    app.get("/api/v1/me", &forged)
        .await
        .expect_problem(401, None);
    // Claims changed under the original signature.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 3600);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    app.get("/api/v1/me", &tampered)
        .await
        .expect_problem(401, None);
    // Signed with another key.
    let other = party_records::auth::tokens::JwtKeys::from_secret(&[9u8; 32]).unwrap();
    let foreign = other.issue(1, claims["sid"].as_str().unwrap(), 1);
    app.get("/api/v1/me", &foreign)
        .await
        .expect_problem(401, None);
}

/// `GET /api/v1/members/{n}` checks the caller on the connection that reads the member (one
/// trip to the database instead of two): sign-out, a new scope, a deactivation and a revoked
/// API key still take effect on the very next request.
#[tokio::test]
async fn the_single_member_read_checks_the_caller_on_every_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    for code in ["HG.VT", "HG.NB"] {
        app.org(
            &admin,
            code,
            "subordinate_committee",
            Some("HG"),
            "2004-01-01",
        )
        .await;
    }
    app.org(
        &admin,
        "HG.VT.CB",
        "grassroots_branch",
        Some("HG.VT"),
        "2004-01-01",
    )
    .await;
    app.post(
        "/api/v1/members",
        &admin,
        json!({
            "profile_number": "HG-000001",
            "full_name": "Nguyễn Thị Hoa",
            "gender": "female",
            "born_on": "1990-03-15",
            "national_id": "093190001234",
            "organization_code": "HG.VT.CB",
            "admitted_on": "2015-05-19",
            "ceremony_on": "2015-06-01",
        }),
    )
    .await
    .expect(201);
    let path = "/api/v1/members/HG-000001";
    app.insert_user("clerk", Role::Clerk, Some("HG"));

    // Signed out: the access token of the session is refused at once.
    let login = app.login("clerk", PASSWORD).await;
    let access = login.body["access_token"].as_str().unwrap().to_string();
    let refresh_token = login.body["refresh_token"].as_str().unwrap().to_string();
    app.get(path, &access).await.expect(200);
    app.call(
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": refresh_token})),
    )
    .await
    .expect(204);
    app.get(path, &access).await.expect_problem(401, None);

    // An API key reads the owner's current scope and role on every request.
    let token = app.token("clerk").await;
    let created = app
        .post("/api/v1/api-keys", &token, json!({"name": "reader"}))
        .await;
    created.expect(201);
    let key = created.body["secret"].as_str().unwrap().to_string();
    let key_id = created.body["id"].as_i64().unwrap();
    app.get(path, &key).await.expect(200);
    assert_eq!(
        app.get(path, &key).await.body["national_id"],
        "093190001234"
    );

    let patch = |change: serde_json::Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let user = app.get("/api/v1/users/clerk", &admin).await;
            let etag = user.header("etag").unwrap().to_string();
            app.patch("/api/v1/users/clerk", &admin, &etag, change)
                .await
                .expect(200);
        }
    };
    // A scope that no longer holds the member: 404 on the next request, and the token issued
    // under the old scope is refused.
    patch(json!({"scope": "HG.NB"})).await;
    app.get(path, &token).await.expect_problem(401, None);
    app.get(path, &key).await.expect_problem(404, None);
    let token = app.token("clerk").await;
    app.get(path, &token).await.expect_problem(404, None);
    // Back in scope as an auditor: masked at once.
    patch(json!({"scope": "HG", "role": "auditor"})).await;
    let masked = app.get(path, &key).await;
    masked.expect(200);
    assert_ne!(masked.body["national_id"], "093190001234");
    assert!(masked.body["born_on"].is_null());
    // Deactivated: refused at once, by token and by key.
    let token = app.token("clerk").await;
    app.get(path, &token).await.expect(200);
    patch(json!({"active": false})).await;
    app.get(path, &token).await.expect_problem(401, None);
    app.get(path, &key).await.expect_problem(401, None);
    // Active again, the key works until it is revoked.
    patch(json!({"active": true})).await;
    app.get(path, &key).await.expect(200);
    app.call(
        Method::DELETE,
        &format!("/api/v1/api-keys/{key_id}"),
        Some(&admin),
        None,
    )
    .await
    .expect(204);
    app.get(path, &key).await.expect_problem(401, None);
    // Without a token, or with a forged one: 401 before any read.
    app.call(Method::GET, path, None, None)
        .await
        .expect_problem(401, None);
    app.get(path, "not-a-token").await.expect_problem(401, None);
}
