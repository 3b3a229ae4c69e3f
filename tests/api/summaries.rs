//! The yearly summaries (src/store/summaries.rs) against the records: after every kind of
//! write that moves a member's figures (admission, departure stated in an import, transfer,
//! leave, expulsion and its annulment, exemption and its end, recognition, a corrected
//! admission date, ratings entered, imported and corrected, decisions recorded, imported,
//! reduced and annulled on appeal, insignia awarded, imported and returned on expulsion, a
//! transfer recorded after a decision it precedes, an import of decisions that expels, returns
//! insignia, annuls and reduces on appeal in one file), the annual report read from the
//! summaries equals the report counted from the records (the window emptied), for every
//! organisation and pair of years; and the maintained rows equal the rows rebuilt from the
//! records (`party-records summaries`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use party_records::store::summaries;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const ORGS: [&str; 9] = ["P", "D1", "D2", "PD", "G1", "S1", "S2", "B1", "B2"];

/// (year, rating year) of the reports compared: inside the window, and a rating year of the
/// records with a report year after it.
const YEARS: [(i32, i32); 6] = [
    (2023, 2023),
    (2024, 2023),
    (2024, 2024),
    (2025, 2024),
    (2025, 2025),
    (2022, 2022),
];

async fn reports(app: &TestApp, token: &str) -> Vec<(String, i32, i32, Value)> {
    let mut all = Vec::new();
    for org in ORGS {
        for (year, rating_year) in YEARS {
            let answer = app
                .get(
                    &format!(
                        "/api/v1/reports/annual?organization={org}&year={year}&rating_year={rating_year}"
                    ),
                    token,
                )
                .await;
            answer.expect(200);
            let r = &answer.body;
            all.push((
                org.to_string(),
                year,
                rating_year,
                json!([
                    r["structure"],
                    r["ratings"]["members"],
                    r["admissions"],
                    r["discipline"],
                    r["insignia"]
                ]),
            ));
        }
    }
    all
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    #[diesel(sql_type = Text)]
    key: String,
}

