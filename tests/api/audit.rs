//! The audit trail: every write leaves one chained event in its own transaction, attributed
//! to the user (or key), the address and the request id; personal identifiers never enter it;
//! auditors see their scope; an edited, deleted or reordered event is found by the walk.

use diesel::RunQueryDsl;
use party_records::domain::Role;
use serde_json::{json, Value};
use sha2::Digest;

use crate::helpers::{spawn_app, TestApp, PASSWORD};

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let answer = app
        .get(&format!("/api/v1/audit/events{query}"), token)
        .await;
    answer.expect(200);
    answer.body["items"].as_array().unwrap().clone()
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let answer = app.get("/api/v1/audit/verify", token).await;
    answer.expect(200);
    answer.body.clone()
}

fn sql(app: &TestApp, statement: &str) {
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

async fn province(app: &TestApp, admin: &str) {
    app.org(admin, "HG", "provincial_committee", None, "1990-01-01")
        .await;
    app.org(admin, "A", "grassroots_branch", Some("HG"), "1990-01-01")
        .await;
    app.org(admin, "B", "grassroots_branch", Some("HG"), "1990-01-01")
        .await;
}

fn member(profile: &str, org: &str) -> Value {
    let mut body = json!({"profile_number": profile, "full_name": "Nguyễn Văn Một", "gender": "male",
        "born_on": "1960-03-04", "national_id": "093201001234", "card_number": "52001234",
        "organization_code": org, "admitted_on": "1995-01-01", "ceremony_on": "1995-01-01"});
    // Card numbers are unique: only M1 has one.
    if profile != "M1" {
        body.as_object_mut().unwrap().remove("card_number");
    }
    body
}

#[tokio::test]
async fn writes_are_recorded_attributed_masked_and_chained() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let created = app
        .call_with(
            reqwest::Method::POST,
            "/api/v1/members",
            Some(&admin),
            Some(member("M1", "A")),
            &[("X-Request-Id", "req-audit-1")],
        )
        .await;
    created.expect(201);
    let etag = created.header("etag").unwrap().to_string();
    app.patch(
        "/api/v1/members/M1",
        &admin,
        &etag,
        json!({"full_name": "Nguyễn Văn Hai"}),
    )
    .await
    .expect(200);
    // A stale version changes nothing and records nothing.
    app.patch(
        "/api/v1/members/M1",
        &admin,
        &etag,
        json!({"full_name": "X"}),
    )
    .await
    .expect_problem(412, None);

    let list = events(&app, &admin, "?entity=member&key=M1").await;
    assert_eq!(list.len(), 2, "{list:?}");
    let (update, create) = (&list[0], &list[1]);
    assert_eq!(create["action"], "create");
    assert_eq!(create["actor"], "admin");
    assert_eq!(create["request_id"], "req-audit-1");
    assert_eq!(create["ip"], "127.0.0.1");
    assert_eq!(create["organization_code"], "A");
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["national_id"], "*********234");
    assert_eq!(create["after"]["card_number"], "*****234");
    assert!(create["after"].get("born_on").is_none());
    assert_eq!(update["action"], "update");
    assert_eq!(update["before"]["full_name"], "Nguyễn Văn Một");
    assert_eq!(update["after"]["full_name"], "Nguyễn Văn Hai");
    assert_eq!(update["prev_hash"], create["hash"]);
    // No event anywhere holds a personal identifier in full.
    let all = app.get("/api/v1/audit/events?limit=500", &admin).await;
    for secret in ["093201001234", "52001234\"", "1960-03-04"] {
        assert!(!all.text.contains(secret), "{secret} leaked");
    }
    // Organisations were recorded too (three creates), and the chain holds.
    assert_eq!(
        events(&app, &admin, "?entity=organization&action=create")
            .await
            .len(),
        3
    );
    let report = verify(&app, &admin).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["verified"], 5);
}

