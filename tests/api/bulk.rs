//! Bulk import and export through HTTP: atomic, idempotent, the same rules as one record at a
//! time, row-level errors, streamed bodies, and an export that imports back into an empty
//! database with the same records and the same statistics.

use party_records::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Answer, TestApp};

impl TestApp {
    /// POSTs a raw body to the import of `kind`.
    pub async fn import(
        &self,
        token: &str,
        kind: &str,
        query: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let url = self.url(&format!("/api/v1/imports/{kind}{query}"));
        let res = self
            .client
            .post(url)
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        Answer::read(res).await
    }

    pub async fn import_csv(&self, token: &str, kind: &str, csv: &str) -> Answer {
        self.import(token, kind, "", "text/csv", csv.to_string())
            .await
    }

    /// The export of `kind` as text.
    pub async fn export(&self, token: &str, kind: &str, query: &str) -> String {
        let answer = self
            .get(&format!("/api/v1/exports/{kind}{query}"), token)
            .await;
        answer.expect(200);
        answer.text
    }

    async fn count(&self, token: &str, path: &str) -> usize {
        let answer = self.get(path, token).await;
        answer.expect(200);
        answer.body["items"].as_array().unwrap().len()
    }
}

const ORGS: &str = "code,name,kind,parent_code,established_on,dissolved_on,has_branch_committee
HG,Đảng bộ tỉnh Hậu Giang,provincial_committee,,01/01/2004,,
VT,Đảng bộ thành phố Vị Thanh,Đảng bộ cấp trên trực tiếp cơ sở,HG,2004-01-01,,
P1,Đảng bộ Phường I,grassroots_committee,VT,2004-01-01,,true
A1,Chi bộ Khu vực 1,sub_branch,P1,2004-01-01,,
NB,Đảng bộ thành phố Ngã Bảy,subordinate_committee,HG,2004-01-01,,
B1,Chi bộ Cơ quan,grassroots_branch,NB,2004-01-01,,
";

const MEMBERS: &str = "\u{feff}profile_number,card_number,full_name,gender,born_on,ethnicity,religion,national_id,organization_code,organization_since,admitted_on,ceremony_on,official_on,exempt_since,left_on,leave_reason
HG-001,CARD-1,Nguyễn Văn An,nam,15/03/1980,Kinh,,093080001234,A1,,2005-05-19,2005-05-19,2006-05-19,,,
HG-002,,\"Trần Thị Bình\",Nữ,1985-07-01,Khmer,Phật giáo,,A1,,2010-02-03,2010-02-03,2011-02-03,,,
HG-003,,Lê Văn Cường,male,1950-01-01,Kinh,,,B1,2004-01-01,1975-01-01,1975-01-01,1976-01-01,2015-01-01,,
HG-004,,Phạm Văn Dũng,male,1970-01-01,,,,B1,2004-01-01,1995-01-01,1995-01-01,1996-01-01,,2020-06-01,từ trần
";

async fn loaded(app: &TestApp, token: &str) {
    app.import_csv(token, "organizations", ORGS)
        .await
        .expect(200);
    app.import_csv(token, "members", MEMBERS).await.expect(200);
}

#[tokio::test]
async fn a_csv_with_vietnamese_labels_and_dates_is_imported_once_and_then_unchanged() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let first = app.import_csv(&admin, "organizations", ORGS).await;
    first.expect(200);
    assert_eq!(
        first.body,
        json!({"kind": "organizations", "dry_run": false, "rows": 6, "inserted": 6, "updated": 0, "unchanged": 0})
    );
    let members = app.import_csv(&admin, "members", MEMBERS).await;
    members.expect(200);
    assert_eq!(members.body["inserted"], 4);

    // The same files again change nothing.
    let again = app.import_csv(&admin, "organizations", ORGS).await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 6);
    let again = app.import_csv(&admin, "members", MEMBERS).await;
    again.expect(200);
    assert_eq!(
        (
            again.body["unchanged"].as_i64(),
            again.body["inserted"].as_i64()
        ),
        (Some(4), Some(0)),
        "{}",
        again.text
    );

    let an = app.get("/api/v1/members/HG-001", &admin).await;
    an.expect(200);
    assert_eq!(an.body["born_on"], "1980-03-15");
    assert_eq!(an.body["gender"], "male");
    assert_eq!(an.body["status"], "full");
    let binh = app.get("/api/v1/members/HG-002", &admin).await;
    assert_eq!(binh.body["gender"], "female");
    assert_eq!(binh.body["religion"], "Phật giáo");
    let cuong = app.get("/api/v1/members/HG-003", &admin).await;
    assert_eq!(cuong.body["exempt"], true);
    let dung = app.get("/api/v1/members/HG-004", &admin).await;
    assert_eq!(dung.body["status"], "left");
    assert_eq!(dung.body["leave_reason"], "deceased");
    let vt = app.get("/api/v1/organizations/VT", &admin).await;
    assert_eq!(vt.body["kind"], "subordinate_committee");
    assert_eq!(vt.body["parent_code"], "HG");
}

#[tokio::test]
async fn an_upsert_updates_what_changed_and_insert_mode_refuses_existing_keys() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let changed = MEMBERS.replace("Nguyễn Văn An", "Nguyễn Văn Ân");
    let answer = app.import_csv(&admin, "members", &changed).await;
    answer.expect(200);
    assert_eq!(
        (
            answer.body["updated"].as_i64(),
            answer.body["unchanged"].as_i64()
        ),
        (Some(1), Some(3))
    );
    let an = app.get("/api/v1/members/HG-001", &admin).await;
    assert_eq!(an.body["full_name"], "Nguyễn Văn Ân");
    assert_eq!(an.body["version"], 2);

    let insert = app
        .import(
            &admin,
            "members",
            "?mode=insert",
            "text/csv",
            MEMBERS.to_string(),
        )
        .await;
    insert.expect_problem(422, Some("import.exists"));
    assert_eq!(insert.body["total_errors"], 4);
    assert_eq!(insert.body["errors"][0]["row"], 1);
}

#[tokio::test]
async fn dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app
        .import(&admin, "organizations", "?dry_run=true", "text/csv", ORGS)
        .await;
    answer.expect(200);
    assert_eq!(answer.body["dry_run"], true);
    assert_eq!(answer.body["inserted"], 6);
    assert_eq!(app.count(&admin, "/api/v1/organizations").await, 0);
}

#[tokio::test]
async fn json_arrays_and_ndjson_are_read_like_csv() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let orgs = json!([
        {"code": "HG", "name": "Tỉnh", "kind": "provincial_committee", "established_on": "2004-01-01"},
        {"code": "VT", "name": "Vị Thanh", "kind": "subordinate_committee", "parent_code": "HG", "established_on": "2004-01-01", "dissolved_on": null},
        {"code": "B1", "name": "Chi bộ 1", "kind": "grassroots_branch", "parent_code": "VT", "established_on": "2004-01-01"}
    ]);
    app.import(
        &admin,
        "organizations",
        "",
        "application/json",
        orgs.to_string(),
    )
    .await
    .expect(200);
    let lines = [
        json!({"organization_code": "VT", "year": 2024, "target": 10}),
        json!({"organization_code": "B1", "year": 2024, "target": 2}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let answer = app
        .import(
            &admin,
            "admission-targets",
            "",
            "application/x-ndjson",
            lines.clone(),
        )
        .await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 2);
    let changed = lines.replace("\"target\":2", "\"target\":3");
    let answer = app
        .import(
            &admin,
            "admission-targets",
            "",
            "application/x-ndjson",
            changed,
        )
        .await;
    answer.expect(200);
    assert_eq!(
        (
            answer.body["updated"].as_i64(),
            answer.body["unchanged"].as_i64()
        ),
        (Some(1), Some(1))
    );
    // A number where text belongs, in JSON.
    let bad = json!([{"code": 12, "name": "X", "kind": "grassroots_branch", "parent_code": "VT", "established_on": "2004-01-01"}]);
    app.import(
        &admin,
        "organizations",
        "",
        "application/json",
        bad.to_string(),
    )
    .await
    .expect_problem(422, Some("invalid"));
}

