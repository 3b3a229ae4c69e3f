//! `openapi.yaml` cannot drift from the routes: every route is in the spec with the roles the
//! route table admits, and the spec has no route the server lacks.

use std::collections::BTreeSet;

use party_records::api::{openapi_yaml, ROUTES};
use party_records::auth::{role_allows, Access};
use party_records::domain::Role;
use serde_yaml::Value;

fn spec() -> Value {
    serde_yaml::from_str(openapi_yaml()).expect("openapi.yaml parses")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[test]
fn the_spec_and_the_route_table_list_the_same_operations() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str(), Some("3.1.0"));
    let mut in_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                in_spec.insert((method.to_uppercase(), path.as_str().unwrap().to_string()));
            }
        }
    }
    let in_code: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let undocumented: Vec<_> = in_code.difference(&in_spec).collect();
    let phantom: Vec<_> = in_spec.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "openapi.yaml describes routes the server lacks: {phantom:?}"
    );
}

#[test]
fn the_spec_names_the_roles_each_route_admits() {
    let spec = spec();
    for route in ROUTES {
        let op = &spec["paths"][route.path][route.method.to_lowercase()];
        let name = format!("{} {}", route.method, route.path);
        if route.access == Access::Public {
            let security = op["security"].as_sequence();
            assert!(
                security.is_some_and(|s| s.is_empty()),
                "{name} is public: its operation needs `security: []`"
            );
            continue;
        }
        let expected: BTreeSet<String> = Role::ALL
            .iter()
            .filter(|r| role_allows(**r, route.access))
            .map(|r| r.as_str().to_string())
            .collect();
        let documented: BTreeSet<String> = op["x-roles"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} lacks x-roles"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            documented, expected,
            "{name}: x-roles differ from the route table"
        );
        let responses = op["responses"].as_mapping().expect("responses");
        assert!(responses.contains_key("401"), "{name} must document 401");
        if expected.len() < Role::ALL.len() {
            assert!(responses.contains_key("403"), "{name} must document 403");
        }
    }
}

#[test]
fn every_operation_documents_its_error_answers_as_problems() {
    let spec = spec();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let name = format!("{method} {}", path.as_str().unwrap());
            assert!(op["operationId"].is_string(), "{name} lacks an operationId");
            for (status, response) in op["responses"].as_mapping().unwrap() {
                let status = match status {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => panic!("{name}: odd status key {other:?}"),
                };
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(reference) => {
                        let key = reference.rsplit('/').next().unwrap();
                        spec["components"]["responses"][key].clone()
                    }
                    None => response.clone(),
                };
                assert!(
                    response["content"]
                        .get("application/problem+json")
                        .is_some(),
                    "{name} {status} is not problem+json"
                );
            }
        }
    }
}

/// `/docs` is an interactive reference with every asset served by the binary itself: the page
/// loads nothing from another host.
#[tokio::test]
async fn the_reference_page_and_its_assets_come_from_the_server() {
    let app = crate::helpers::spawn_app().await;
    let page = app.call(reqwest::Method::GET, "/docs", None, None).await;
    page.expect(200);
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    for needle in [
        "/openapi.yaml",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ] {
        assert!(page.text.contains(needle), "{needle} missing from the page");
    }
    for attribute in ["src=\"", "href=\""] {
        for link in page.text.split(attribute).skip(1) {
            assert!(
                link.starts_with('/'),
                "the page loads {link} from elsewhere"
            );
        }
    }
    let script = app
        .call(
            reqwest::Method::GET,
            "/docs/swagger-ui-bundle.js",
            None,
            None,
        )
        .await;
    script.expect(200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text.contains("SwaggerUIBundle"));
    assert!(!script.text.contains("sourceMappingURL"));
    let style = app
        .call(reqwest::Method::GET, "/docs/swagger-ui.css", None, None)
        .await;
    style.expect(200);
    assert!(style
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));
    app.call(reqwest::Method::GET, "/docs/other.js", None, None)
        .await
        .expect_problem(404, None);
}