#[tokio::test]
async fn an_override_keeps_its_reason() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut old = member("M2", "A");
    old["born_on"] = json!("1950-01-01");
    old["admitted_on"] = json!("2015-01-01");
    old["ceremony_on"] = json!("2015-01-01");
    old["override_reason"] = json!("Quyết định đặc biệt của Ban Thường vụ");
    app.post("/api/v1/members", &admin, old).await.expect(201);
    let list = events(&app, &admin, "?key=M2").await;
    assert_eq!(
        list[0]["override_reason"],
        "Quyết định đặc biệt của Ban Thường vụ"
    );
}

#[tokio::test]
async fn sign_in_failures_lockouts_and_revocations_are_recorded() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.insert_user("hoa", Role::Admin, None);
    for _ in 0..5 {
        app.login("hoa", "not the password")
            .await
            .expect_problem(401, None);
    }
    app.login("nobody", "whatever")
        .await
        .expect_problem(401, None);
    let failed = events(&app, &admin, "?action=sign_in_failed").await;
    assert_eq!(failed.len(), 6, "{failed:?}");
    assert!(failed.iter().any(|e| e["key"] == "nobody"));
    let locks = events(&app, &admin, "?action=lock&key=hoa").await;
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0]["ip"], "127.0.0.1");

    // An API key's revocation, and a reused refresh token's.
    let key = app
        .post("/api/v1/api-keys", &admin, json!({"name": "script"}))
        .await;
    let id = key.body["id"].as_i64().unwrap();
    let secret = key.body["secret"].as_str().unwrap().to_string();
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        Some(&admin),
        None,
    )
    .await
    .expect(204);
    let revoked = events(&app, &admin, &format!("?entity=api_key&key={id}")).await;
    let actions: Vec<&str> = revoked
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["revoke", "create"]);
    let audit_text = app.get("/api/v1/audit/events?limit=500", &admin).await.text;
    assert!(!audit_text.contains(&secret), "the key's secret leaked");

    let login = app.login("admin", PASSWORD).await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_string();
    let body = json!({"refresh_token": refresh});
    app.call(
        reqwest::Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(body.clone()),
    )
    .await
    .expect(200);
    app.call(
        reqwest::Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(body),
    )
    .await
    .expect_problem(401, None);
    let sessions = events(&app, &admin, "?entity=session&action=revoke").await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["after"]["reason"], "refresh_token_reused");
    assert_eq!(verify(&app, &admin).await["ok"], true);
}

#[tokio::test]
async fn auditors_see_the_events_of_their_scope_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.post("/api/v1/members", &admin, member("MA", "A"))
        .await
        .expect(201);
    app.post("/api/v1/members", &admin, member("MB", "B"))
        .await
        .expect(201);
    let target = json!({"organization_code": "A", "year": 2024, "target": 3});
    app.post("/api/v1/admission-targets", &admin, target)
        .await
        .expect(201);
    app.insert_user("kiem", Role::Auditor, Some("A"));
    let auditor = app.token("kiem").await;
    let seen = events(&app, &auditor, "?limit=500").await;
    let keys: Vec<&str> = seen.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"MA") && keys.contains(&"A/2024"), "{keys:?}");
    assert!(!keys.contains(&"MB") && !keys.contains(&"B"), "{keys:?}");
    assert!(seen.iter().all(|e| e["entity"] != "user"));
    assert!(seen.iter().all(|e| e["after"].get("born_on").is_none()));
    // Clerks and inspectors have no audit trail to read.
    app.insert_user("hoa", Role::Clerk, Some("A"));
    let clerk = app.token("hoa").await;
    app.get("/api/v1/audit/events", &clerk)
        .await
        .expect_problem(403, None);
}