/// Every kind of bad input answers 422 (or 413/415) naming the row, and leaves the database as
/// it was.
#[tokio::test]
async fn bad_input_is_refused_with_row_errors_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let header = "profile_number,full_name,gender,born_on,organization_code,admitted_on\n";
    let good = "HG-100,Võ Văn Em,male,1990-01-01,A1,2015-01-01\n";
    let cases: Vec<(&str, String, &str, Option<usize>)> = vec![
        (
            "missing column",
            "profile_number,full_name,gender,born_on,admitted_on\nHG-100,Võ Văn Em,male,1990-01-01,2015-01-01\n".into(),
            "import.missing_column",
            Some(0),
        ),
        (
            "unknown column",
            "profile_number,full_name,gender,born_on,organization_code,admitted_on,shoe_size\nHG-100,Võ Văn Em,male,1990-01-01,A1,2015-01-01,42\n".into(),
            "import.unknown_column",
            Some(0),
        ),
        (
            "duplicate key",
            format!("{header}{good}{good}"),
            "import.duplicate_key",
            Some(2),
        ),
        (
            "unknown organisation",
            format!("{header}{good}HG-101,Võ Thị Gấm,female,1990-01-01,NOPE,2015-01-01\n"),
            "member.organization_not_found",
            Some(2),
        ),
        (
            "impossible date",
            format!("{header}{good}HG-101,Võ Thị Gấm,female,31/02/1990,A1,2015-01-01\n"),
            "invalid",
            Some(2),
        ),
        (
            "a number where a name belongs",
            format!("{header}HG-101,12345,female,1990-01-01,A1,2015-01-01\n"),
            "invalid",
            Some(1),
        ),
        (
            "text where a date belongs",
            format!("{header}HG-101,Võ Thị Gấm,female,yesterday,A1,2015-01-01\n"),
            "invalid",
            Some(1),
        ),
        (
            "a domain rule (admitted at 15)",
            format!("{header}HG-101,Võ Thị Gấm,female,2000-01-01,A1,2015-01-01\n"),
            "member.admission_age",
            Some(1),
        ),
        (
            "an empty required cell",
            format!("{header}HG-101,,female,1990-01-01,A1,2015-01-01\n"),
            "required",
            Some(1),
        ),
        (
            "broken quote",
            format!("{header}{good}HG-101,\"Võ Thị Gấm,female,1990-01-01,A1,2015-01-01\n"),
            "import.unreadable",
            Some(2),
        ),
        (
            // Read leniently, the open quote of the last cell swallows the next row whole.
            "a quote never closed",
            "profile_number,full_name,gender,born_on,organization_code,admitted_on,religion\n\
             HG-100,Võ Văn Em,male,1990-01-01,A1,2015-01-01,\"Phật giáo\n\
             HG-101,Võ Thị Gấm,female,1990-01-01,A1,2015-01-01,Không\n"
                .into(),
            "import.unreadable",
            Some(1),
        ),
        (
            "a stray quote",
            format!("{header}HG-100,Võ Văn \"Em\",male,1990-01-01,A1,2015-01-01\n"),
            "import.unreadable",
            Some(1),
        ),
    ];
    for (what, body, code, row) in cases {
        let answer = app.import_csv(&admin, "members", &body).await;
        assert_eq!(answer.status.as_u16(), 422, "{what}: {}", answer.text);
        answer.expect_problem(422, Some(code));
        if let Some(row) = row {
            let rows: Vec<i64> = answer.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["code"] == code)
                .map(|e| e["row"].as_i64().unwrap())
                .collect();
            assert!(
                rows.contains(&(row as i64)),
                "{what}: row {row} expected: {}",
                answer.text
            );
        }
        assert!(
            app.get("/api/v1/members/HG-100", &admin)
                .await
                .status
                .as_u16()
                == 404,
            "{what}: a good row was written"
        );
    }
    let rule = app
        .import_csv(
            &admin,
            "members",
            &format!("{header}HG-101,Võ Thị Gấm,female,2000-01-01,A1,2015-01-01\n"),
        )
        .await;
    let error = &rule.body["errors"][0];
    assert_eq!(error["field"], "admitted_on", "{}", rule.text);
    assert!(error["message"].as_str().unwrap().len() > 10);

    // Invalid UTF-8, an empty body, a wrong content type, a body over the limit.
    let invalid = app
        .import(
            &admin,
            "members",
            "",
            "text/csv",
            b"profile_number,full_name\nHG-100,V\xff\xfe\n".to_vec(),
        )
        .await;
    invalid.expect_problem(422, Some("import.unreadable"));
    for content_type in ["text/csv", "application/json", "application/x-ndjson"] {
        app.import(&admin, "members", "", content_type, "")
            .await
            .expect_problem(422, Some("import.unreadable"));
    }
    // A header without rows is a file with no records (an export of an empty table), but its
    // columns are checked all the same.
    let nothing = app.import(&admin, "members", "", "text/csv", header).await;
    nothing.expect(200);
    assert_eq!(nothing.body["rows"], 0);
    let wrong = app
        .import(&admin, "members", "", "text/csv", "shoe_size,foo\n")
        .await;
    wrong.expect_problem(422, Some("import.unknown_column"));
    assert_eq!(wrong.body["errors"][0]["row"], 0, "{}", wrong.text);
    app.import(&admin, "members", "", "text/plain", "x")
        .await
        .expect_problem(415, None);
    let huge = format!("{header}{}", good.repeat(9 * 1024 * 1024 / good.len()));
    app.import(&admin, "members", "", "text/csv", huge)
        .await
        .expect_problem(413, None);
    // A streamed body over the limit (no Content-Length) is cut off too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..200)
        .map(|_| Ok(good.repeat(1024).into_bytes()))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    app.import(
        &admin,
        "members",
        "",
        "text/csv",
        reqwest::Body::wrap_stream(stream),
    )
    .await
    .expect_problem(413, None);
    // Unknown kinds and query parameters.
    app.import(&admin, "planets", "", "text/csv", good)
        .await
        .expect_problem(404, None);
    app.import(&admin, "members", "?mode=merge", "text/csv", good)
        .await
        .expect_problem(400, None);
    assert_eq!(app.count(&admin, "/api/v1/members").await, 4);
}

/// A key given twice far apart (rows 2 and 1,500: different batches of the writer, the first
/// long written when the second comes) and a key given three times (rows 10, 700 and 1,200) are
/// refused in both modes: each repeated row reported once with `import.duplicate_key`, the
/// first occurrences not, the errors in row order, and nothing written. The repeats are found
/// when the whole file is read, so in `mode=insert` a repeat of a key written by an earlier
/// batch also gets the writer's own `import.exists`: one failed row, two errors.
#[tokio::test]
async fn keys_repeated_far_apart_are_refused_once_per_row_in_both_modes_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let mut body =
        String::from("profile_number,full_name,gender,born_on,organization_code,admitted_on\n");
    for row in 1..=1500 {
        let (number, name) = match row {
            1500 => (1002, "Võ Thị Gấm"),
            700 | 1200 => (1010, "Võ Thị Gấm"),
            _ => (1000 + row, "Võ Văn Em"),
        };
        body.push_str(&format!(
            "HG-{number},{name},female,1990-01-01,A1,2015-01-01\n"
        ));
    }
    let members_before = app.count(&admin, "/api/v1/members").await;
    for mode in ["upsert", "insert"] {
        let answer = app
            .import(
                &admin,
                "members",
                &format!("?mode={mode}"),
                "text/csv",
                body.clone(),
            )
            .await;
        answer.expect_problem(422, Some("import.duplicate_key"));
        let errors = answer.body["errors"].as_array().unwrap();
        let rows_with = |code: &str| -> Vec<i64> {
            errors
                .iter()
                .filter(|e| e["code"] == code)
                .map(|e| e["row"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            rows_with("import.duplicate_key"),
            [700, 1200, 1500],
            "{mode}: {}",
            answer.text
        );
        assert!(errors
            .iter()
            .filter(|e| e["code"] == "import.duplicate_key")
            .all(|e| e["field"] == "profile_number"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("appears on an earlier row")));
        let rows: Vec<i64> = errors.iter().map(|e| e["row"].as_i64().unwrap()).collect();
        assert!(
            rows.windows(2).all(|w| w[0] <= w[1]),
            "{mode}: errors out of row order: {rows:?}"
        );
        // Rows 1,200 and 1,500 repeat keys written by an earlier batch (row 700 is a repeat
        // within its batch, left out of the writing).
        let (exists, total) = match mode {
            "insert" => (vec![1200, 1500], 5),
            _ => (vec![], 3),
        };
        assert_eq!(
            rows_with("import.exists"),
            exists,
            "{mode}: {}",
            answer.text
        );
        assert_eq!(
            answer.body["total_errors"], total,
            "{mode}: {}",
            answer.text
        );
        assert_eq!(
            answer.body["detail"],
            format!("3 of 1500 rows have errors ({total} in all); nothing was imported."),
            "{mode}: failed rows counted once"
        );
        assert_eq!(
            app.count(&admin, "/api/v1/members").await,
            members_before,
            "{mode}: a row was written"
        );
        for number in ["HG-1001", "HG-1002", "HG-1010", "HG-2499"] {
            assert_eq!(
                app.get(&format!("/api/v1/members/{number}"), &admin)
                    .await
                    .status
                    .as_u16(),
                404,
                "{mode}: {number} was written"
            );
        }
    }
}

/// The members writer looks each organisation up once for the file
/// (`store::organizations::Known`): a later batch (rows from 1,001) that names the same codes
/// as the first gets the same answers, for a branch in the clerk's scope, one outside it
/// (`scope`) and one that does not exist.
#[tokio::test]
async fn organisations_named_again_in_a_later_batch_are_judged_as_in_the_first() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    app.insert_user("clerk", Role::Clerk, Some("VT"));
    let clerk = app.token("clerk").await;
    let file = |bad: bool| {
        let mut body =
            String::from("profile_number,full_name,gender,born_on,organization_code,admitted_on\n");
        for row in 1..=1500 {
            let org = match row {
                5 | 1205 if bad => "B1",
                6 | 1206 if bad => "NOPE",
                _ => "A1",
            };
            body.push_str(&format!(
                "VT-{row:05},Võ Văn Em,male,1990-01-01,{org},2015-01-01\n"
            ));
        }
        body
    };
    let refused = app.import_csv(&clerk, "members", &file(true)).await;
    refused.expect_problem(422, None);
    let errors: Vec<(i64, String, String)> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, String)> = [
        (5, "scope"),
        (6, "member.organization_not_found"),
        (1205, "scope"),
        (1206, "member.organization_not_found"),
    ]
    .into_iter()
    .map(|(row, code)| (row, "organization_code".to_string(), code.to_string()))
    .collect();
    assert_eq!(errors, expected, "{}", refused.text);
    let imported = app.import_csv(&clerk, "members", &file(false)).await;
    imported.expect(200);
    assert_eq!(imported.body["inserted"], 1500, "{}", imported.text);
    let member = app.get("/api/v1/members/VT-01205", &admin).await;
    assert_eq!(member.body["organization_code"], "A1", "{}", member.text);
}

