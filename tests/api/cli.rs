//! The binary as an operator runs it: first start on an empty database, the create-user
//! bootstrap, personal data kept out of the logs, graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_party-records");

pub(crate) fn command(db_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("DATABASE_URL", db_url)
        .env(
            "JWT_SECRET",
            "a test secret that is more than thirty-two bytes long",
        )
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .env_remove("LOG_FORMAT");
    cmd
}

pub(crate) struct Server {
    child: Child,
    banner: Vec<String>,
    pub(crate) address: String,
    /// Everything the server logs, read all along so that it never blocks on a full pipe.
    logs: Option<std::thread::JoinHandle<String>>,
}

/// A test that fails before stopping its server leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `party-records` (serve) and reads its banner up to the address line.
pub(crate) fn serve(db_url: &str) -> Server {
    serve_with(db_url, &[])
}

/// The same with more environment variables (`DB_POOL_SIZE`…).
pub(crate) fn serve_with(db_url: &str, env: &[(&str, &str)]) -> Server {
    let mut child = command(db_url)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    let mut address = None;
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix("party-records listening on ") {
            address = Some(rest.to_string());
        }
        let done = line.starts_with("API description");
        banner.push(line.trim_end().to_string());
        if done {
            break;
        }
    }
    // Keep draining stdout and stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
    });
    let mut err = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = err.read_to_string(&mut logs);
        logs
    });
    let address = address.unwrap_or_else(|| panic!("no address in {banner:?}"));
    wait_until_healthy(&address);
    Server {
        address,
        child,
        banner,
        logs: Some(logs),
    }
}

/// Polls `GET /health` over a plain socket until the server answers 200.
fn wait_until_healthy(address: &str) {
    let host = address.trim_start_matches("http://");
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(host) {
            let _ =
                stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{address} never became healthy");
}

impl Server {
    /// SIGTERM, then the exit status and everything the server logged.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        (status, self.logs.take().unwrap().join().unwrap())
    }
}

