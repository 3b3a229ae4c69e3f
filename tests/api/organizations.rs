//! The organisation tree: its rules, its history and its queries.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn codes(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_string())
        .collect()
}

/// HG ─┬─ VT (subordinate) ── VT.P1 (grassroots committee) ─┬─ VT.P1.A (sub-branch)
///     │                                                   └─ VT.P1.B (sub-branch)
///     └─ NB (subordinate) ── NB.CB (grassroots branch)
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
        "2005-01-01",
    )
    .await;
    app.org(admin, "VT.P1.A", "sub_branch", Some("VT.P1"), "2005-06-01")
        .await;
    app.org(admin, "VT.P1.B", "sub_branch", Some("VT.P1"), "2010-01-01")
        .await;
    app.org(
        admin,
        "NB.CB",
        "grassroots_branch",
        Some("NB"),
        "2006-01-01",
    )
    .await;
}

#[tokio::test]
async fn create_and_read_an_organisation() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.org(&admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    let created = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"code": " HG.VT ", "name": "  Thành ủy Vị Thanh ", "kind": "subordinate_committee",
                   "parent_code": "HG", "established_on": "2004-01-01", "has_branch_committee": false}),
        )
        .await;
    created.expect(201);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/organizations/HG.VT")
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    let got = app.get("/api/v1/organizations/HG.VT", &admin).await;
    got.expect(200);
    assert_eq!(got.body["name"], "Thành ủy Vị Thanh");
    assert_eq!(got.body["kind"], "subordinate_committee");
    assert_eq!(got.body["parent_code"], "HG");
    assert_eq!(got.body["dissolved_on"], Value::Null);
    assert_eq!(
        got.body["parents"],
        json!([{"parent_code": "HG", "valid_from": "2004-01-01", "valid_to": null}])
    );
    app.get("/api/v1/organizations/NOPE", &admin)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn the_tree_rules_answer_422_naming_field_and_rule() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.post(
        "/api/v1/organizations",
        &admin,
        json!({"code": "HG2", "name": "Tỉnh khác", "kind": "provincial_committee", "established_on": "2004-01-01"}),
    )
    .await
    .expect(201);
    let mut cases = vec![
        // A sub-branch under a grassroots branch.
        (
            json!({"code": "X1", "kind": "sub_branch", "parent_code": "NB.CB", "established_on": "2010-01-01"}),
            "parent_code",
            "organization.parent_kind_not_allowed",
        ),
        (
            json!({"code": "X2", "kind": "grassroots_branch", "parent_code": "VT.P1", "established_on": "2010-01-01"}),
            "parent_code",
            "organization.parent_kind_not_allowed",
        ),
        (
            json!({"code": "VT", "kind": "subordinate_committee", "parent_code": "HG", "established_on": "2010-01-01"}),
            "code",
            "organization.code_taken",
        ),
        (
            json!({"code": "X3", "kind": "subordinate_committee", "established_on": "2010-01-01"}),
            "parent_code",
            "organization.parent_required",
        ),
        (
            json!({"code": "X4", "kind": "provincial_committee", "parent_code": "HG", "established_on": "2010-01-01"}),
            "parent_code",
            "organization.root_has_no_parent",
        ),
        (
            json!({"code": "X5", "kind": "sub_branch", "parent_code": "NOPE", "established_on": "2010-01-01"}),
            "parent_code",
            "organization.parent_not_found",
        ),
        // The parent is established after the child.
        (
            json!({"code": "X6", "kind": "sub_branch", "parent_code": "VT.P1", "established_on": "2004-06-01"}),
            "parent_code",
            "organization.parent_not_existing",
        ),
        (
            json!({"code": "X7", "kind": "sub_branch", "parent_code": "VT.P1", "established_on": "2010-01-01",
                "dissolved_on": "2009-01-01"}),
            "dissolved_on",
            "organization.dissolved_before_established",
        ),
        (
            json!({"code": "bad code!", "kind": "sub_branch", "parent_code": "VT.P1", "established_on": "2010-01-01"}),
            "code",
            "pattern",
        ),
        (
            json!({"code": "X8", "name": "", "kind": "sub_branch", "parent_code": "VT.P1", "established_on": "2010-01-01"}),
            "name",
            "length",
        ),
    ];
    // A parent dissolved before the child is established.
    app.org(
        &admin,
        "NB.OLD",
        "grassroots_committee",
        Some("NB"),
        "2006-01-01",
    )
    .await;
    app.post(
        "/api/v1/organizations/NB.OLD/dissolve",
        &admin,
        json!({"on": "2015-01-01"}),
    )
    .await
    .expect(200);
    cases.push((
        json!({"code": "X9", "kind": "sub_branch", "parent_code": "NB.OLD", "established_on": "2016-01-01"}),
        "parent_code",
        "organization.parent_not_existing",
    ));
    for (mut body, field, code) in cases {
        if body.get("name").is_none() {
            body["name"] = json!("Chi bộ thử");
        }
        let answer = app
            .post("/api/v1/organizations", &admin, body.clone())
            .await;
        answer.expect_problem(422, Some(code));
        let error = answer.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["code"] == code)
            .unwrap();
        assert_eq!(error["field"], field, "{body}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    // Nothing was written by the refused requests.
    let all = app.get("/api/v1/organizations?limit=500", &admin).await;
    assert!(codes(&all.body).iter().all(|c| !c.starts_with('X')));
}