/// Every summary row that counts something, as text, in order.
fn summary_rows(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    let mut rows: Vec<Row> = diesel::sql_query(
        "SELECT CAST(organization_id AS TEXT) || '/' || CAST(year AS TEXT) || ': ' || CAST(members AS TEXT) || ' ' \
         || CAST(probationary AS TEXT) || ' ' || CAST(exempt AS TEXT) || ' ' || CAST(excellent AS TEXT) || ' ' \
         || CAST(good AS TEXT) || ' ' || CAST(completed AS TEXT) || ' ' || CAST(not_completed AS TEXT) || ' ' \
         || CAST(rated_exempt AS TEXT) AS key FROM member_year_summaries \
         WHERE members <> 0 OR probationary <> 0 OR exempt <> 0 OR excellent <> 0 OR good <> 0 \
           OR completed <> 0 OR not_completed <> 0 OR rated_exempt <> 0 \
         UNION ALL SELECT CAST(organization_id AS TEXT) || '/' || CAST(year AS TEXT) || '/' || CAST(since AS TEXT) \
         || ': ' || CAST(admitted AS TEXT) AS key FROM admission_summaries WHERE admitted <> 0 \
         UNION ALL SELECT CAST(organization_id AS TEXT) || '/' || CAST(decided_on AS TEXT) || '/' || form \
         || ': ' || CAST(members AS TEXT) AS key FROM discipline_summaries WHERE members <> 0 \
         UNION ALL SELECT CAST(organization_id AS TEXT) || '/' || CAST(awarded_on AS TEXT) || '/' || CAST(tier AS TEXT) \
         || (CASE WHEN posthumous THEN '/posthumous' ELSE '' END) || (CASE WHEN early THEN '/early' ELSE '' END) \
         || ': ' || CAST(awards AS TEXT) AS key FROM insignia_summaries WHERE awards <> 0",
    )
    .load(&mut *conn)
    .unwrap();
    rows.sort();
    rows.into_iter().map(|r| r.key).collect()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn set_window(app: &TestApp, first: i32, last: i32) {
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query("UPDATE summary_window SET first_year = $1, last_year = $2 WHERE id = 1")
        .bind::<Integer, _>(first)
        .bind::<Integer, _>(last)
        .execute(&mut *conn)
        .unwrap();
}

async fn writes(app: &TestApp, admin: &str) {
    crate::stats::province(app, admin).await;
    let post = |path: &'static str, body: Value| async move {
        app.post(path, admin, body).await.expect(200);
    };
    // Recognition of a 2024 admission on time; an exemption ended; a transfer in 2025.
    post(
        "/api/v1/members/m9/recognition",
        json!({"official_on": "2025-02-01"}),
    )
    .await;
    post(
        "/api/v1/members/m5/exemptions/end",
        json!({"on": "2025-01-15"}),
    )
    .await;
    post(
        "/api/v1/members/m1/transfers",
        json!({"organization_code": "B1", "on": "2025-03-01"}),
    )
    .await;
    // An expulsion, then its annulment on appeal: back on the roll.
    let expelled = app
        .post(
            "/api/v1/disciplinary-actions",
            admin,
            json!({"subject_type": "member", "subject": "m6", "form": "expulsion",
                   "decision_number": "KT-1", "authority_code": "P", "decided_on": "2025-04-01"}),
        )
        .await;
    expelled.expect(201);
    let id = expelled.body["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/disciplinary-actions/{id}/appeal"),
        admin,
        json!({"filed_on": "2025-04-10", "outcome": "annulled", "decided_on": "2025-05-01"}),
    )
    .await
    .expect(200);
    // An expulsion that stands.
    app.post(
        "/api/v1/disciplinary-actions",
        admin,
        json!({"subject_type": "member", "subject": "m3", "form": "expulsion",
               "decision_number": "KT-2", "authority_code": "P", "decided_on": "2025-06-01"}),
    )
    .await
    .expect(201);
    // A corrected admission date (moves m7's admission from 2024 to 2023).
    let m7 = app.get("/api/v1/members/m7", admin).await;
    let etag = m7.header("etag").unwrap().to_string();
    app.patch(
        "/api/v1/members/m7",
        admin,
        &etag,
        json!({"admitted_on": "2023-11-01", "ceremony_on": "2023-11-01"}),
    )
    .await
    .expect(200);
    // A register imported: one member still on the roll, one who left in 2024, one exempt.
    let register = "profile_number,full_name,gender,born_on,organization_code,organization_since,admitted_on,ceremony_on,official_on,exempt_since,left_on,leave_reason\n\
        i1,Nhập Một,male,1990-01-01,S2,,2023-10-01,2023-10-01,,,,\n\
        i2,Nhập Hai,female,1980-01-01,B2,,2001-01-01,2001-01-01,2002-01-01,,2024-08-01,transferred_out\n\
        i3,Nhập Ba,male,1950-01-01,B1,2000-01-01,1975-01-01,1975-01-01,1976-01-01,2019-01-01,,\n";
    app.import_csv(admin, "members", register).await.expect(200);
    // Ratings: imported for 2024 and 2025, then one corrected.
    let ratings = "profile_number,year,level,reason\n\
        m1,2024,excellent,\nm2,2024,good,\ni1,2024,completed,\ni3,2024,exempt,tuổi cao\nm6,2024,good,\n\
        m1,2025,good,\nm2,2025,not_completed,\ni1,2025,good,\nm6,2025,excellent,\n";
    app.import_csv(admin, "member-ratings", ratings)
        .await
        .expect(200);
    let rating = app.get("/api/v1/ratings/members/m2/2024", admin).await;
    let etag = rating.header("etag").unwrap().to_string();
    app.patch(
        "/api/v1/ratings/members/m2/2024",
        admin,
        &etag,
        json!({"level": "excellent"}),
    )
    .await
    .expect(200);
    // A transfer imported, and a departure.
    app.import_csv(
        admin,
        "transfers",
        "profile_number,organization_code,on\ni1,S1,2025-07-01\n",
    )
    .await
    .expect(200);
    post(
        "/api/v1/members/m4/leave",
        json!({"reason": "deceased", "on": "2025-12-31"}),
    )
    .await;
    dated_writes(app, admin).await;
}