#[tokio::test]
async fn at_most_a_thousand_errors_are_listed_with_the_total() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let mut body = String::from("organization_code,year,target\n");
    for i in 0..1500 {
        body.push_str(&format!("NOPE{i},2024,1\n"));
    }
    let answer = app.import_csv(&admin, "admission-targets", &body).await;
    answer.expect_problem(422, Some("admission_target.organization_not_found"));
    assert_eq!(answer.body["errors"].as_array().unwrap().len(), 1000);
    assert_eq!(answer.body["total_errors"], 1500);
    assert_eq!(answer.body["errors"][999]["row"], 1000);
}

#[tokio::test]
async fn rows_outside_the_scope_or_the_role_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    app.insert_user("clerk", Role::Clerk, Some("VT"));
    app.insert_user("inspector", Role::Inspector, Some("VT"));
    app.insert_user("auditor", Role::Auditor, Some("VT"));
    let clerk = app.token("clerk").await;
    // B1 lies under NB, outside VT.
    let answer = app
        .import_csv(
            &clerk,
            "admission-targets",
            "organization_code,year,target\nP1,2024,3\nB1,2024,2\n",
        )
        .await;
    answer.expect_problem(422, Some("scope"));
    assert_eq!(answer.body["errors"][0]["row"], 2);
    assert_eq!(answer.body["errors"][0]["field"], "organization_code");
    let members = app
        .import_csv(
            &clerk,
            "member-ratings",
            "profile_number,year,level\nHG-001,2024,HTXSNV\nHG-003,2024,exempt\n",
        )
        .await;
    members.expect_problem(422, Some("scope"));
    assert_eq!(members.body["total_errors"], 1);
    // Inside the scope the same rows go in.
    app.import_csv(
        &clerk,
        "member-ratings",
        "profile_number,year,level\nHG-001,2024,HTXSNV\n",
    )
    .await
    .expect(200);
    let rating = app.get("/api/v1/ratings/members/HG-001/2024", &admin).await;
    assert_eq!(rating.body["level"], "excellent");

    // Roles: clerks do not import discipline, inspectors do not import members: each row is
    // refused with code `scope`. Auditors import nothing (403).
    let discipline = "subject_type,subject,form,decision_number,authority_code,decided_on\nmember,HG-002,khiển trách,12-QĐ,VT,2024-05-01\n";
    let by_clerk = app
        .import_csv(&clerk, "disciplinary-actions", discipline)
        .await;
    by_clerk.expect_problem(422, Some("scope"));
    assert_eq!(by_clerk.body["errors"][0]["row"], 1);
    let inspector = app.token("inspector").await;
    let by_inspector = app.import_csv(&inspector, "members", MEMBERS).await;
    by_inspector.expect_problem(422, Some("scope"));
    assert_eq!(
        by_inspector.body["total_errors"], 4,
        "{}",
        by_inspector.text
    );
    let dry = app
        .import(&inspector, "members", "?dry_run=true", "text/csv", MEMBERS)
        .await;
    dry.expect_problem(422, Some("scope"));
    let auditor = app.token("auditor").await;
    app.import_csv(
        &auditor,
        "admission-targets",
        "organization_code,year,target\nP1,2024,3\n",
    )
    .await
    .expect_problem(403, None);
    let imported = app
        .import_csv(&inspector, "disciplinary-actions", discipline)
        .await;
    imported.expect(200);
    assert_eq!(imported.body["inserted"], 1);
    // An inspector's decision about a member outside their scope (HG-003 is in B1, under NB).
    let outside = app
        .import_csv(
            &inspector,
            "disciplinary-actions",
            "subject_type,subject,form,decision_number,authority_code,decided_on\nmember,HG-003,khiển trách,13-QĐ,VT,2024-05-01\n",
        )
        .await;
    outside.expect_problem(422, Some("scope"));
    assert_eq!(
        outside.body["errors"][0]["field"], "subject",
        "{}",
        outside.text
    );
    // An override is an administrator's: from anyone else it is a scope error of the row.
    let overridden = app
        .import_csv(
            &clerk,
            "member-ratings",
            "profile_number,year,level,override_reason\nHG-001,2023,good,late entry\n",
        )
        .await;
    overridden.expect_problem(422, Some("scope"));
}

#[tokio::test]
async fn imported_records_have_the_effects_of_records_entered_one_by_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    // An imported expulsion takes the member off the roll.
    let expulsion = "subject_type,subject,form,decision_number,authority_code,decided_on,announced_on\nmember,HG-002,expulsion,7-QĐ/UBKT,VT,2024-03-01,2024-03-05\n";
    app.import_csv(&admin, "disciplinary-actions", expulsion)
        .await
        .expect(200);
    let binh = app.get("/api/v1/members/HG-002", &admin).await;
    assert_eq!(binh.body["status"], "left");
    assert_eq!(binh.body["leave_reason"], "expelled");
    assert_eq!(binh.body["left_on"], "2024-03-01");
    // Importing the decision again changes nothing.
    let again = app
        .import_csv(&admin, "disciplinary-actions", expulsion)
        .await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 1);

    // A legacy register row that says "expelled" needs no decision, and the decision imported
    // afterwards agrees with it.
    let legacy = "profile_number,full_name,gender,born_on,organization_code,organization_since,admitted_on,left_on,leave_reason\nHG-200,Đỗ Văn Hải,male,1970-01-01,B1,2004-01-01,1995-01-01,2019-04-01,khai trừ\n";
    app.import_csv(&admin, "members", legacy).await.expect(200);
    let decision = "subject_type,subject,form,decision_number,authority_code,decided_on\nmember,HG-200,khai trừ,3-QĐ,NB,2019-04-01\n";
    app.import_csv(&admin, "disciplinary-actions", decision)
        .await
        .expect(200);
    // One gap from the expulsion: the decision agreeing with the register row opens it once.
    let hai = app.get("/api/v1/members/HG-200/party-age", &admin).await;
    hai.expect(200);
    let gaps = hai.body["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{}", hai.text);
    assert_eq!(
        (&gaps[0]["reason"], &gaps[0]["starts_on"]),
        (&json!("expelled"), &json!("2019-04-01"))
    );

    // Transfers and positions; a transfer dated before a departure already recorded.
    app.import_csv(
        &admin,
        "transfers",
        "profile_number,organization_code,on\nHG-001,B1,2022-01-01\nHG-004,A1,2010-01-01\n",
    )
    .await
    .expect(200);
    let an = app.get("/api/v1/members/HG-001", &admin).await;
    assert_eq!(an.body["organization_code"], "B1");
    let history = app.get("/api/v1/members/HG-004/history", &admin).await;
    history.expect(200);
    app.import_csv(
        &admin,
        "positions",
        "profile_number,title,organization_code,from,to\nHG-001,Bí thư chi bộ,B1,2022-01-01,\n",
    )
    .await
    .expect(200);
    let ended = app
        .import_csv(
            &admin,
            "positions",
            "profile_number,title,organization_code,from,to\nHG-001,Bí thư chi bộ,B1,2022-01-01,2024-01-01\n",
        )
        .await;
    ended.expect(200);
    assert_eq!(ended.body["updated"], 1);
    // A change that is not an edit of the record is a conflict, not a silent overwrite.
    let conflict = app
        .import_csv(
            &admin,
            "disciplinary-actions",
            &expulsion.replace("expulsion", "warning"),
        )
        .await;
    conflict.expect_problem(422, Some("import.conflicts_with_record"));
}