#[tokio::test]
async fn a_move_keeps_history_and_past_dates_see_the_old_tree() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;

    // VT.P1 with its sub-branches moves from VT to NB on 2025-07-01.
    let moved = app
        .post(
            "/api/v1/organizations/VT.P1/move",
            &admin,
            json!({"parent_code": "NB", "on": "2025-07-01"}),
        )
        .await;
    moved.expect(200);
    assert_eq!(moved.body["parent_code"], "NB");
    assert_eq!(
        moved.body["parents"],
        json!([
            {"parent_code": "VT", "valid_from": "2005-01-01", "valid_to": "2025-07-01"},
            {"parent_code": "NB", "valid_from": "2025-07-01", "valid_to": null}
        ])
    );

    let under = |code: &'static str, on: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let path = if on.is_empty() {
                format!("/api/v1/organizations?under={code}")
            } else {
                format!("/api/v1/organizations?under={code}&on={on}")
            };
            codes(&app.get(&path, &admin).await.body)
        }
    };
    assert_eq!(
        under("VT", "2024-12-31").await,
        ["VT", "VT.P1", "VT.P1.A", "VT.P1.B"]
    );
    assert_eq!(under("NB", "2024-12-31").await, ["NB", "NB.CB"]);
    assert_eq!(under("VT", "2025-07-01").await, ["VT"]);
    assert_eq!(
        under("NB", "2025-07-01").await,
        ["NB", "NB.CB", "VT.P1", "VT.P1.A", "VT.P1.B"]
    );
    assert_eq!(
        under("NB", "").await,
        ["NB", "NB.CB", "VT.P1", "VT.P1.A", "VT.P1.B"]
    );
    // Before VT.P1.B existed.
    assert_eq!(under("VT", "2008-01-01").await, ["VT", "VT.P1", "VT.P1.A"]);

    let children = app
        .get("/api/v1/organizations?parent=VT.P1&on=2024-01-01", &admin)
        .await;
    assert_eq!(codes(&children.body), ["VT.P1.A", "VT.P1.B"]);

    let tree_then = app
        .get(
            "/api/v1/organizations/HG/tree?depth=3&on=2024-12-31",
            &admin,
        )
        .await;
    tree_then.expect(200);
    let vt = &tree_then.body["children"].as_array().unwrap()[1];
    assert_eq!(vt["code"], "VT");
    assert_eq!(vt["children"][0]["code"], "VT.P1");
    assert_eq!(vt["children"][0]["children"].as_array().unwrap().len(), 2);
    let tree_now = app
        .get(
            "/api/v1/organizations/HG/tree?depth=2&on=2025-08-01",
            &admin,
        )
        .await;
    let nb = &tree_now.body["children"][0];
    assert_eq!(nb["code"], "NB");
    let nb_children: Vec<&str> = nb["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(nb_children, ["NB.CB", "VT.P1"]);
    assert!(
        nb["children"][1]["children"].as_array().unwrap().is_empty(),
        "depth 2 stops there"
    );
    // Before HG existed there is no tree.
    app.get("/api/v1/organizations/HG/tree?on=2000-01-01", &admin)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn moves_that_break_the_tree_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.org(
        &admin,
        "VT.P2",
        "grassroots_committee",
        Some("VT"),
        "2005-01-01",
    )
    .await;
    app.org(&admin, "CT", "provincial_committee", None, "2004-01-01")
        .await;
    let cases = [
        (
            "VT.P1",
            json!({"parent_code": "NB.CB", "on": "2025-01-01"}),
            "organization.parent_kind_not_allowed",
        ),
        (
            "VT.P1",
            json!({"parent_code": "VT", "on": "2025-01-01"}),
            "organization.same_parent",
        ),
        (
            "VT.P1",
            json!({"parent_code": "NOPE", "on": "2025-01-01"}),
            "organization.parent_not_found",
        ),
        (
            "VT.P1",
            json!({"parent_code": "NB", "on": "2005-01-01"}),
            "organization.move_before_last_change",
        ),
        (
            "VT.P1.A",
            json!({"parent_code": "VT.P2", "on": "2000-01-01"}),
            "organization.move_before_last_change",
        ),
        (
            "HG",
            json!({"parent_code": "CT", "on": "2025-01-01"}),
            "organization.root_has_no_parent",
        ),
    ];
    for (code, body, rule) in cases {
        app.post(&format!("/api/v1/organizations/{code}/move"), &admin, body)
            .await
            .expect_problem(422, Some(rule));
    }
    // A sub-branch moves between grassroots committees.
    app.post(
        "/api/v1/organizations/VT.P1.A/move",
        &admin,
        json!({"parent_code": "VT.P2", "on": "2020-01-01"}),
    )
    .await
    .expect(200);
    // Moving it back earlier than its last move would rewrite history.
    app.post(
        "/api/v1/organizations/VT.P1.A/move",
        &admin,
        json!({"parent_code": "VT.P1", "on": "2019-01-01"}),
    )
    .await
    .expect_problem(422, Some("organization.move_before_last_change"));
    // Under itself or under one of its own subordinates: a cycle, whatever the kinds.
    for (code, parent) in [("VT.P2", "VT.P2"), ("VT", "VT.P1"), ("VT.P1", "VT.P1.B")] {
        let answer = app
            .post(
                &format!("/api/v1/organizations/{code}/move"),
                &admin,
                json!({"parent_code": parent, "on": "2025-01-01"}),
            )
            .await;
        answer.expect_problem(422, Some("organization.cycle"));
        assert_eq!(answer.body["errors"][0]["field"], "parent_code");
    }
}

