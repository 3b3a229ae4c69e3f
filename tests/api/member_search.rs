//! The member list's two plans give the same pages. The list walks the name index for a
//! subtree that holds a good share of the members, and starts from the subtree's members for
//! a small share (`src/store/members/list.rs`, `choose`); which one runs depends on the
//! subtree's share of the organisations, the page size and the filters. Here subtree A holds
//! 5 of 16 organisations: its pages of 1 are walked, its pages of 50 and its name searches
//! start from its members, and the whole province is always walked. Every listing must be
//! the whole province's listing (walked) filtered to A, in the same order, page after page.

use party_records::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// HG ─┬─ A ── A.P ── A.P.1 … A.P.3 (sub-branches)
///     └─ B ── B.P ── B.P.1 … B.P.8
async fn tree(app: &TestApp, admin: &str) {
    app.org(admin, "HG", "provincial_committee", None, "2004-01-01")
        .await;
    for side in ["A", "B"] {
        app.org(
            admin,
            side,
            "subordinate_committee",
            Some("HG"),
            "2004-01-01",
        )
        .await;
        let committee = format!("{side}.P");
        app.org(
            admin,
            &committee,
            "grassroots_committee",
            Some(side),
            "2004-01-01",
        )
        .await;
        let branches = if side == "A" { 3 } else { 8 };
        for n in 1..=branches {
            app.org(
                admin,
                &format!("{committee}.{n}"),
                "sub_branch",
                Some(&committee),
                "2004-01-01",
            )
            .await;
        }
    }
}

/// Every page of `path` (which has no cursor) with `limit`, as (profile, organisation) pairs.
async fn all_pages(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<(String, String)> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let first = format!("{path}{sep}limit={limit}");
    let mut url = first.clone();
    let mut seen = Vec::new();
    loop {
        let page = app.get(&url, token).await;
        page.expect(200);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        seen.extend(items.iter().map(|m: &Value| {
            (
                m["profile_number"].as_str().unwrap().to_string(),
                m["organization_code"].as_str().unwrap().to_string(),
            )
        }));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => url = format!("{first}&cursor={cursor}"),
            None => break,
        }
    }
    seen
}

fn in_a(list: &[(String, String)]) -> Vec<(String, String)> {
    list.iter()
        .filter(|(_, org)| org.starts_with("A."))
        .cloned()
        .collect()
}

#[tokio::test]
async fn walked_and_subtree_plans_give_the_same_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    tree(&app, &admin).await;
    let leaves: Vec<String> = (1..=3)
        .map(|n| format!("A.P.{n}"))
        .chain((1..=8).map(|n| format!("B.P.{n}")))
        .collect();
    // 30 members, with repeated names (equal sort keys, ordered by id) in both subtrees.
    let families = ["Nguyễn", "Trần", "Lê"];
    let middles = ["Văn", "Thị"];
    let givens = ["An", "Bình", "Hoa", "An", "Mai"];
    let mut n = 0;
    for family in families {
        for middle in middles {
            for given in givens {
                n += 1;
                let admitted = if n % 2 == 0 {
                    "2015-05-19"
                } else {
                    "2016-05-19"
                };
                let body = json!({
                    "profile_number": format!("S-{n:03}"),
                    "full_name": format!("{family} {middle} {given}"),
                    "gender": if middle == "Thị" { "female" } else { "male" },
                    "born_on": "1990-03-15",
                    "organization_code": leaves[(n * 7) % leaves.len()],
                    "admitted_on": admitted,
                    "ceremony_on": admitted,
                });
                app.post("/api/v1/members", &admin, body).await.expect(201);
            }
        }
    }
    app.insert_user("a-clerk", Role::Clerk, Some("A"));
    let clerk = app.token("a-clerk").await;

    for filters in [
        "",
        "q=van",
        "q=tran%20an",
        "q=an",
        "admitted_year=2016",
        "status=probationary",
        "on=2024-01-01",
        "q=thi&on=2024-01-01&admitted_year=2015",
    ] {
        // The whole province, walked by the administrator: the reference order.
        let path = format!("/api/v1/members?{filters}");
        let province = all_pages(&app, &admin, &path, 500).await;
        let expected = in_a(&province);
        assert!(!expected.is_empty(), "{filters}: nothing in A");
        for limit in [1, 2, 50] {
            let under = format!("/api/v1/members?under=A&{filters}");
            assert_eq!(
                all_pages(&app, &admin, &under, limit).await,
                expected,
                "under=A, {filters}, pages of {limit}"
            );
            assert_eq!(
                all_pages(&app, &clerk, &path, limit).await,
                expected,
                "clerk of A, {filters}, pages of {limit}"
            );
        }
        assert_eq!(
            all_pages(&app, &admin, &path, 2).await,
            province,
            "{filters}: the province in pages of 2"
        );
    }
}