/// A file imported again with other values: what no API edits (a decision's facts, an award's
/// decision) is refused, not reported unchanged; `mode=insert` refuses every key that exists,
/// even in a row that would change nothing; a member row and a dissolution decision that agree
/// with history already recorded are not errors, one that disagrees is.
#[tokio::test]
async fn a_second_import_refuses_what_it_cannot_change() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let head = "subject_type,subject,form,decision_number,authority_code,decided_on,announced_on,violation";
    let expulsion =
        format!("{head}\nmember,HG-002,expulsion,7-QĐ/UBKT,VT,2024-03-01,2024-03-05,\n");
    app.import_csv(&admin, "disciplinary-actions", &expulsion)
        .await
        .expect(200);
    for (column, row) in [
        (
            "violation",
            "member,HG-002,expulsion,7-QĐ/UBKT,VT,2024-03-01,2024-03-05,Vi phạm khác",
        ),
        (
            "announced_on",
            "member,HG-002,expulsion,7-QĐ/UBKT,VT,2024-03-01,2024-03-06,",
        ),
    ] {
        let changed = app
            .import_csv(&admin, "disciplinary-actions", &format!("{head}\n{row}\n"))
            .await;
        changed.expect_problem(422, Some("import.conflicts_with_record"));
        assert_eq!(
            changed.body["errors"][0]["field"], column,
            "{}",
            changed.text
        );
    }
    let same = app
        .import_csv(&admin, "disciplinary-actions", &expulsion)
        .await;
    same.expect(200);
    assert_eq!(same.body["unchanged"], 1);
    // The register row written after the decision agrees with it.
    let register = "profile_number,full_name,gender,born_on,organization_code,admitted_on,left_on,leave_reason\nHG-002,Trần Thị Bình,female,1985-07-01,A1,2010-02-03,2024-03-01,khai trừ\n";
    app.import_csv(&admin, "members", register)
        .await
        .expect(200);
    let binh = app.get("/api/v1/members/HG-002", &admin).await;
    assert_eq!(
        (&binh.body["leave_reason"], &binh.body["left_on"]),
        (&json!("expelled"), &json!("2024-03-01"))
    );

    let awards = "profile_number,tier,awarded_on,decision_number\n";
    let award = format!("{awards}HG-003,30,2010-09-02,12-QĐ/TU\n");
    app.import_csv(&admin, "insignia-awards", &award)
        .await
        .expect(200);
    let other = app
        .import_csv(
            &admin,
            "insignia-awards",
            &format!("{awards}HG-003,30,2010-09-02,13-QĐ/TU\n"),
        )
        .await;
    other.expect_problem(422, Some("import.conflicts_with_record"));
    assert_eq!(other.body["errors"][0]["field"], "decision_number");

    // mode=insert: an existing key is refused even when its row changes nothing.
    let targets = "organization_code,year,target\nHG,2024,100\n";
    app.import_csv(&admin, "admission-targets", targets)
        .await
        .expect(200);
    for (kind, body) in [
        ("admission-targets", targets.to_string()),
        ("insignia-awards", award.clone()),
        ("disciplinary-actions", expulsion.clone()),
        ("organizations", ORGS.to_string()),
    ] {
        let insert = app
            .import(&admin, kind, "?mode=insert", "text/csv", body)
            .await;
        insert.expect_problem(422, Some("import.exists"));
    }

    // Dissolutions: the organisations file records one, the decision behind it agrees; a
    // decision on another day does not.
    let orgs = "code,name,kind,parent_code,established_on,dissolved_on\n\
                C1,Chi bộ Khu vực 2,grassroots_branch,NB,2004-01-01,2024-06-01\n\
                C2,Chi bộ Khu vực 3,grassroots_branch,NB,2004-01-01,2024-06-01\n";
    app.import_csv(&admin, "organizations", orgs)
        .await
        .expect(200);
    let dissolutions = "subject_type,subject,form,decision_number,authority_code,decided_on\n";
    app.import_csv(
        &admin,
        "disciplinary-actions",
        &format!("{dissolutions}organization,C1,giải tán,9-QĐ/UBKT,NB,2024-06-01\n"),
    )
    .await
    .expect(200);
    let c1 = app.get("/api/v1/organizations/C1", &admin).await;
    assert_eq!(c1.body["dissolved_on"], "2024-06-01");
    let later = app
        .import_csv(
            &admin,
            "disciplinary-actions",
            &format!("{dissolutions}organization,C2,dissolution,10-QĐ/UBKT,NB,2024-07-01\n"),
        )
        .await;
    assert_eq!(later.status.as_u16(), 422, "{}", later.text);
}

/// The tree's history: moves imported as `POST /organizations/{code}/move` records them,
/// unchanged when imported again; the organisations file gives each organisation's first
/// parent (a later one is accepted too), and the export writes both files.
#[tokio::test]
async fn organisation_moves_are_imported_and_exported_as_the_tree_s_history() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let head = "code,parent_code,on\n";
    let moves = format!("{head}B1,VT,2020-01-01\n");
    let answer = app.import_csv(&admin, "organization-moves", &moves).await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 1, "{}", answer.text);
    let b1 = app.get("/api/v1/organizations/B1", &admin).await;
    assert_eq!(b1.body["parent_code"], "VT");
    let again = app.import_csv(&admin, "organization-moves", &moves).await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 1);
    for (what, row, code) in [
        (
            "another parent that day",
            "B1,NB,2020-01-01",
            "import.conflicts_with_record",
        ),
        (
            "an unknown organisation",
            "ZZ,VT,2021-01-01",
            "organization.not_found",
        ),
        ("a date that does not exist", "B1,NB,31/02/2021", "invalid"),
    ] {
        let refused = app
            .import_csv(&admin, "organization-moves", &format!("{head}{row}\n"))
            .await;
        assert_eq!(refused.status.as_u16(), 422, "{what}: {}", refused.text);
        refused.expect_problem(422, Some(code));
    }
    // The organisations file: B1 under NB, its first parent, agrees with history; so does VT,
    // its parent now; P1 was never its parent.
    let orgs = app.import_csv(&admin, "organizations", ORGS).await;
    orgs.expect(200);
    assert_eq!(orgs.body["unchanged"], 6, "{}", orgs.text);
    let now = ORGS.replace(
        "B1,Chi bộ Cơ quan,grassroots_branch,NB,",
        "B1,Chi bộ Cơ quan,grassroots_branch,VT,",
    );
    app.import_csv(&admin, "organizations", &now)
        .await
        .expect(200);
    let never = ORGS.replace(
        "B1,Chi bộ Cơ quan,grassroots_branch,NB,",
        "B1,Chi bộ Cơ quan,grassroots_branch,P1,",
    );
    app.import_csv(&admin, "organizations", &never)
        .await
        .expect_problem(422, Some("import.conflicts_with_record"));

    let exported = app.export(&admin, "organization-moves", "").await;
    assert!(exported.contains("B1,VT,2020-01-01"), "{exported}");
    let exported = app.export(&admin, "organizations", "").await;
    assert!(
        exported.contains("B1,Chi bộ Cơ quan,grassroots_branch,NB,"),
        "{exported}"
    );
    // A subtree's export: VT's file gives B1 under VT (its first parent, NB, is not in it),
    // and no move.
    let vt = app.export(&admin, "organizations", "?under=VT").await;
    assert!(
        vt.contains("B1,Chi bộ Cơ quan,grassroots_branch,VT,"),
        "{vt}"
    );
    let vt_moves = app.export(&admin, "organization-moves", "?under=VT").await;
    assert!(!vt_moves.contains("B1"), "{vt_moves}");
}