/// Decisions and insignia: recorded, imported, reduced, returned with an expulsion, and moved
/// by a transfer recorded after them that took effect before.
async fn dated_writes(app: &TestApp, admin: &str) {
    let decide = |subject: &'static str, form: &'static str, on: &'static str| async move {
        let answer = app
            .post(
                "/api/v1/disciplinary-actions",
                admin,
                json!({"subject_type": "member", "subject": subject, "form": form,
                       "decision_number": format!("{subject}-{on}"), "authority_code": "P", "decided_on": on}),
            )
            .await;
        answer.expect(201);
        answer.body["id"].as_i64().unwrap()
    };
    // m5's 30-year insignia, imported, and a warning, both in B2; then a transfer to S2 from
    // before both is recorded.
    app.import_csv(
        admin,
        "insignia-awards",
        "profile_number,tier,awarded_on\nm5,30,2025-07-20\n",
    )
    .await
    .expect(200);
    decide("m5", "warning", "2025-08-01").await;
    app.post(
        "/api/v1/members/m5/transfers",
        admin,
        json!({"organization_code": "S2", "on": "2025-07-15"}),
    )
    .await
    .expect(200);
    // m2 warned, reduced to a reprimand on appeal; then expelled: the 2024 insignia returned.
    let warned = decide("m2", "warning", "2025-09-01").await;
    app.post(
        &format!("/api/v1/disciplinary-actions/{warned}/appeal"),
        admin,
        json!({"filed_on": "2025-09-05", "outcome": "reduced", "reduced_form": "reprimand",
               "decided_on": "2025-09-20"}),
    )
    .await
    .expect(200);
    decide("m2", "expulsion", "2025-10-01").await;
    // A decision imported.
    app.import_csv(
        admin,
        "disciplinary-actions",
        "subject_type,subject,form,decision_number,authority_code,decided_on\nmember,i3,reprimand,KT-i3,P,2025-11-01\n",
    )
    .await
    .expect(200);
    imported_dated_writes(app, admin).await;
}