/// The response check of the test helpers (`helpers::contract`) that every answer of the suite
/// goes through: it accepts what the spec allows and refuses, naming the operation and the
/// schema error, what it does not.
#[test]
fn the_response_check_refuses_what_the_spec_does_not_allow() {
    use crate::helpers::contract::check;
    let refused = |method: Option<&'static str>,
                   path: &'static str,
                   status: u16,
                   content_type: Option<&'static str>,
                   body: &'static str| {
        let outcome = std::panic::catch_unwind(|| check(method, path, status, content_type, body));
        match outcome {
            Ok(()) => panic!("{method:?} {path} {status} {body} was accepted"),
            Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
        }
    };
    let json = Some("application/json");
    let problem = Some("application/problem+json");
    check(Some("GET"), "/health", 200, json, r#"{"status":"ok"}"#);
    check(
        Some("GET"),
        "/api/v1/organizations/HG.VT?on=2024-01-01",
        404,
        problem,
        r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Organization HG.VT not found."}"#,
    );
    // An unknown route still answers a problem.
    check(
        Some("GET"),
        "/nowhere",
        404,
        problem,
        r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"No route."}"#,
    );

    let reason = refused(Some("GET"), "/health", 200, json, r#"{"status":"up"}"#);
    assert!(
        reason.contains("GET /health") && reason.contains("/status"),
        "{reason}"
    );
    let reason = refused(
        Some("GET"),
        "/api/v1/organizations/HG.VT",
        200,
        json,
        r#"{"code":"HG.VT","name":"Thành ủy Vị Thanh","kind":"subordinate_committee","parent_code":"HG","established_on":"2004-13-01","dissolved_on":null,"has_branch_committee":false,"version":1,"created_at":"2024-03-01T02:15:00Z","updated_at":"2024-03-01T02:15:00Z"}"#,
    );
    assert!(reason.contains("/established_on"), "a bad date: {reason}");
    let reason = refused(Some("GET"), "/api/v1/organizations/HG.VT", 200, json, "{}");
    assert!(
        reason.contains("\"code\" is a required property"),
        "{reason}"
    );
    let reason = refused(Some("GET"), "/api/v1/me", 418, json, "{}");
    assert!(reason.contains("418 is not documented"), "{reason}");
    let reason = refused(Some("GET"), "/api/v1/me", 401, Some("text/plain"), "no");
    assert!(reason.contains("Content-Type text/plain"), "{reason}");
    let reason = refused(None, "/nowhere", 200, json, "{}");
    assert!(reason.contains("no operation"), "{reason}");
}

/// Found by schemathesis: the list of awards took any number as a `tier` filter (and answered
/// an empty page) where the spec, and the list of members due an award, allow only the tiers.
#[tokio::test]
async fn an_award_list_filtered_by_a_tier_that_does_not_exist_is_a_bad_request() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    app.get("/api/v1/insignia-awards?tier=30", &admin)
        .await
        .expect(200);
    for tier in ["-58800", "35", "0"] {
        app.get(&format!("/api/v1/insignia-awards?tier={tier}"), &admin)
            .await
            .expect_problem(400, Some("insignia.tier_unknown"));
    }
}

/// Found by schemathesis on PostgreSQL, whose text cannot hold U+0000: a NUL in a body, a path
/// or a query string reached the database and answered 500. It is the client's error (400 on
/// PostgreSQL; SQLite stores it, so there the answer is whatever the text itself gives).
#[tokio::test]
async fn text_with_a_nul_character_is_a_client_error_on_every_engine() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    let answers = [
        app.post(
            "/api/v1/ratings/organizations/batch",
            &admin,
            serde_json::json!({"year": 2024, "ratings": [{"organization_code": "HG\u{0}VT", "level": "good"}]}),
        )
        .await,
        app.get("/api/v1/members/HG-%00", &admin).await,
        app.get("/api/v1/members?q=nguy%00en", &admin).await,
        app.get("/api/v1/organizations/HG%00", &admin).await,
    ];
    for answer in answers {
        assert!(
            answer.status.as_u16() < 500,
            "{} {}",
            answer.status,
            answer.text
        );
        if crate::helpers::pg_url().is_some() && answer.status.as_u16() == 400 {
            assert!(answer.text.contains("U+0000"), "{}", answer.text);
        }
    }
}