/// Party-age gaps entered by hand, in the API's terms (a reason by its code or its label),
/// unchanged when imported again, refused when stated differently, and exported.
#[tokio::test]
async fn party_age_gaps_are_imported_checked_and_exported() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let head = "profile_number,reason,from,to,note\n";
    let file = format!("{head}HG-001,Mất liên lạc,2008-01-01,31/12/2008,không sinh hoạt\n");
    let answer = app.import_csv(&admin, "party-age-gaps", &file).await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 1, "{}", answer.text);
    let age = app
        .get("/api/v1/members/HG-001/party-age?on=2024-12-31", &admin)
        .await;
    age.expect(200);
    assert_eq!(
        age.body["gaps"][0]["reason"], "lost_contact",
        "{}",
        age.text
    );
    let again = app.import_csv(&admin, "party-age-gaps", &file).await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 1);
    for (what, row, code) in [
        (
            "another end",
            "HG-001,lost_contact,2008-01-01,2009-06-30,",
            "import.conflicts_with_record",
        ),
        (
            "another reason",
            "HG-001,removed,2008-01-01,2008-12-31,",
            "import.conflicts_with_record",
        ),
        (
            "an overlap",
            "HG-001,removed,2008-06-01,2009-06-30,",
            "member.periods_overlap",
        ),
        (
            "an end before the start",
            "HG-002,removed,2019-01-01,2018-01-01,",
            "member.period_out_of_order",
        ),
        (
            "an unknown reason",
            "HG-002,vacation,2019-01-01,2019-02-01,",
            "invalid",
        ),
        ("no end", "HG-002,removed,2019-01-01,,", "required"),
        (
            "an unknown member",
            "HG-999,removed,2019-01-01,2019-02-01,",
            "member.not_found",
        ),
    ] {
        let refused = app
            .import_csv(&admin, "party-age-gaps", &format!("{head}{row}\n"))
            .await;
        assert_eq!(refused.status.as_u16(), 422, "{what}: {}", refused.text);
        refused.expect_problem(422, Some(code));
    }
    let exported = app.export(&admin, "party-age-gaps", "").await;
    assert!(
        exported.contains("HG-001,lost_contact,2008-01-01,2008-12-31,không sinh hoạt"),
        "{exported}"
    );
}

/// Every exemption period of a member, ended ones too (a members row carries only the current
/// one): checked as the API checks them, unchanged when imported again, ended by a later file,
/// and exported.
#[tokio::test]
async fn exemption_periods_are_imported_checked_and_exported() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    // HG-003's exemption since 2015 comes from the members file.
    let head = "profile_number,from,to,reason\n";
    let file = format!(
        "{head}HG-001,2012-01-01,30/06/2013,ốm đau\nHG-001,2016-01-01,,tuổi cao\nHG-003,2015-01-01,,\n"
    );
    let answer = app.import_csv(&admin, "exemptions", &file).await;
    answer.expect(200);
    assert_eq!(
        (&answer.body["inserted"], &answer.body["unchanged"]),
        (&json!(2), &json!(1)),
        "{}",
        answer.text
    );
    let an = app.get("/api/v1/members/HG-001", &admin).await;
    assert_eq!(an.body["exempt_since"], "2016-01-01");
    let again = app.import_csv(&admin, "exemptions", &file).await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 3);
    let ended = app
        .import_csv(
            &admin,
            "exemptions",
            &format!("{head}HG-001,2016-01-01,2018-01-01,\n"),
        )
        .await;
    ended.expect(200);
    assert_eq!(ended.body["updated"], 1);
    let an = app.get("/api/v1/members/HG-001", &admin).await;
    assert_eq!(an.body["exempt"], false, "{}", an.text);

    for (what, row, code) in [
        (
            "another end",
            "HG-001,2016-01-01,2019-01-01,",
            "import.conflicts_with_record",
        ),
        (
            "an overlap",
            "HG-001,2013-01-01,2014-01-01,",
            "member.periods_overlap",
        ),
        (
            "before admission",
            "HG-002,2009-01-01,2009-06-01,",
            "member.before_admission",
        ),
        (
            "an end before the start",
            "HG-002,2019-01-01,2018-01-01,",
            "member.period_out_of_order",
        ),
        (
            "an unknown member",
            "HG-999,2019-01-01,,",
            "member.not_found",
        ),
        (
            "a date that does not exist",
            "HG-002,31/02/2019,,",
            "invalid",
        ),
    ] {
        let refused = app
            .import_csv(&admin, "exemptions", &format!("{head}{row}\n"))
            .await;
        assert_eq!(refused.status.as_u16(), 422, "{what}: {}", refused.text);
        refused.expect_problem(422, Some(code));
    }
    app.insert_user("clerk", Role::Clerk, Some("VT"));
    let clerk = app.token("clerk").await;
    // HG-003 is in B1, under NB: outside VT.
    app.import_csv(
        &clerk,
        "exemptions",
        &format!("{head}HG-003,2010-01-01,2011-01-01,\n"),
    )
    .await
    .expect_problem(422, Some("scope"));

    let exported = app.export(&admin, "exemptions", "").await;
    for line in [
        "HG-001,2012-01-01,2013-06-30,ốm đau",
        "HG-001,2016-01-01,2018-01-01,tuổi cao",
        "HG-003,2015-01-01,,",
    ] {
        assert!(exported.contains(line), "{line} missing from {exported}");
    }
}

/// Rows of a row-by-row kind run in groups under one savepoint until one fails
/// (`import::Writer::one_row`): the failing row's group is undone and its earlier rows written
/// again, so a later row that depends on them is checked as it would be alone.
#[tokio::test]
async fn a_row_that_fails_among_others_is_listed_alone_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    // Row 3 moves HG-001 on from where row 1 put it: without row 1 it would move HG-001 to
    // the organisation it is in already (member.same_organization).
    let transfers = "profile_number,organization_code,on
HG-001,B1,2022-01-01
HG-999,B1,2022-01-01
HG-001,A1,2023-01-01
HG-002,B1,2022-06-01
HG-002,NOPE,2023-06-01
";
    let answer = app.import_csv(&admin, "transfers", transfers).await;
    answer.expect_problem(422, None);
    let errors: Vec<(i64, String)> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (2, "profile_number".to_string()),
            (5, "organization_code".to_string())
        ],
        "{}",
        answer.text
    );
    // Nothing was written.
    for pn in ["HG-001", "HG-002"] {
        let member = app.get(&format!("/api/v1/members/{pn}"), &admin).await;
        assert_eq!(member.body["organization_code"], "A1", "{pn}");
    }
    // Without the failing rows the same file is written whole.
    let good: String = transfers
        .lines()
        .filter(|l| !l.contains("HG-999") && !l.contains("NOPE"))
        .map(|l| format!("{l}\n"))
        .collect();
    let answer = app.import_csv(&admin, "transfers", &good).await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 3, "{}", answer.text);
    let an = app.get("/api/v1/members/HG-001", &admin).await;
    assert_eq!(an.body["organization_code"], "A1");
    let binh = app.get("/api/v1/members/HG-002", &admin).await;
    assert_eq!(binh.body["organization_code"], "B1");
}

/// A register row of a member who left is written with the admission (one batch, no lookup
/// of its own): the same member, history, version and refusals as an admission followed by
/// `POST …/leave`.
#[tokio::test]
async fn a_register_row_that_left_matches_an_admission_then_a_departure() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let header = "profile_number,full_name,gender,born_on,organization_code,organization_since,admitted_on,ceremony_on,official_on,exempt_since,left_on,leave_reason\n";
    app.import_csv(
        &admin,
        "members",
        &format!("{header}HG-300,Võ Văn Em,male,1950-01-01,B1,2004-01-01,1980-01-01,1980-01-01,1981-01-01,2015-01-01,2020-06-01,deceased\n"),
    )
    .await
    .expect(200);
    // The same member entered one by one.
    app.post(
        "/api/v1/members",
        &admin,
        json!({"profile_number": "HG-301", "full_name": "Võ Văn Em", "gender": "male",
               "born_on": "1950-01-01", "organization_code": "B1",
               "organization_since": "2004-01-01", "admitted_on": "1980-01-01",
               "ceremony_on": "1980-01-01", "official_on": "1981-01-01",
               "exempt_since": "2015-01-01"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/members/HG-301/leave",
        &admin,
        json!({"reason": "deceased", "on": "2020-06-01"}),
    )
    .await
    .expect(200);
    let imported = app.get("/api/v1/members/HG-300", &admin).await;
    let entered = app.get("/api/v1/members/HG-301", &admin).await;
    for field in [
        "status",
        "left_on",
        "leave_reason",
        "version",
        "organization_code",
    ] {
        assert_eq!(imported.body[field], entered.body[field], "{field}");
    }
    assert_eq!(imported.body["status"], "left");
    let kinds = |answer: &Answer| -> Vec<(String, String)> {
        answer.body["events"]
            .as_array()
            .expect("history events")
            .iter()
            .map(|e| (e["kind"].to_string(), e["occurred_on"].to_string()))
            .collect()
    };
    let imported = app.get("/api/v1/members/HG-300/history", &admin).await;
    let entered = app.get("/api/v1/members/HG-301/history", &admin).await;
    imported.expect(200);
    assert_eq!(kinds(&imported), kinds(&entered));
    // The exemption and the membership ended on the day: the member counts nowhere after it.
    let on_roll = app
        .get("/api/v1/members?on=2021-01-01&under=NB", &admin)
        .await;
    let numbers: Vec<&str> = on_roll.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["profile_number"].as_str())
        .collect();
    assert!(!numbers.contains(&"HG-300"), "{numbers:?}");

    // A departure the one-by-one path refuses is refused on its row, on left_on, and nothing
    // of the file is written.
    for (row, code) in [
        // On the day the membership starts.
        ("HG-310,Đinh Văn Phú,male,1950-01-01,B1,2004-01-01,1980-01-01,,,,2004-01-01,deceased", "member.overlapping_membership"),
        // Before the admission.
        ("HG-311,Đinh Văn Phú,male,1950-01-01,B1,2004-01-01,1980-01-01,,,,1979-01-01,removed", "member.before_admission"),
        // An exemption from the day of leaving or later.
        ("HG-312,Đinh Văn Phú,male,1950-01-01,B1,2004-01-01,1980-01-01,,,2020-06-01,2020-06-01,deceased", "member.left_the_roll"),
    ] {
        let refused = app
            .import_csv(
                &admin,
                "members",
                &format!("{header}HG-320,Lý Thị Giang,female,1960-01-01,B1,2004-01-01,1985-01-01,,,,,\n{row}\n"),
            )
            .await;
        refused.expect_problem(422, Some(code));
        assert_eq!(refused.body["errors"][0]["row"], 2, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "left_on", "{}", refused.text);
        app.get("/api/v1/members/HG-320", &admin).await.expect(404);
    }
}

