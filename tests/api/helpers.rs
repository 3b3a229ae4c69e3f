//! The test harness: each test gets the real application on a random port with a fresh,
//! migrated database of its own — a SQLite file in a temporary folder, or, when
//! `TEST_DATABASE_URL` names a PostgreSQL server, a new database on it — and talks HTTP to it.
//! Logs stay silent unless `TEST_LOG` is set.

use std::sync::Once;

use diesel::{Connection, PgConnection, RunQueryDsl};
use party_records::auth::password::hash_password;
use party_records::config::Settings;
use party_records::db::{DbPool, Engine};
use party_records::domain::Role;
use party_records::store;
use party_records::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub const PASSWORD: &str = "a long test password";

static INIT: Once = Once::new();

fn init_once() {
    INIT.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            party_records::telemetry::init();
        }
        if let Some(url) = pg_url() {
            drop_stale_databases(&url);
        }
    });
}

/// The PostgreSQL server of `TEST_DATABASE_URL`, if the run targets PostgreSQL.
pub fn pg_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| Engine::of(u) == Engine::Postgres)
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

const TEST_DB_PREFIX: &str = "prtest_";

/// Databases left by earlier runs (a test that panicked, a killed run) are dropped once.
fn drop_stale_databases(url: &str) {
    let mut conn = PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {url} is unreachable: {e}"));
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Name> = diesel::sql_query(format!(
        "SELECT datname FROM pg_database WHERE datname LIKE '{TEST_DB_PREFIX}%'"
    ))
    .load(&mut conn)
    .expect("list test databases");
    // Names carry their creation time; only those of runs over an hour old are dropped, so
    // that test processes running side by side keep their databases.
    let hour_ago = now_nanos().saturating_sub(3_600_000_000_000);
    for name in names.into_iter().filter(|n| {
        let stamp = n
            .datname
            .trim_start_matches(TEST_DB_PREFIX)
            .get(..32)
            .unwrap_or("");
        u128::from_str_radix(stamp, 16).is_ok_and(|t| t < hour_ago)
    }) {
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            name.datname
        ))
        .execute(&mut conn);
    }
}

/// A database that lives as long as the test.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl TestDb {
    pub fn create() -> (TestDb, String) {
        match pg_url() {
            Some(server) => {
                let name = format!("{TEST_DB_PREFIX}{}", uuid_simple());
                let mut conn = PgConnection::establish(&server)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {server} is unreachable: {e}"));
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .expect("create test database");
                let url = with_database(&server, &name);
                (TestDb::Postgres { server, name }, url)
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (TestDb::Sqlite(dir), url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, name } = self {
            if let Ok(mut conn) = PgConnection::establish(server) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}

fn now_nanos() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A unique database name part: creation time (32 hex digits) and a counter.
fn uuid_simple() -> String {
    format!("{:032x}_{:04x}", now_nanos(), rand_u16())
}

fn rand_u16() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static N: AtomicU16 = AtomicU16::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u16)
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: DbPool,
    _db: TestDb,
}

/// Starts the application on a fresh database; returns once it accepts requests.
pub async fn spawn_app() -> TestApp {
    init_once();
    let (db, url) = TestDb::create();
    let settings = Settings {
        database_url: url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: b"test secret that is long enough for HS256 signing".to_vec(),
        max_body_bytes: 64 * 1024,
        max_import_bytes: 8 * 1024 * 1024,
        pool_size: 4,
        workers: Some(1),
    };
    let app = Application::build(&settings).expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        pool,
        _db: db,
    }
}

/// An answer read whole: status, headers, and the body as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub async fn read(res: Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Answer {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json answer with this status and, when given, this error code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: Option<&str>) -> &Answer {
        self.expect(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        for key in ["type", "title", "status", "detail"] {
            assert!(
                self.body.get(key).is_some(),
                "problem lacks {key}: {}",
                self.text
            );
        }
        assert_eq!(self.body["status"], json!(status));
        if let Some(code) = code {
            let codes: Vec<&str> = self.body["errors"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                codes.contains(&code),
                "expected error code {code}, got {}",
                self.text
            );
        }
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Answer::read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, version: &str, body: Value) -> Answer {
        self.call_with(
            Method::PATCH,
            path,
            Some(token),
            Some(body),
            &[("If-Match", version)],
        )
        .await
    }

    /// Creates a user straight in the database (as `create-user` does).
    pub fn insert_user(&self, username: &str, role: Role, scope: Option<&str>) {
        let mut conn = self.pool.get().unwrap();
        store::users::create(
            &mut conn,
            store::users::NewUser {
                username: username.into(),
                password_hash: hash_password(PASSWORD),
                role,
                scope: scope.map(str::to_string),
                active: true,
            },
        )
        .expect("user created");
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Signs in and returns the access token.
    pub async fn token(&self, username: &str) -> String {
        let answer = self.login(username, PASSWORD).await;
        answer.expect(200);
        answer.body["access_token"].as_str().unwrap().to_string()
    }

    /// An administrator's access token (the user is created on first use).
    pub async fn admin(&self) -> String {
        let exists = {
            let mut conn = self.pool.get().unwrap();
            store::users::find_by_username(&mut conn, "admin")
                .unwrap()
                .is_some()
        };
        if !exists {
            self.insert_user("admin", Role::Admin, None);
        }
        self.token("admin").await
    }

    /// Creates an organisation through the API; panics unless 201.
    pub async fn org(
        &self,
        token: &str,
        code: &str,
        kind: &str,
        parent: Option<&str>,
        established_on: &str,
    ) -> Value {
        let answer = self
            .post(
                "/api/v1/organizations",
                token,
                json!({
                    "code": code,
                    "name": format!("Tổ chức {code}"),
                    "kind": kind,
                    "parent_code": parent,
                    "established_on": established_on,
                }),
            )
            .await;
        answer.expect(201);
        answer.body.clone()
    }
}