#[tokio::test]
async fn dissolution_needs_no_living_children_and_ends_existence() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.post(
        "/api/v1/organizations/VT.P1/dissolve",
        &admin,
        json!({"on": "2025-07-01"}),
    )
    .await
    .expect_problem(422, Some("organization.has_active_children"));
    app.post(
        "/api/v1/organizations/VT.P1.A/dissolve",
        &admin,
        json!({"on": "2005-01-01"}),
    )
    .await
    .expect_problem(422, Some("organization.dissolved_before_established"));
    for code in ["VT.P1.A", "VT.P1.B", "VT.P1"] {
        let answer = app
            .post(
                &format!("/api/v1/organizations/{code}/dissolve"),
                &admin,
                json!({"on": "2025-07-01"}),
            )
            .await;
        answer.expect(200);
        assert_eq!(answer.body["dissolved_on"], "2025-07-01");
    }
    app.post(
        "/api/v1/organizations/VT.P1/dissolve",
        &admin,
        json!({"on": "2025-08-01"}),
    )
    .await
    .expect_problem(422, Some("organization.already_dissolved"));
    let then = app
        .get("/api/v1/organizations?under=VT&on=2025-06-30", &admin)
        .await;
    assert_eq!(codes(&then.body), ["VT", "VT.P1", "VT.P1.A", "VT.P1.B"]);
    let after = app
        .get("/api/v1/organizations?under=VT&on=2025-07-01", &admin)
        .await;
    assert_eq!(codes(&after.body), ["VT"]);
    // Without a date the list keeps dissolved organisations in their last place.
    let all = app.get("/api/v1/organizations?under=VT", &admin).await;
    assert_eq!(codes(&all.body).len(), 4);
    // A dissolved organisation takes no new children.
    app.post(
        "/api/v1/organizations",
        &admin,
        json!({"code": "VT.P1.C", "name": "Chi bộ C", "kind": "sub_branch", "parent_code": "VT.P1", "established_on": "2025-08-01"}),
    )
    .await
    .expect_problem(422, Some("organization.parent_not_existing"));
}