/// Organisations are created a batch at a time: a row may sit under an earlier row of the
/// same file at any depth, and the tree they form is the one single creations would build.
#[tokio::test]
async fn an_organisation_file_builds_the_tree_of_single_creations() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.import_csv(&admin, "organizations", ORGS)
        .await
        .expect(200);
    // One file: a committee, a grassroots committee under it and a sub-branch under that,
    // established later than their parents (the closure periods start on their own day).
    let file = "code,name,kind,parent_code,established_on\nLM,Đảng bộ huyện Long Mỹ,subordinate_committee,HG,2010-01-01\nLM1,Đảng bộ xã Long Bình,grassroots_committee,LM,2012-01-01\nLM11,Chi bộ ấp 1,sub_branch,LM1,2015-01-01\n";
    app.import_csv(&admin, "organizations", file)
        .await
        .expect(200);
    // The same shape created one by one.
    for body in [
        json!({"code": "CT", "name": "Đảng bộ huyện Châu Thành", "kind": "subordinate_committee", "parent_code": "HG", "established_on": "2010-01-01"}),
        json!({"code": "CT1", "name": "Đảng bộ xã Đông Phước", "kind": "grassroots_committee", "parent_code": "CT", "established_on": "2012-01-01"}),
        json!({"code": "CT11", "name": "Chi bộ ấp 2", "kind": "sub_branch", "parent_code": "CT1", "established_on": "2015-01-01"}),
    ] {
        app.post("/api/v1/organizations", &admin, body)
            .await
            .expect(201);
    }
    let codes = |answer: &Answer| -> Vec<String> {
        let mut codes: Vec<String> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["code"].as_str().unwrap().to_string())
            .collect();
        codes.sort();
        codes
    };
    for (imported, entered) in [("LM", "CT"), ("LM1", "CT1")] {
        for on in ["2011-06-01", "2013-06-01", "2016-06-01"] {
            let a = app
                .get(
                    &format!("/api/v1/organizations?under={imported}&on={on}"),
                    &admin,
                )
                .await;
            let b = app
                .get(
                    &format!("/api/v1/organizations?under={entered}&on={on}"),
                    &admin,
                )
                .await;
            a.expect(200);
            let mut a: Vec<String> = codes(&a).iter().map(|c| c.replace("LM", "CT")).collect();
            a.sort();
            assert_eq!(a, codes(&b), "under {imported} on {on}");
        }
    }
    let under_root = app
        .get("/api/v1/organizations?under=HG&on=2016-06-01", &admin)
        .await;
    assert!(codes(&under_root).contains(&"LM11".to_string()));
    let lm11 = app.get("/api/v1/organizations/LM11", &admin).await;
    assert_eq!(lm11.body["parent_code"], "LM1");

    // A parent named before it is defined, a child under a branch, a code already recorded
    // under another kind: row errors, and nothing of the file is written.
    let bad = "code,name,kind,parent_code,established_on\nX2,Chi bộ X2,sub_branch,X1,2015-01-01\nX1,Đảng bộ X1,grassroots_committee,LM,2014-01-01\nX3,Chi bộ X3,sub_branch,A1,2015-01-01\nLM,Đảng bộ huyện Long Mỹ,grassroots_branch,HG,2010-01-01\n";
    let refused = app.import_csv(&admin, "organizations", bad).await;
    refused.expect_problem(422, Some("organization.parent_not_found"));
    let by_row: Vec<(i64, String)> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(by_row[0], (1, "organization.parent_not_found".to_string()));
    assert_eq!(by_row[1].0, 3, "{}", refused.text);
    assert_eq!(by_row[2], (4, "import.conflicts_with_record".to_string()));
    app.get("/api/v1/organizations/X1", &admin)
        .await
        .expect(404);
}

/// Organisation ratings are written a batch at a time with the facts of each year looked up
/// once: every row gets the answer the single-record API gives the same rating.
#[tokio::test]
async fn organisation_ratings_in_a_batch_are_refused_as_single_ratings_are() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    // P1 is disciplined in 2023: it cannot be rated above not_completed, and neither can VT,
    // whose only direct subordinate it is (more than 20%). NB and its branch B1 are not.
    app.import_csv(
        &admin,
        "disciplinary-actions",
        "subject_type,subject,form,decision_number,authority_code,decided_on\norganization,P1,reprimand,9-QĐ/UBKT,VT,2023-05-02\n",
    )
    .await
    .expect(200);
    let cases = [
        (
            "P1",
            2023,
            "excellent",
            Some("rating.disciplined_organization_not_completed"),
        ),
        ("VT", 2023, "good", Some("rating.subordinates_disciplined")),
        ("NB", 2023, "excellent", None),
        ("B1", 2023, "good", None),
        ("P1", 2003, "good", Some("rating.organization_not_existing")),
        ("XX", 2023, "good", Some("rating.organization_not_found")),
    ];
    let file: String = std::iter::once("organization_code,year,level\n".to_string())
        .chain(
            cases
                .iter()
                .map(|(code, year, level, _)| format!("{code},{year},{level}\n")),
        )
        .collect();
    let refused = app.import_csv(&admin, "organization-ratings", &file).await;
    refused.expect_problem(422, None);
    let by_row: Vec<(i64, String)> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (.., code))| code.map(|c| (i as i64 + 1, c.to_string())))
        .collect();
    assert_eq!(by_row, expected, "{}", refused.text);
    // The single-record API gives each row the same answer.
    for (code, year, level, error) in cases {
        let single = app
            .post(
                "/api/v1/ratings/organizations",
                &admin,
                json!({"organization_code": code, "year": year, "level": level}),
            )
            .await;
        match error {
            Some(error) => {
                single.expect_problem(422, Some(error));
            }
            None => {
                single.expect(201);
            }
        }
    }
    // Rated already: the file's good rows are now updates or unchanged, the rest still refused.
    let good_rows = "organization_code,year,level\nNB,2023,excellent\nB1,2023,completed\n";
    let again = app
        .import_csv(&admin, "organization-ratings", good_rows)
        .await;
    again.expect(200);
    assert_eq!(
        (
            again.body["unchanged"].as_i64(),
            again.body["updated"].as_i64()
        ),
        (Some(1), Some(1)),
        "{}",
        again.text
    );
}

