//! Every failure is problem+json, whatever produced it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_ready_and_the_api_description_answer_without_credentials() {
    let app = spawn_app().await;
    app.call(Method::GET, "/health", None, None)
        .await
        .expect(200);
    let ready = app.call(Method::GET, "/ready", None, None).await;
    ready.expect(200);
    assert_eq!(ready.body["status"], "ready");
    let spec = app.call(Method::GET, "/openapi.yaml", None, None).await;
    spec.expect(200);
    assert!(
        spec.text.starts_with("openapi: 3.1"),
        "{}",
        &spec.text[..40.min(spec.text.len())]
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = spawn_app().await;
    let answer = app
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    answer.expect_problem(404, None);
    let answer = app.call(Method::DELETE, "/health", None, None).await;
    answer.expect_problem(405, None);
    assert_eq!(answer.header("allow"), Some("GET"));
    let answer = app
        .call(Method::PUT, "/api/v1/organizations", None, None)
        .await;
    answer.expect_problem(405, None);
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401_with_www_authenticate() {
    let app = spawn_app().await;
    for token in [None, Some("garbage"), Some("prk_unknownkey"), Some("a.b.c")] {
        let answer = app.call(Method::GET, "/api/v1/me", token, None).await;
        answer.expect_problem(401, None);
        assert!(answer
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer"));
    }
}

#[tokio::test]
async fn malformed_bodies_are_400_and_wrong_content_types_415() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/organizations"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let answer =
        crate::helpers::Answer::read(send("{not json", "application/json").await.unwrap()).await;
    answer.expect_problem(400, None);
    let answer = crate::helpers::Answer::read(
        send("code=X", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    answer.expect_problem(415, None);
    // An unknown field is refused, naming it, rather than silently ignored.
    let answer = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"code": "X", "name": "X", "kind": "provincial_committee",
                   "established_on": "2020-01-01", "colour": "red"}),
        )
        .await;
    answer.expect_problem(400, None);
    assert!(answer.body["detail"].as_str().unwrap().contains("colour"));
    // A value of the wrong type.
    let answer = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"code": 12, "name": "X", "kind": "provincial_committee", "established_on": "2020-01-01"}),
        )
        .await;
    answer.expect_problem(400, None);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let big = "x".repeat(100 * 1024);
    let answer = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"code": "X", "name": big, "kind": "provincial_committee", "established_on": "2020-01-01"}),
        )
        .await;
    answer.expect_problem(413, None);
}

#[tokio::test]
async fn bad_query_strings_are_400() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for query in [
        "limit=abc",
        "limit=0",
        "limit=501",
        "on=2024-02-30",
        "kind=party_cell",
        "cursor=!!",
        "bogus=1",
    ] {
        let answer = app
            .get(&format!("/api/v1/organizations?{query}"), &admin)
            .await;
        answer.expect_problem(400, None);
    }
    let answer = app
        .get("/api/v1/organizations/X/tree?depth=11", &admin)
        .await;
    answer.expect_problem(400, None);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_echoes_a_given_one() {
    let app = spawn_app().await;
    let answer = app.call(Method::GET, "/health", None, None).await;
    assert!(answer
        .header("x-request-id")
        .is_some_and(|id| id.len() >= 16));
    let answer = app
        .call_with(
            Method::GET,
            "/nowhere",
            None,
            None,
            &[("X-Request-Id", "clerk-42.abc")],
        )
        .await;
    assert_eq!(answer.header("x-request-id"), Some("clerk-42.abc"));
    // An unreasonable id is replaced, not echoed into headers or logs.
    let answer = app
        .call_with(
            Method::GET,
            "/health",
            None,
            None,
            &[("X-Request-Id", "bad id with spaces")],
        )
        .await;
    assert_ne!(answer.header("x-request-id"), Some("bad id with spaces"));
}