/// Decisions and insignia imported with their effects on each other, in the files' one
/// transaction each: insignia (one to a member expelled already, recorded as returned), then
/// a file expelling a member whose insignia it returns, annulling that expulsion on appeal
/// (insignia restored, back on the roll), warning and expelling the member again, and
/// reducing another member's warning on appeal.
async fn imported_dated_writes(app: &TestApp, admin: &str) {
    app.import_csv(
        admin,
        "insignia-awards",
        "profile_number,tier,awarded_on,override_reason\n\
         i3,50,2025-02-03,\n\
         m3,30,2025-02-03,hồ sơ cũ\n\
         m9,30,2025-07-02,hồ sơ cũ\n",
    )
    .await
    .expect(200);
    app.import_csv(
        admin,
        "disciplinary-actions",
        "subject_type,subject,form,decision_number,authority_code,decided_on,appeal_outcome,appeal_filed_on,appeal_decided_on,reduced_form\n\
         member,m9,expulsion,KT-m9-1,P,2025-08-01,annulled,2025-08-05,2025-08-20,\n\
         member,m9,warning,KT-m9-2,P,2025-09-20,,,,\n\
         member,m9,expulsion,KT-m9-3,P,2025-10-15,,,,\n\
         member,m5,warning,KT-m5,P,2025-09-10,reduced,2025-09-12,2025-09-30,reprimand\n",
    )
    .await
    .expect(200);
    // The file did what it says: m9 off the roll, the insignia returned.
    let m9 = app.get("/api/v1/members/m9", admin).await;
    m9.expect(200);
    assert_eq!(m9.body["leave_reason"], "expelled", "{:?}", m9.body);
    let awards = app
        .get("/api/v1/insignia-awards?year=2025&tier=30", admin)
        .await;
    awards.expect(200);
    let returned: Vec<_> = awards.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["revoked_on"].is_null())
        .map(|a| {
            (
                a["profile_number"].as_str().unwrap(),
                a["revoked_on"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(returned, [("m3", "2025-06-01"), ("m9", "2025-10-15")]);
}

#[tokio::test]
async fn reports_from_the_summaries_equal_reports_from_the_records() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    writes(&app, &admin).await;

    let maintained_rows = summary_rows(&app);
    assert!(
        maintained_rows.len() > 20,
        "the writes fill the summaries: {maintained_rows:?}"
    );
    let from_summaries = reports(&app, &admin).await;

    set_window(&app, 1, 0);
    let from_records = reports(&app, &admin).await;
    for (s, r) in from_summaries.iter().zip(&from_records) {
        assert_eq!(s, r, "summaries and records differ");
    }
    // The figures are not all zero: the comparison compares something.
    let p_2024 = from_records
        .iter()
        .find(|(org, y, ry, _)| org == "P" && *y == 2025 && *ry == 2024)
        .unwrap();
    assert!(p_2024.3[0]["members"].as_i64().unwrap() >= 9, "{p_2024:?}");

    {
        let mut conn = app.pool.get().unwrap();
        summaries::rebuild(&mut conn, 2018, 2030).unwrap();
    }
    assert_eq!(
        summary_rows(&app),
        maintained_rows,
        "maintained rows equal rows rebuilt from the records"
    );
    assert_eq!(reports(&app, &admin).await, from_summaries);
}

#[tokio::test]
async fn a_database_with_records_before_summaries_keeps_counting_from_the_records() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    crate::stats::province(&app, &admin).await;
    let before = reports(&app, &admin).await;
    // An empty window: no summary is kept or read, and writes leave the tables alone.
    {
        let mut conn = app.pool.get().unwrap();
        summaries::rebuild(&mut conn, 1, 0).unwrap();
    }
    app.post(
        "/api/v1/members/m1/transfers",
        &admin,
        json!({"organization_code": "B1", "on": "2025-03-01"}),
    )
    .await
    .expect(200);
    let mut conn = app.pool.get().unwrap();
    let kept: Count = diesel::sql_query(
        "SELECT (SELECT count(*) FROM member_year_summaries) + (SELECT count(*) FROM admission_summaries) \
         + (SELECT count(*) FROM discipline_summaries) + (SELECT count(*) FROM insignia_summaries) AS n",
    )
    .get_result(&mut *conn)
    .unwrap();
    assert_eq!(kept.n, 0);
    drop(conn);
    let after = reports(&app, &admin).await;
    // Before 2025 nothing moved; 2025's report sees the transfer.
    for (b, a) in before.iter().zip(&after) {
        if b.1 < 2025 {
            assert_eq!(b, a);
        }
    }
    assert_ne!(before, after);
}

#[test]
fn the_summaries_command_sets_the_window_and_refuses_a_reversed_one() {
    let (_db, url) = crate::helpers::TestDb::create();
    let migrate = crate::cli::command(&url).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let reversed = crate::cli::command(&url)
        .args(["summaries", "--from", "2026", "--to", "2020"])
        .output()
        .unwrap();
    assert_eq!(reversed.status.code(), Some(2), "{reversed:?}");
    assert!(String::from_utf8_lossy(&reversed.stderr).contains("--from 2026 is after --to 2020"));
    let built = crate::cli::command(&url)
        .args(["summaries", "--from", "2020", "--to", "2026"])
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    assert!(String::from_utf8_lossy(&built.stdout).contains("Summaries of 2020–2026 built"));
    let pool = party_records::db::build_pool(&url, &Default::default()).unwrap();
    let mut conn = pool.get().unwrap();
    assert_eq!(
        summaries::window(&mut conn).unwrap(),
        party_records::domain::summary::Window {
            first: 2020,
            last: 2026
        }
    );
}