/// Export → import into an empty database gives back the same records (the second export is
/// byte for byte the first) and the same statistics.
#[tokio::test]
async fn an_export_imports_into_an_empty_database_with_the_same_records_and_figures() {
    let source = spawn_app().await;
    let admin = source.admin().await;
    crate::stats::province(&source, &admin).await;
    // An exemption that ended before today: only the exemptions kind carries it.
    source
        .post(
            "/api/v1/members/m3/exemptions",
            &admin,
            json!({"starts_on": "2021-01-01", "ends_on": "2022-06-30", "reason": "ốm đau"}),
        )
        .await
        .expect(200);
    // A party-age gap entered by hand: only the party-age-gaps kind carries it.
    source
        .post(
            "/api/v1/members/m4/party-age-gaps",
            &admin,
            json!({"reason": "lost_contact", "starts_on": "2010-01-01", "ends_on": "2010-06-30"}),
        )
        .await
        .expect(200);
    let kinds = [
        "organizations",
        "organization-moves",
        "members",
        "exemptions",
        "party-age-gaps",
        "positions",
        "transfers",
        "member-ratings",
        "organization-ratings",
        "disciplinary-actions",
        "insignia-awards",
        "admission-targets",
    ];
    let target = spawn_app().await;
    let target_admin = target.admin().await;
    for (i, kind) in kinds.iter().enumerate() {
        let format = ["csv", "json", "ndjson"][i % 3];
        let content_type = ["text/csv", "application/json", "application/x-ndjson"][i % 3];
        let exported = source
            .export(&admin, kind, &format!("?format={format}"))
            .await;
        let answer = target
            .import(&target_admin, kind, "", content_type, exported.clone())
            .await;
        assert_eq!(answer.status.as_u16(), 200, "{kind}: {}", answer.text);
        let again = target
            .export(&target_admin, kind, &format!("?format={format}"))
            .await;
        assert_eq!(again, exported, "{kind} differs after the round trip");
    }
    let path = "/api/v1/members/m4/party-age?on=2024-12-31";
    let a = source.get(path, &admin).await;
    a.expect(200);
    assert_eq!(
        a.body,
        target.get(path, &target_admin).await.body,
        "m4's party age differs"
    );
    // G1 moved from D1 to D2 in 2024: the districts' earlier figures hold it under D1.
    for (org, year) in ["P", "D1", "D2"]
        .into_iter()
        .flat_map(|org| (2020..=2024).map(move |year| (org, year)))
    {
        let path = format!("/api/v1/reports/annual?organization={org}&year={year}");
        let a = source.get(&path, &admin).await;
        let b = target.get(&path, &target_admin).await;
        a.expect(200);
        assert_eq!(a.body, b.body, "{org}'s {year} report differs");
    }
}

#[tokio::test]
async fn exports_follow_the_scope_and_mask_personal_data_for_auditors() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    app.insert_user("auditor", Role::Auditor, Some("VT"));
    let auditor = app.token("auditor").await;
    let csv = app.export(&auditor, "members", "").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header and the two members under VT: {csv}");
    assert!(!csv.contains("093080001234"), "{csv}");
    assert!(!csv.contains("1980-03-15"), "{csv}");
    let under = app.export(&admin, "organizations", "?under=NB").await;
    assert_eq!(under.lines().count(), 3, "{under}");
    assert!(under.lines().nth(1).unwrap().starts_with("NB,"), "{under}");
    app.get("/api/v1/exports/members?under=NB", &auditor)
        .await
        .expect_problem(404, None);
    app.get("/api/v1/exports/members?format=xml", &admin)
        .await
        .expect_problem(400, None);
    app.get("/api/v1/exports/planets", &admin)
        .await
        .expect_problem(404, None);
    let ndjson = app.export(&admin, "members", "?format=ndjson").await;
    let first: Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    assert_eq!(first["profile_number"], "HG-001");
}

/// A file of discipline or insignia larger than a thousand rows: the import refreshes its
/// tables' planner statistics as they grow (PostgreSQL re-plans each row's key lookup), and
/// that changes nothing of what is recorded — the same records, byte for byte in the export,
/// as the same rows imported in files of 500 (which never reach a refresh), and the file
/// imported again finds every key (all unchanged).
#[tokio::test]
async fn a_file_of_thousands_of_decisions_or_awards_records_what_small_files_record() {
    const MEMBERS: usize = 1100;
    let mut register = String::from(
        "profile_number,full_name,gender,born_on,organization_code,organization_since,admitted_on,ceremony_on,official_on\n",
    );
    let mut discipline = String::from(
        "subject_type,subject,form,decision_number,authority_code,decided_on,announced_on\n",
    );
    let mut insignia = String::from("profile_number,tier,awarded_on,decision_number\n");
    for i in 0..MEMBERS {
        let pn = format!("HG-{:05}", 1000 + i);
        let org = if i % 2 == 0 { "A1" } else { "B1" };
        register.push_str(&format!(
            "{pn},Thành viên {i},male,1940-01-01,{org},2004-01-01,1960-01-01,1960-01-01,1961-01-01\n"
        ));
        let authority = if i % 2 == 0 { "P1" } else { "NB" };
        discipline.push_str(&format!(
            "member,{pn},khiển trách,{}-QĐ/UBKT,{authority},2024-03-01,2024-03-05\n",
            i / 3
        ));
    }
    // Each member's 30-year then 40-year insignia: 2,200 rows, two refreshes.
    for (tier, on) in [(30, "1990-09-02"), (40, "2000-09-02")] {
        for i in 0..MEMBERS {
            insignia.push_str(&format!("HG-{:05},{tier},{on},{tier}-QĐ/{i}\n", 1000 + i));
        }
    }
    let in_pieces = |csv: &str, rows: usize| -> Vec<String> {
        let mut lines = csv.lines();
        let header = lines.next().unwrap().to_string();
        let body: Vec<&str> = lines.collect();
        body.chunks(rows)
            .map(|chunk| format!("{header}\n{}\n", chunk.join("\n")))
            .collect()
    };

    let whole = spawn_app().await;
    let small = spawn_app().await;
    let (whole_admin, small_admin) = (whole.admin().await, small.admin().await);
    for (app, token) in [(&whole, &whole_admin), (&small, &small_admin)] {
        loaded(app, token).await;
        app.import_csv(token, "members", &register)
            .await
            .expect(200);
    }
    for (kind, csv, rows) in [
        ("disciplinary-actions", &discipline, MEMBERS),
        ("insignia-awards", &insignia, 2 * MEMBERS),
    ] {
        let answer = whole.import_csv(&whole_admin, kind, csv).await;
        answer.expect(200);
        assert_eq!(answer.body["inserted"], rows, "{kind}: {}", answer.text);
        for piece in in_pieces(csv, 500) {
            small
                .import_csv(&small_admin, kind, &piece)
                .await
                .expect(200);
        }
        assert_eq!(
            whole.export(&whole_admin, kind, "").await,
            small.export(&small_admin, kind, "").await,
            "{kind}: one file and files of 500 rows record different things"
        );
        let again = whole.import_csv(&whole_admin, kind, csv).await;
        again.expect(200);
        assert_eq!(
            (
                again.body["unchanged"].as_u64(),
                again.body["inserted"].as_u64()
            ),
            (Some(rows as u64), Some(0)),
            "{kind}: {}",
            again.text
        );
    }
    assert_eq!(
        whole.export(&whole_admin, "members", "").await,
        small.export(&small_admin, "members", "").await
    );
    // A row changed late in the file is still found by its key and refused as an edit.
    let late = insignia.replace("HG-02099,40,2000-09-02", "HG-02099,40,2001-09-02");
    whole
        .import_csv(&whole_admin, "insignia-awards", &late)
        .await
        .expect_problem(422, Some("import.conflicts_with_record"));
}

/// How often PostgreSQL has vacuumed `table` by hand (`VACUUM`, not autovacuum).
fn vacuums(app: &TestApp, table: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().unwrap();
    let party_records::db::DbConn::Postgres(c) = &mut *conn else {
        unreachable!("PostgreSQL only")
    };
    diesel::sql_query("SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE relname = $1")
        .bind::<diesel::sql_types::Text, _>(table)
        .get_result::<Count>(c)
        .expect("the table's statistics")
        .n
}

#[tokio::test]
async fn a_large_import_leaves_its_tables_vacuumed_and_a_small_one_leaves_them_alone() {
    // PostgreSQL only: until a page is vacuumed its index entries send every index-only scan
    // to the table. SQLite's covering indexes never visit it, and it is not vacuumed.
    if crate::helpers::pg_url().is_none() {
        return;
    }
    let app = spawn_app().await;
    let token = app.admin().await;
    loaded(&app, &token).await;
    let header = "profile_number,full_name,gender,born_on,organization_code,admitted_on\n";
    let rows = |from: usize, n: usize| -> String {
        let mut csv = String::from(header);
        for i in from..from + n {
            csv.push_str(&format!(
                "HG-{i:05},Thành viên {i},nữ,1990-01-01,A1,2015-01-01\n"
            ));
        }
        csv
    };
    assert_eq!(vacuums(&app, "members"), 0);
    // A table of four rows that takes 1,300 more: due (1,000 + a fifth of its rows).
    let answer = app.import_csv(&token, "members", &rows(1000, 1300)).await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 1300, "{}", answer.text);
    assert_eq!(vacuums(&app, "members"), 1, "the load is vacuumed");
    assert_eq!(vacuums(&app, "memberships"), 1);
    // A dry run, then 300 rows into 1,304: neither is due.
    let dry = app
        .import(
            &token,
            "members",
            "?dry_run=true",
            "text/csv",
            rows(5000, 1300),
        )
        .await;
    dry.expect(200);
    app.import_csv(&token, "members", &rows(9000, 300))
        .await
        .expect(200);
    assert_eq!(vacuums(&app, "members"), 1, "small writes are autovacuum's");
}

