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
    /// Reads an answer to a request the caller built itself; it is checked against
    /// `openapi.yaml` ([`contract::check`]) with any method its path has.
    pub async fn read(res: Response) -> Answer {
        Self::read_checked(None, res).await
    }

    /// Reads an answer and checks it against the operation `method` of its path in
    /// `openapi.yaml`.
    async fn read_checked(method: Option<Method>, res: Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let path = res.url().path().to_string();
        let text = res.text().await.unwrap_or_default();
        let answer = Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
            text,
        };
        contract::check(
            method.as_ref().map(Method::as_str),
            &path,
            answer.status.as_u16(),
            answer.header("content-type"),
            &answer.text,
        );
        answer
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
        let mut req = self.client.request(method.clone(), self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Answer::read_checked(Some(method), req.send().await.expect("request sent")).await
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

/// Every answer the helpers read is checked against `openapi.yaml`: the operation (method and
/// path template) must document the status, the content type must be one it lists for that
/// status, and a JSON body must validate against its schema (`$ref`s resolved, formats such as
/// `date` and `date-time` checked). A mismatch fails the test, naming the operation, the status
/// and the schema errors. Answers to paths or methods the spec does not have (the 404 and 405 of
/// unknown routes) must still be problem+json documents.
pub mod contract {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    use serde_json::Value;

    /// The spec as JSON, with compiled validators cached by the JSON pointer of their schema.
    struct Contract {
        spec: Value,
        validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    }

    fn contract() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let yaml: serde_yaml::Value = serde_yaml::from_str(party_records::api::openapi_yaml())
                .expect("openapi.yaml parses");
            let spec: Value = serde_json::to_value(yaml).expect("openapi.yaml is JSON-compatible");
            Contract {
                spec,
                validators: Mutex::new(HashMap::new()),
            }
        })
    }

    /// A JSON pointer token (RFC 6901).
    fn escape(token: &str) -> String {
        token.replace('~', "~0").replace('/', "~1")
    }

    fn status_key(status: &serde_json::Map<String, Value>, code: u16) -> Option<String> {
        let exact = code.to_string();
        let range = format!("{}XX", code / 100);
        [exact, range, "default".to_string()]
            .into_iter()
            .find(|k| status.contains_key(k))
    }

    /// The path template of `openapi.yaml` that `path` matches; literal segments win over
    /// parameters (`/insignia-awards/eligible` before `/insignia-awards/{id}`).
    fn template_of<'a>(paths: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a str> {
        let segments: Vec<&str> = path.split('/').collect();
        paths
            .keys()
            .filter_map(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') && part.ends_with('}') {
                        if segment.is_empty() {
                            return None;
                        }
                    } else if part == segment {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, template.as_str()))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, template)| template)
    }

    impl Contract {
        /// Follows a `$ref` to `#/components/…` (responses may be references).
        fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => self
                    .spec
                    .pointer(reference.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("openapi.yaml: dangling $ref {reference}")),
                None => value,
            }
        }

        /// The validator of the schema at `pointer`: the whole spec is the schema document, so
        /// that every `#/components/schemas/…` reference resolves.
        fn validator(&self, pointer: &str) -> Arc<jsonschema::Validator> {
            if let Some(v) = self.validators.lock().unwrap().get(pointer) {
                return v.clone();
            }
            let mut document = self.spec.clone();
            let root = document.as_object_mut().unwrap();
            // The pointer as a URI fragment: `{` and `}` of path templates percent-encoded.
            let fragment = pointer
                .replace('%', "%25")
                .replace('{', "%7B")
                .replace('}', "%7D");
            root.insert("$ref".into(), Value::String(format!("#{fragment}")));
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&document)
                .unwrap_or_else(|e| {
                    panic!("openapi.yaml: the schema at {pointer} is invalid: {e}")
                });
            let validator = Arc::new(validator);
            self.validators
                .lock()
                .unwrap()
                .insert(pointer.to_string(), validator.clone());
            validator
        }

        /// Checks one answer against the response `response` (already dereferenced) whose
        /// content map lives at `pointer`. Returns the reasons it does not conform.
        fn conforms(
            &self,
            response: &Value,
            pointer: &str,
            content_type: Option<&str>,
            text: &str,
        ) -> Result<(), String> {
            let content = response.get("content").and_then(Value::as_object);
            let Some(content) = content.filter(|c| !c.is_empty()) else {
                return if text.is_empty() {
                    Ok(())
                } else {
                    Err(format!("the spec documents no body, got {content_type:?}"))
                };
            };
            let Some(content_type) = content_type else {
                return Err("the answer has no Content-Type".into());
            };
            let essence = content_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let Some(media) = content.get(&essence) else {
                return Err(format!(
                    "Content-Type {essence} is not one of {:?}",
                    content.keys().collect::<Vec<_>>()
                ));
            };
            if media.get("schema").is_none() {
                return Ok(());
            }
            let instance = if essence == "application/json" || essence.ends_with("+json") {
                serde_json::from_str(text)
                    .map_err(|e| format!("the body is not JSON ({e}): {text}"))?
            } else {
                Value::String(text.to_string())
            };
            let schema_pointer = format!("{pointer}/{}/schema", escape(&essence));
            let validator = self.validator(&schema_pointer);
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| format!("at `{}`: {e}", e.instance_path()))
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                let mut body = text.to_string();
                if body.len() > 2000 {
                    let mut cut = 2000;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    body.truncate(cut);
                    body.push('…');
                }
                Err(format!(
                    "the body does not match {schema_pointer}:\n  {}\nbody: {body}",
                    errors.join("\n  ")
                ))
            }
        }

        /// The pointer and the (dereferenced) response object an operation documents for
        /// `status`, or why there is none.
        fn response_of(
            &self,
            template: &str,
            method: &str,
            status: u16,
        ) -> Result<(String, &Value), String> {
            let op_pointer = format!("/paths/{}/{method}", escape(template));
            let op = self
                .spec
                .pointer(&op_pointer)
                .ok_or_else(|| format!("no operation {method} {template}"))?;
            let responses = op["responses"].as_object().expect("responses");
            let key = status_key(responses, status).ok_or_else(|| {
                format!(
                    "status {status} is not documented (documented: {:?})",
                    responses.keys().collect::<Vec<_>>()
                )
            })?;
            let raw = &responses[&key];
            match raw.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.trim_start_matches('#').to_string();
                    Ok((format!("{pointer}/content"), self.deref(raw)))
                }
                None => Ok((format!("{op_pointer}/responses/{key}/content"), raw)),
            }
        }
    }

    /// Panics unless the answer conforms to `openapi.yaml`. `method` is `None` when the caller
    /// sent the request itself: then the answer must conform to one of the operations on the
    /// path that document its status.
    pub fn check(
        method: Option<&str>,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        text: &str,
    ) {
        let contract = contract();
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let paths = contract.spec["paths"].as_object().expect("paths");
        let methods: Vec<String> = match template_of(paths, path) {
            Some(template) => {
                let item = &paths[template];
                let methods: Vec<String> = ["get", "put", "post", "delete", "patch"]
                    .into_iter()
                    .filter(|m| item.get(*m).is_some())
                    .filter(|m| method.is_none_or(|wanted| wanted.eq_ignore_ascii_case(m)))
                    .map(str::to_string)
                    .collect();
                if methods.is_empty() {
                    // A method the path does not have: the server's 405, a problem.
                    return unknown_route(method.unwrap_or("?"), path, status, content_type, text);
                }
                methods
                    .into_iter()
                    .map(|m| format!("{m} {template}"))
                    .collect()
            }
            None => return unknown_route(method.unwrap_or("?"), path, status, content_type, text),
        };
        let mut reasons = Vec::new();
        for operation in &methods {
            let (m, template) = operation.split_once(' ').unwrap();
            let outcome =
                contract
                    .response_of(template, m, status)
                    .and_then(|(pointer, response)| {
                        contract.conforms(response, &pointer, content_type, text)
                    });
            match outcome {
                Ok(()) => return,
                Err(reason) => reasons.push(format!("{} {template}: {reason}", m.to_uppercase())),
            }
        }
        panic!(
            "openapi.yaml: the answer {status} to {} {path} does not conform:\n{}",
            method.unwrap_or("(method not known)"),
            reasons.join("\n")
        );
    }

    fn unknown_route(
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        text: &str,
    ) {
        let contract = contract();
        assert!(
            status >= 400,
            "openapi.yaml has no operation {method} {path}, yet it answered {status}"
        );
        // Every problem response of the spec has the same schema; NotFound's stands for all.
        let problem = &contract.spec["components"]["responses"]["NotFound"];
        if let Err(reason) = contract.conforms(
            problem,
            "/components/responses/NotFound/content",
            content_type,
            text,
        ) {
            panic!("the answer {status} to {method} {path} (no such operation) is not a problem: {reason}");
        }
    }
}