#[tokio::test]
async fn events_filter_and_page_stably() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for year in 2020..2025 {
        let body = json!({"organization_code": "A", "year": year, "target": 3});
        app.post("/api/v1/admission-targets", &admin, body)
            .await
            .expect(201);
    }
    let mut seen = Vec::new();
    let mut query = "?entity=admission_target&limit=2".to_string();
    loop {
        let page = app
            .get(&format!("/api/v1/audit/events{query}"), &admin)
            .await;
        page.expect(200);
        for e in page.body["items"].as_array().unwrap() {
            seen.push(e["key"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => query = format!("?entity=admission_target&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["A/2024", "A/2023", "A/2022", "A/2021", "A/2020"]);
    assert_eq!(events(&app, &admin, "?user=admin&limit=500").await.len(), 8);
    assert_eq!(events(&app, &admin, "?user=nobody").await.len(), 0);
    let all = events(&app, &admin, "?from=2000-01-01T00:00:00Z").await;
    assert_eq!(all.len(), 8);
    assert!(events(&app, &admin, "?to=2000-01-01T00:00:00Z")
        .await
        .is_empty());
    // Bad input: 400 problem+json.
    for bad in [
        "?limit=0",
        "?limit=501",
        "?from=yesterday",
        "?to=2024-13-01T00:00:00Z",
        "?cursor=%21%21",
        "?colour=red",
    ] {
        app.get(&format!("/api/v1/audit/events{bad}"), &admin)
            .await
            .expect_problem(400, None);
    }
}

#[tokio::test]
async fn an_import_is_one_event_with_the_files_hash() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let csv = "organization_code,year,target\nA,2023,4\nB,2023,5\nA,2024,6\n";
    app.import_csv(&admin, "admission-targets", csv)
        .await
        .expect(200);
    let list = events(&app, &admin, "?entity=import").await;
    assert_eq!(list.len(), 1);
    let after = &list[0]["after"];
    assert_eq!(after["kind"], "admission-targets");
    assert_eq!(after["mode"], "upsert");
    assert_eq!(after["inserted"], 3);
    assert_eq!(after["bytes"], csv.len());
    assert_eq!(
        after["sha256"],
        hex::encode(sha2::Sha256::digest(csv.as_bytes()))
    );
    assert_eq!(
        after["keys"]["inserted"],
        json!(["A/2023", "B/2023", "A/2024"])
    );
    // No per-row events.
    assert!(events(&app, &admin, "?entity=admission_target")
        .await
        .is_empty());
    // A rejected import records nothing.
    app.import_csv(
        &admin,
        "admission-targets",
        "organization_code,year,target\nZZ,2023,1\n",
    )
    .await
    .expect_problem(422, None);
    assert_eq!(events(&app, &admin, "?entity=import").await.len(), 1);
}

#[tokio::test]
async fn an_edited_deleted_or_reordered_event_is_found() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await; // events 1, 2, 3
    app.post("/api/v1/members", &admin, member("M1", "A"))
        .await
        .expect(201); // event 4
    assert_eq!(verify(&app, &admin).await["ok"], true);

    sql(
        &app,
        "UPDATE audit_events SET actor = 'someone' WHERE id = 2",
    );
    let report = verify(&app, &admin).await;
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["first_break"],
        json!({"id": 2, "reason": "hash_mismatch"})
    );
    assert_eq!(report["verified"], 1);
    sql(&app, "UPDATE audit_events SET actor = 'admin' WHERE id = 2");
    assert_eq!(verify(&app, &admin).await["ok"], true);

    // Swapping two events' contents (a reordering).
    sql(&app, "UPDATE audit_events SET id = 100 WHERE id = 2");
    sql(&app, "UPDATE audit_events SET id = 2 WHERE id = 3");
    sql(&app, "UPDATE audit_events SET id = 3 WHERE id = 100");
    let report = verify(&app, &admin).await;
    assert_eq!(report["first_break"]["id"], 2);
    assert_eq!(report["first_break"]["reason"], "prev_hash_mismatch");

    sql(&app, "DELETE FROM audit_events WHERE id = 2");
    let report = verify(&app, &admin).await;
    assert_eq!(
        report["first_break"],
        json!({"id": 3, "reason": "missing_event"})
    );

    sql(&app, "DELETE FROM audit_events WHERE id >= 2");
    let report = verify(&app, &admin).await;
    assert_eq!(
        report["first_break"],
        json!({"id": 4, "reason": "head_mismatch"})
    );
}