/// A decision's appeal still pending (a filing day, no outcome) is imported as the
/// single-record API records it and as exports write it; a later row giving the outcome
/// decides it, and the pending row then agrees with the decided appeal. A two-digit year is
/// not a date.
#[tokio::test]
async fn a_pending_appeal_is_imported_and_a_later_row_decides_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let head = "subject_type,subject,form,decision_number,authority_code,decided_on,announced_on,appeal_filed_on,appeal_outcome,appeal_decided_on\n";
    let pending =
        format!("{head}member,HG-001,khiển trách,21-QĐ,VT,2024-03-01,2024-03-05,2024-03-20,,\n");
    let appeal = || async {
        let list = app.get("/api/v1/disciplinary-actions", &admin).await;
        list.expect(200);
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["decision_number"] == "21-QĐ")
            .expect("the decision")["appeal"]
            .clone()
    };
    let first = app
        .import_csv(&admin, "disciplinary-actions", &pending)
        .await;
    first.expect(200);
    assert_eq!(first.body["inserted"], 1, "{}", first.text);
    assert_eq!(
        appeal().await,
        json!({"filed_on": "2024-03-20", "outcome": null, "decided_on": null, "reduced_form": null})
    );
    let again = app
        .import_csv(&admin, "disciplinary-actions", &pending)
        .await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 1, "{}", again.text);
    let exported = app.export(&admin, "disciplinary-actions", "").await;
    assert!(exported.contains("2024-03-20"), "{exported}");
    let back = app
        .import_csv(&admin, "disciplinary-actions", &exported)
        .await;
    back.expect(200);
    assert_eq!(back.body["unchanged"], 1, "{}", back.text);

    // The outcome alone: the filing day stays the recorded one.
    let decided =
        format!("{head}member,HG-001,khiển trách,21-QĐ,VT,2024-03-01,,,upheld,2024-04-02\n");
    let answer = app
        .import_csv(&admin, "disciplinary-actions", &decided)
        .await;
    answer.expect(200);
    assert_eq!(answer.body["updated"], 1, "{}", answer.text);
    assert_eq!(
        appeal().await,
        json!({"filed_on": "2024-03-20", "outcome": "upheld", "decided_on": "2024-04-02", "reduced_form": null})
    );
    let pending_again = app
        .import_csv(&admin, "disciplinary-actions", &pending)
        .await;
    pending_again.expect(200);
    assert_eq!(pending_again.body["unchanged"], 1);
    let other_day = app
        .import_csv(
            &admin,
            "disciplinary-actions",
            &pending.replace("2024-03-20", "2024-03-21"),
        )
        .await;
    other_day.expect_problem(422, Some("import.conflicts_with_record"));
    assert_eq!(other_day.body["errors"][0]["field"], "appeal_filed_on");

    let short_year = app
        .import_csv(
            &admin,
            "disciplinary-actions",
            &format!("{head}member,HG-002,khiển trách,22-QĐ,VT,01/05/24,,,,\n"),
        )
        .await;
    short_year.expect_problem(422, Some("invalid"));
    assert_eq!(short_year.body["errors"][0]["field"], "decided_on");
}

/// An official move and a temporary activity that start on one day are two records, so two
/// rows with two keys (`profile_number + on + kind`, the kind `official` when left empty): a
/// file gives both, and the export of both imports back unchanged.
#[tokio::test]
async fn an_official_move_and_a_temporary_activity_on_one_day_are_two_rows() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let file = "profile_number,organization_code,on,kind,until\nHG-001,B1,2022-01-01,,\nHG-001,A1,2022-01-01,tạm thời,2022-06-01\n";
    let answer = app.import_csv(&admin, "transfers", file).await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 2, "{}", answer.text);
    let again = app.import_csv(&admin, "transfers", file).await;
    again.expect(200);
    assert_eq!(again.body["unchanged"], 2, "{}", again.text);
    let exported = app.export(&admin, "transfers", "").await;
    assert_eq!(
        exported
            .lines()
            .filter(|l| l.starts_with("HG-001,") && l.contains("2022-01-01"))
            .count(),
        2,
        "{exported}"
    );
    let back = app.import_csv(&admin, "transfers", &exported).await;
    back.expect(200);
    assert_eq!(back.body["inserted"], 0, "{}", back.text);
    // The same kind twice on one day is still one key given twice, whether the kind is
    // written or left to its default.
    let twice = "profile_number,organization_code,on,kind\nHG-002,B1,2023-01-01,official\nHG-002,P1,2023-01-01,\n";
    let refused = app.import_csv(&admin, "transfers", twice).await;
    refused.expect_problem(422, Some("import.duplicate_key"));
    assert_eq!(refused.body["errors"][0]["row"], 2);
}

/// `mode=insert` finds a key first: one recorded outside the caller's scope is `scope`, as
/// in `mode=upsert`, not `import.exists` (which would tell a clerk what another province
/// holds).
#[tokio::test]
async fn insert_mode_refuses_a_key_recorded_outside_the_scope_as_out_of_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    app.insert_user("clerk", Role::Clerk, Some("VT"));
    let clerk = app.token("clerk").await;
    let member = MEMBERS
        .lines()
        .filter(|l| l.starts_with('\u{feff}') || l.starts_with("HG-003,"))
        .collect::<Vec<_>>()
        .join("\n");
    let organisation = "code,name,kind,parent_code,established_on\nB1,Chi bộ Cơ quan,grassroots_branch,NB,2004-01-01\n";
    for mode in ["upsert", "insert"] {
        for (kind, body, field) in [
            ("members", member.clone(), "organization_code"),
            ("organizations", organisation.to_string(), "code"),
        ] {
            let answer = app
                .import(&clerk, kind, &format!("?mode={mode}"), "text/csv", body)
                .await;
            answer.expect_problem(422, Some("scope"));
            assert_eq!(
                answer.body["errors"][0]["field"], field,
                "{mode} {kind}: {}",
                answer.text
            );
        }
    }
}

/// An award row that leaves `early` or `posthumous` empty keeps what is recorded, as any
/// empty cell does; a row that states the flag otherwise is refused.
#[tokio::test]
async fn an_award_row_without_its_flags_agrees_with_an_early_award() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    // HG-003 was admitted on 1975-01-01: 40 years on 2015-01-01, this award four months early.
    let early = "profile_number,tier,awarded_on,early\nHG-003,40,2014-09-02,true\n";
    app.import_csv(&admin, "insignia-awards", early)
        .await
        .expect(200);
    let without = app
        .import_csv(
            &admin,
            "insignia-awards",
            "profile_number,tier,awarded_on,early,posthumous\nHG-003,40,2014-09-02,,\n",
        )
        .await;
    without.expect(200);
    assert_eq!(without.body["unchanged"], 1, "{}", without.text);
    let otherwise = app
        .import_csv(
            &admin,
            "insignia-awards",
            "profile_number,tier,awarded_on,early\nHG-003,40,2014-09-02,false\n",
        )
        .await;
    otherwise.expect_problem(422, Some("import.conflicts_with_record"));
}

/// A subtree's export names its root's current parent, so that it imports into a database
/// that holds that parent (the root's row without it was refused there as a root that is
/// not one), and back into its own unchanged.
#[tokio::test]
async fn a_subtree_export_names_its_roots_parent_and_imports_where_that_parent_is() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    loaded(&app, &admin).await;
    let exported = app.export(&admin, "organizations", "?under=VT").await;
    assert!(
        exported
            .lines()
            .any(|l| l.starts_with("VT,") && l.contains(",HG,")),
        "{exported}"
    );
    let back = app.import_csv(&admin, "organizations", &exported).await;
    back.expect(200);
    assert_eq!(back.body["unchanged"], 3, "{}", back.text);

    let other = spawn_app().await;
    let other_admin = other.admin().await;
    other
        .import_csv(
            &other_admin,
            "organizations",
            "code,name,kind,established_on\nHG,Đảng bộ tỉnh Hậu Giang,provincial_committee,2004-01-01\n",
        )
        .await
        .expect(200);
    let answer = other
        .import_csv(&other_admin, "organizations", &exported)
        .await;
    answer.expect(200);
    assert_eq!(answer.body["inserted"], 3, "{}", answer.text);
}