pub(crate) fn create_admin(db_url: &str, password: &str) -> std::process::Output {
    let mut child = command(db_url)
        .args([
            "create-user",
            "--username",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn first_start_bootstrap_private_logs_and_graceful_shutdown() {
    let (_db, url) = TestDb::create();

    // An empty database: the banner says exactly how to create the first administrator.
    let server = serve(&url);
    let banner = server.banner.join("\n");
    assert!(
        banner.contains("party-records create-user --username admin --role admin"),
        "{banner}"
    );
    let (status, _) = server.stop();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");

    let short = create_admin(&url, "short");
    assert!(!short.status.success());
    let created = create_admin(&url, "the first admin password");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("Created admin"));

    let server = serve(&url);
    assert!(
        !server.banner.join("\n").contains("create-user"),
        "{:?}",
        server.banner
    );
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/auth/login", server.address))
        .json(&json!({"username": "admin", "password": "the first admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"]
        .as_str()
        .expect("signed in")
        .to_string();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", server.address))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    post(
        "/api/v1/organizations",
        json!({"code": "HG", "name": "Đảng bộ tỉnh", "kind": "provincial_committee", "established_on": "2004-01-01"}),
    )
    .await
    .unwrap();
    post(
        "/api/v1/organizations",
        json!({"code": "CB", "name": "Chi bộ", "kind": "grassroots_branch", "parent_code": "HG", "established_on": "2004-01-01"}),
    )
    .await
    .unwrap();
    let member = json!({"profile_number": "HG-1", "full_name": "Nguyễn Thị Hoa", "gender": "female",
        "born_on": "1987-04-23", "national_id": "093187004567", "card_number": "CARD-778899",
        "organization_code": "CB", "admitted_on": "2015-05-19"});
    let created = post("/api/v1/members", member.clone()).await.unwrap();
    assert_eq!(created.status(), 201);
    // A refused one, whose input must not be echoed into the logs either.
    let mut bad = member.clone();
    bad["profile_number"] = json!("HG-2");
    bad["national_id"] = json!("09318700456");
    let refused = post("/api/v1/members", bad).await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(!refused.text().await.unwrap().contains("09318700456"));

    let (status, logs) = server.stop();
    assert!(status.success());
    assert!(
        logs.contains("request done"),
        "the server logged its requests: {logs}"
    );
    for secret in [
        "093187004567",
        "09318700456",
        "CARD-778899",
        "1987-04-23",
        "the first admin password",
    ] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
    // Every request line carries its request id.
    for line in logs.lines().filter(|l| l.contains("request done")) {
        assert!(line.contains("request_id"), "{line}");
    }
    // Written to a pipe, not a terminal: plain text, no colour escape sequences.
    assert!(
        !logs.contains('\u{1b}'),
        "escape sequences in the logs: {logs:?}"
    );
}

/// `party-records import` and `export` against a running server: exit 0 with the counts, 1
/// with the rejected rows as a table, 2 on usage and connection errors; personal data of an
/// imported file stays out of the logs.
#[tokio::test]
async fn import_and_export_from_the_command_line() {
    let (_db, url) = TestDb::create();
    assert!(create_admin(&url, "the first admin password")
        .status
        .success());
    let server = serve(&url);
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.address))
        .json(&json!({"username": "admin", "password": "the first admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let orgs = dir.path().join("organizations.csv");
    std::fs::write(
        &orgs,
        "code,name,kind,parent_code,established_on\nHG,Đảng bộ tỉnh,provincial_committee,,2004-01-01\nCB,Chi bộ,grassroots_branch,HG,2004-01-01\n",
    )
    .unwrap();
    let members = dir.path().join("members.ndjson");
    std::fs::write(
        &members,
        "{\"profile_number\": \"HG-1\", \"full_name\": \"Nguyễn Thị Hoa\", \"gender\": \"nữ\", \"born_on\": \"23/04/1987\", \"national_id\": \"093187004567\", \"organization_code\": \"CB\", \"admitted_on\": \"2015-05-19\"}\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "organization_code,year,target\nCB,2024,3\nNOPE,2024,1\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("PARTY_RECORDS_SERVER", &server.address)
            .env("PARTY_RECORDS_TOKEN", &token)
            .output()
            .unwrap()
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();

    let dry = run(&[
        "import",
        "--kind",
        "organizations",
        &path(&orgs),
        "--dry-run",
    ]);
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    assert!(String::from_utf8_lossy(&dry.stdout).contains("dry run"));
    let done = run(&["import", "--kind", "organizations", &path(&orgs)]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    assert!(String::from_utf8_lossy(&done.stdout).contains("2 inserted"));
    let done = run(&["import", "--kind", "members", &path(&members)]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");

    let rejected = run(&["import", "--kind", "admission-targets", &path(&bad)]);
    assert_eq!(rejected.status.code(), Some(1), "{rejected:?}");
    let table = String::from_utf8_lossy(&rejected.stdout);
    assert!(
        table.contains("admission_target.organization_not_found") && table.contains("      2"),
        "{table}"
    );

    let out = dir.path().join("out.csv");
    let exported = run(&["export", "--kind", "members", "--output", &path(&out)]);
    assert_eq!(exported.status.code(), Some(0), "{exported:?}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("profile_number,"), "{csv}");
    assert!(csv.contains("HG-1,") && csv.contains("1987-04-23"), "{csv}");
    let members_exported = csv.lines().count() - 1;
    assert!(
        String::from_utf8_lossy(&exported.stderr).contains(&format!(
            "members: {members_exported} rows, {} bytes exported",
            csv.len()
        )),
        "{exported:?}"
    );
    let to_stdout = run(&["export", "--kind", "organizations", "--format", "ndjson"]);
    assert_eq!(to_stdout.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&to_stdout.stdout).lines().count(),
        2
    );
    assert!(
        String::from_utf8_lossy(&to_stdout.stderr).contains("organizations: 2 rows"),
        "{to_stdout:?}"
    );

    // Usage and connection errors.
    let unknown = run(&["import", "--kind", "members", "members.txt"]);
    assert_eq!(unknown.status.code(), Some(2));
    let mut away = Command::new(BIN);
    let away = away
        .args(["import", "--kind", "organizations", &path(&orgs)])
        .args(["--server", "http://127.0.0.1:9", "--token", "x"])
        .output()
        .unwrap();
    assert_eq!(away.status.code(), Some(2), "{away:?}");

    let (_, logs) = server.stop();
    for secret in ["093187004567", "1987-04-23", "23/04/1987"] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
}

impl Server {
    /// SIGKILL: no chance to finish anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Killed with SIGKILL in the middle of a large import, the server restarts on a database that
/// holds none of it (the import is one transaction), and serves and imports again.
#[tokio::test]
async fn a_server_killed_during_an_import_keeps_all_or_nothing() {
    let (_db, url) = TestDb::create();
    assert!(create_admin(&url, "the first admin password")
        .status
        .success());
    let server = serve(&url);
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/auth/login", server.address))
        .json(&json!({"username": "admin", "password": "the first admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let orgs = "code,name,kind,parent_code,established_on\nHG,Tỉnh,provincial_committee,,2004-01-01\nCB,Chi bộ,grassroots_branch,HG,2004-01-01\n";
    let answer = client
        .post(format!("{}/api/v1/imports/organizations", server.address))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(orgs)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let mut members =
        String::from("profile_number,full_name,gender,born_on,organization_code,admitted_on\n");
    for i in 0..30_000 {
        members.push_str(&format!(
            "HG-{i:06},Nguyễn Văn An,male,1980-01-01,CB,2010-01-01\n"
        ));
    }
    // Sent over a plain socket so that nothing waits for the answer that never comes.
    let host = server.address.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    let head = format!(
        "POST /api/v1/imports/members HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        members.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(members.as_bytes()).unwrap();
    // The rows are being written (30,000 take seconds in a test build): kill now.
    std::thread::sleep(Duration::from_millis(400));
    stream.set_nonblocking(true).unwrap();
    let mut early = [0u8; 16];
    assert!(
        stream.read(&mut early).is_err(),
        "the import answered before the kill: the test would prove nothing"
    );
    server.kill();

    let server = serve(&url);
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/auth/login", server.address))
        .json(&json!({"username": "admin", "password": "the first admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let list: serde_json::Value = client
        .get(format!("{}/api/v1/members?limit=1", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"],
        json!([]),
        "part of the import survived: {list}"
    );
    // The database is not left locked: the next import goes through whole.
    let small: String = members.lines().take(11).map(|l| format!("{l}\n")).collect();
    let answer = client
        .post(format!("{}/api/v1/imports/members", server.address))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(small)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let summary: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(summary["inserted"], 10);
    server.stop();
}