/// The links (create → read → update, used by schemathesis' stateful phase) name operations
/// that exist and parameters those operations take.
#[test]
fn every_link_names_an_operation_and_its_parameters() {
    let spec = spec();
    let mut operations = std::collections::BTreeMap::new();
    for item in spec["paths"].as_mapping().unwrap().values() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut names = BTreeSet::new();
            let params = item["parameters"]
                .as_sequence()
                .into_iter()
                .chain(op["parameters"].as_sequence())
                .flatten();
            for param in params {
                let param = match param.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        spec["components"]["parameters"][r.rsplit('/').next().unwrap()].clone()
                    }
                    None => param.clone(),
                };
                let name = param["name"].as_str().unwrap().to_string();
                names.insert(format!("{}.{name}", param["in"].as_str().unwrap()));
                names.insert(name);
            }
            operations.insert(op["operationId"].as_str().unwrap().to_string(), names);
        }
    }
    let mut links = 0;
    for item in spec["paths"].as_mapping().unwrap().values() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            for response in op["responses"].as_mapping().unwrap().values() {
                let Some(declared) = response.get("links").and_then(Value::as_mapping) else {
                    continue;
                };
                for (name, link) in declared {
                    links += 1;
                    let target = link["operationId"].as_str().unwrap();
                    let params = operations
                        .get(target)
                        .unwrap_or_else(|| panic!("link {name:?} names no operation {target}"));
                    for key in link["parameters"].as_mapping().unwrap().keys() {
                        let key = key.as_str().unwrap();
                        assert!(params.contains(key), "link {name:?}: {target} has no {key}");
                    }
                }
            }
        }
    }
    assert!(links > 0, "the spec declares no links");
}

/// Found by schemathesis: a member who had left, sent to leave again on a day before their last
/// membership began, broke that membership's period in the database (500). It is refused like
/// the same day for a member on the roll (422, `member.overlapping_membership`).
#[tokio::test]
async fn a_member_who_left_cannot_leave_before_their_last_membership_began() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.org(
        &admin,
        "HG.CT",
        "subordinate_committee",
        Some("HG"),
        "2004-01-01",
    )
    .await;
    app.org(
        &admin,
        "HG.CT.B01",
        "grassroots_branch",
        Some("HG.CT"),
        "2004-01-01",
    )
    .await;
    app.post(
        "/api/v1/members",
        &admin,
        serde_json::json!({
            "profile_number": "HG-000009", "full_name": "Bùi Văn Minh", "gender": "male",
            "born_on": "1955-09-09", "organization_code": "HG.CT.B01",
            "organization_since": "2004-01-01", "admitted_on": "1979-12-22",
            "ceremony_on": "1979-12-22"
        }),
    )
    .await
    .expect(201);
    let leave = |on: &'static str| {
        app.post(
            "/api/v1/members/HG-000009/leave",
            &admin,
            serde_json::json!({"reason": "deceased", "on": on}),
        )
    };
    leave("2021-06-01").await.expect(200);
    leave("2000-01-30")
        .await
        .expect_problem(422, Some("member.overlapping_membership"));
    leave("2004-01-01")
        .await
        .expect_problem(422, Some("member.overlapping_membership"));
    let member = app.get("/api/v1/members/HG-000009", &admin).await;
    assert_eq!(member.body["left_on"], "2021-06-01");
}

/// Found by schemathesis: a JSON array was read into a body's fields in order, so that
/// `["2025-07-01"]` dissolved an organisation. Every body is a JSON object (400 otherwise).
#[tokio::test]
async fn a_json_array_is_not_a_body_object() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    app.org(
        &admin,
        "HG.CT",
        "subordinate_committee",
        Some("HG"),
        "2004-01-01",
    )
    .await;
    app.post(
        "/api/v1/organizations/HG.CT/dissolve",
        &admin,
        serde_json::json!(["2025-07-01"]),
    )
    .await
    .expect_problem(400, None);
    app.patch(
        "/api/v1/organizations/HG.CT",
        &admin,
        "\"1\"",
        serde_json::json!(["Huyện ủy Châu Thành", true]),
    )
    .await
    .expect_problem(400, None);
    let org = app.get("/api/v1/organizations/HG.CT", &admin).await;
    assert_eq!(org.body["dissolved_on"], serde_json::Value::Null);
    assert_eq!(org.body["version"], 1);
    // An object still goes through, with unknown and duplicate fields refused as before.
    app.post(
        "/api/v1/organizations/HG.CT/dissolve",
        &admin,
        serde_json::json!({"on": "2025-07-01", "of": 1}),
    )
    .await
    .expect_problem(400, None);
    app.post(
        "/api/v1/organizations/HG.CT/dissolve",
        &admin,
        serde_json::json!({"on": "2025-07-01"}),
    )
    .await
    .expect(200);
}
