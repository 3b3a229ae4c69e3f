//! Backups as an operator takes them: `party-records backup --to FILE` while the server runs
//! (SQLite), `pg_dump` / `pg_restore` (PostgreSQL, as the README says); a server started on the
//! copy has the records, the statistics and an intact audit chain, and `party-records audit
//! verify` finds an event edited behind the application's back.

use std::process::Command;

use diesel::RunQueryDsl;
use party_records::db::{self, Engine};
use serde_json::{json, Value};

use crate::cli::{command, create_admin, serve};
use crate::helpers::TestDb;

const PASSWORD: &str = "the operator's password";

struct Client {
    http: reqwest::Client,
    address: String,
    token: String,
}

impl Client {
    async fn sign_in(address: &str) -> Client {
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{address}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client {
            http,
            address: address.to_string(),
            token: login["access_token"].as_str().unwrap().to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> u16 {
        self.call(reqwest::Method::POST, path, Some(body)).await.0
    }
}

async fn records(c: &Client) {
    for (code, kind, parent) in [
        ("HG", "provincial_committee", None),
        ("CB", "grassroots_branch", Some("HG")),
    ] {
        let body = json!({"code": code, "name": format!("Tổ chức {code}"), "kind": kind,
            "parent_code": parent, "established_on": "2000-01-01"});
        assert_eq!(c.post("/api/v1/organizations", body).await, 201);
    }
    for n in 1..=3 {
        let body = json!({"profile_number": format!("HG-{n}"), "full_name": "Trần Thị Lan",
            "gender": "female", "born_on": "1980-01-01", "organization_code": "CB",
            "admitted_on": "2010-01-01", "ceremony_on": "2010-01-01"});
        assert_eq!(c.post("/api/v1/members", body).await, 201);
    }
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Copies the live database `url` into `restored` (SQLite: a new file, PostgreSQL: a new
/// database) while the server runs.
fn back_up(url: &str, dir: &std::path::Path) -> (Option<TestDb>, String) {
    match Engine::of(url) {
        Engine::Sqlite => {
            let copy = dir.join("copy.db");
            let out = run(command(url).args(["backup", "--to", copy.to_str().unwrap()]));
            assert!(String::from_utf8_lossy(&out.stdout).contains("Backed up"));
            // A second backup onto the same file is refused, not overwritten.
            let again = command(url)
                .args(["backup", "--to", copy.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(!again.status.success());
            (None, format!("sqlite://{}", copy.display()))
        }
        Engine::Postgres => {
            let dump = dir.join("party-records.dump");
            run(Command::new("pg_dump").args(["-Fc", "-f", dump.to_str().unwrap(), url]));
            let (restored_db, restored) = TestDb::create();
            run(Command::new("pg_restore").args([
                "--no-owner",
                "--dbname",
                &restored,
                dump.to_str().unwrap(),
            ]));
            (Some(restored_db), restored)
        }
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_records_statistics_and_the_audit_chain() {
    let (_db, url) = TestDb::create();
    assert!(create_admin(&url, PASSWORD).status.success());
    let server = serve(&url);
    let live = Client::sign_in(&server.address).await;
    records(&live).await;
    let structure = "/api/v1/stats/structure?organization=HG&on=2024-12-31";
    let (_, figures) = live.get(structure).await;
    let (_, chain) = live.get("/api/v1/audit/verify").await;
    assert_eq!(chain["ok"], true);
    // create-user, two organisations, three members.
    assert_eq!(chain["verified"], 6);

    let dir = tempfile::tempdir().unwrap();
    let (_restored_db, restored) = back_up(&url, dir.path());
    // A write after the backup is not in it.
    let late = json!({"organization_code": "CB", "year": 2025, "target": 2});
    assert_eq!(live.post("/api/v1/admission-targets", late).await, 201);
    server.stop();

    let out = run(command(&restored).args(["audit", "verify"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("6 event(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let server = serve(&restored);
    let copy = Client::sign_in(&server.address).await;
    let (status, member) = copy.get("/api/v1/members/HG-3").await;
    assert_eq!(status, 200);
    assert_eq!(member["full_name"], "Trần Thị Lan");
    assert_eq!(copy.get(structure).await.1, figures);
    assert_eq!(copy.get("/api/v1/admission-targets/CB/2025").await.0, 404);
    let (_, chain) = copy.get("/api/v1/audit/verify").await;
    assert_eq!(chain["ok"], true, "{chain}");
    // The copy goes on where the original stopped: new events chain onto the old ones.
    let target = json!({"organization_code": "CB", "year": 2024, "target": 1});
    assert_eq!(copy.post("/api/v1/admission-targets", target).await, 201);
    let (_, chain) = copy.get("/api/v1/audit/verify").await;
    assert_eq!(chain["ok"], true, "{chain}");
    assert_eq!(chain["verified"], 7);
    server.stop();

    // An edit behind the application's back: `audit verify` names the event and fails.
    {
        let pool = db::build_pool(&restored, &db::PoolOptions::default()).unwrap();
        let mut conn = pool.get().unwrap();
        diesel::sql_query("UPDATE audit_events SET action = 'delete' WHERE id = 4")
            .execute(&mut *conn)
            .unwrap();
    }
    let out = command(&restored)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("event 4") && said.contains("hash_mismatch"),
        "{said}"
    );
}