#[tokio::test]
async fn update_with_if_match_and_search_without_diacritics() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let answer = app
        .patch(
            "/api/v1/organizations/VT",
            &admin,
            "\"1\"",
            json!({"name": "Thành ủy Vị Thanh", "has_branch_committee": false}),
        )
        .await;
    answer.expect(200);
    assert_eq!(answer.header("etag"), Some("\"2\""));
    app.patch(
        "/api/v1/organizations/VT",
        &admin,
        "\"1\"",
        json!({"name": "Stale"}),
    )
    .await
    .expect_problem(412, None);
    app.call(
        reqwest::Method::PATCH,
        "/api/v1/organizations/VT",
        Some(&admin),
        Some(json!({"name": "No precondition"})),
    )
    .await
    .expect_problem(428, None);
    app.patch(
        "/api/v1/organizations/VT",
        &admin,
        "\"2\"",
        json!({"kind": "sub_branch"}),
    )
    .await
    .expect_problem(400, None);

    for q in ["vi thanh", "VỊ THANH", "thanh  vi", "Vị%20Thanh"] {
        let found = app
            .get(&format!("/api/v1/organizations?q={q}"), &admin)
            .await;
        assert_eq!(codes(&found.body), ["VT"], "q={q}");
    }
    app.patch(
        "/api/v1/organizations/NB",
        &admin,
        "\"1\"",
        json!({"name": "Thị ủy Ngã Bảy"}),
    )
    .await
    .expect(200);
    let found = app.get("/api/v1/organizations?q=nga%20bay", &admin).await;
    assert_eq!(codes(&found.body), ["NB"]);
    let found = app.get("/api/v1/organizations?q=dang", &admin).await;
    assert!(codes(&found.body).is_empty());
}

#[tokio::test]
async fn lists_page_with_a_stable_cursor_and_filter_by_kind() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/organizations?limit=2".to_string();
    loop {
        let page = app.get(&path, &admin).await;
        page.expect(200);
        seen.extend(codes(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/organizations?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["HG", "NB", "NB.CB", "VT", "VT.P1", "VT.P1.A", "VT.P1.B"]
    );
    let subs = app
        .get("/api/v1/organizations?kind=sub_branch", &admin)
        .await;
    assert_eq!(codes(&subs.body), ["VT.P1.A", "VT.P1.B"]);
    app.get("/api/v1/organizations?under=NOPE", &admin)
        .await
        .expect_problem(404, None);
}
