//! `party-records bench`: loads a generated province into a fresh database, serves it, and
//! times the workloads of BENCHMARKS.md over HTTP against direct SQL baselines. Timing lives
//! here, never in `cargo test`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::auth::password::hash_password;
use crate::auth::Visibility;
use crate::config::Settings;
use crate::db::{self, DbConn, Engine};
use crate::demo::province::{self, Shape};
use crate::domain::Role;
use crate::store;
use crate::Application;

pub struct Options {
    pub engine: Engine,
    /// A PostgreSQL server to create the benchmark database on.
    pub server_url: Option<String>,
    pub iterations: usize,
    pub seed: u64,
}

/// One measured workload.
struct Row {
    name: String,
    ops: usize,
    samples: Vec<Duration>,
    total: Duration,
    baseline: Option<String>,
}

impl Row {
    fn percentile(&self, p: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        if s.is_empty() {
            return Duration::ZERO;
        }
        s[((s.len() as f64 - 1.0) * p).round() as usize]
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn measure(name: &str, iterations: usize, mut f: impl FnMut(usize)) -> Row {
    // A few warm-up rounds: caches and prepared statements as in steady use.
    for i in 0..iterations.min(5) {
        f(i);
    }
    let mut samples = Vec::with_capacity(iterations);
    let started = Instant::now();
    for i in 0..iterations {
        let start = Instant::now();
        f(i);
        samples.push(start.elapsed());
    }
    Row {
        name: name.into(),
        ops: iterations,
        samples,
        total: started.elapsed(),
        baseline: None,
    }
}

/// A minimal keep-alive HTTP/1.1 client: the benchmark must not measure a heavy client.
struct Http {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Http {
    fn connect(address: &str) -> Http {
        let stream = TcpStream::connect(address).expect("connect to the server");
        stream.set_nodelay(true).ok();
        Http {
            reader: BufReader::new(stream),
            host: address.to_string(),
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).expect("send");
        if let Some(body) = body {
            stream.write_all(body.as_bytes()).expect("send");
        }
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .expect("status line");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut buf = vec![0u8; length];
        self.reader.read_exact(&mut buf).expect("body");
        (status, String::from_utf8_lossy(&buf).into_owned())
    }

    fn get(&mut self, path: &str, token: &str) -> String {
        let (status, body) = self.request("GET", path, Some(token), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// A fresh database for the run: a file in a temporary folder, or a new PostgreSQL database.
struct BenchDb {
    url: String,
    drop_on: Option<(String, String)>,
    _dir: Option<std::path::PathBuf>,
}

impl BenchDb {
    fn create(options: &Options) -> Result<BenchDb, String> {
        match options.engine {
            Engine::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("party-records-bench-{}", std::process::id()));
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                let path = dir.join("bench.db");
                let _ = std::fs::remove_file(&path);
                Ok(BenchDb {
                    url: format!("sqlite://{}", path.display()),
                    drop_on: None,
                    _dir: Some(dir),
                })
            }
            Engine::Postgres => {
                let server = options
                    .server_url
                    .clone()
                    .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/postgres".into());
                let name = format!("prbench_{}", std::process::id());
                let mut conn =
                    diesel::PgConnection::establish(&server).map_err(|e| e.to_string())?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())?;
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())?;
                let (base, _) = server
                    .rsplit_once('/')
                    .ok_or("a server URL names a database")?;
                Ok(BenchDb {
                    url: format!("{base}/{name}"),
                    drop_on: Some((server, name)),
                    _dir: None,
                })
            }
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.drop_on {
            if std::env::var("BENCH_KEEP").is_ok() {
                return;
            }
            if let Ok(mut conn) = diesel::PgConnection::establish(server) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
        if let Some(dir) = &self._dir {
            if std::env::var("BENCH_KEEP").is_err() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    id: i64,
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    full_name: String,
}

/// Runs the province benchmark and returns its report (Markdown).
pub fn run(options: Options) -> Result<String, String> {
    let bench_db = BenchDb::create(&options)?;
    let pool = db::build_pool(&bench_db.url, &db::PoolOptions::default())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    db::run_migrations(&mut conn)?;

    let founded = NaiveDate::from_ymd_opt(1990, 1, 1).expect("valid date");
    let shape = Shape::province();
    let (province, generated) = time(|| {
        province::generate(
            options.seed,
            "HG",
            "Đảng bộ tỉnh Hậu Giang",
            &shape,
            founded,
        )
    });
    let mut rows = Vec::new();
    let member_count = province.members.len();
    let (loaded, load_time) = time(|| load(&mut conn, province));
    loaded?;
    if std::env::var("BENCH_ANALYZE").is_ok() {
        diesel::sql_query("ANALYZE")
            .execute(&mut conn)
            .map_err(|e| e.to_string())?;
    }
    rows.push(Row {
        name: format!(
            "load {member_count} members + {} organisations (store, one transaction)",
            1 + 11 + shape.grassroots_committees + shape.grassroots_branches + shape.sub_branches
        ),
        ops: 1,
        samples: vec![load_time],
        total: load_time,
        baseline: Some(format!(
            "{:.0} members/s; generation took {} ms",
            member_count as f64 / load_time.as_secs_f64(),
            ms(generated)
        )),
    });

    store::users::create(
        &mut conn,
        store::users::NewUser {
            username: "bench".into(),
            password_hash: hash_password("benchmark password"),
            role: Role::Clerk,
            scope: Some("HG".into()),
            active: true,
        },
    )
    .map_err(|e| e.to_string())?;
    // The cursor of a page deep in the list, reached the way a client would.
    let deep_page = member_count / 50 / 2;
    let mut cursor = None;
    for _ in 0..deep_page {
        let page = store::members::list(
            &mut conn,
            Visibility::All,
            store::members::ListFilter {
                limit: 50,
                cursor: cursor.clone(),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        cursor = page.next_cursor;
    }
    let cursor = cursor.ok_or("the list has no deep page")?;
    drop(conn);

    let database_url = bench_db.url.clone();
    let report = actix_web::rt::System::new().block_on(async move {
        let settings = Settings {
            database_url,
            bind: "127.0.0.1:0".into(),
            jwt_secret: crate::auth::tokens::random_token(48).into_bytes(),
            max_body_bytes: 1024 * 1024,
            max_import_bytes: 1 << 32,
            pool_size: 10,
            workers: None,
        };
        let app = Application::build(&settings)?;
        let address = format!("127.0.0.1:{}", app.port());
        let server = actix_web::rt::spawn(app.run_until_stopped());
        let iterations = options.iterations;
        let result = actix_web::rt::task::spawn_blocking(move || {
            http_workloads(&address, iterations, &cursor)
        })
        .await
        .map_err(|e| e.to_string())?;
        server.abort();
        result.map(|mut http_rows| {
            rows.append(&mut http_rows);
            rows
        })
    })?;

    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let mut rows = report;
    rows.extend(sql_baselines(&mut conn, options.iterations));
    drop(conn);
    drop(pool);
    drop(bench_db);
    Ok(render(&options, &rows))
}

fn load(conn: &mut DbConn, province: province::Province) -> Result<(), String> {
    db::write_transaction(conn, |conn| {
        for org in province.organizations {
            store::organizations::create(conn, Visibility::All, org)?;
        }
        for member in province.members {
            store::members::create(conn, Visibility::All, member, "bench")?;
        }
        Ok::<(), crate::error::Error>(())
    })
    .map_err(|e| e.to_string())
}

fn http_workloads(address: &str, iterations: usize, deep_cursor: &str) -> Result<Vec<Row>, String> {
    let mut http = Http::connect(address);
    let (status, body) = http.request(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(r#"{"username":"bench","password":"benchmark password"}"#),
    );
    if status != 200 {
        return Err(format!("sign-in failed: {body}"));
    }
    let token: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let token = token["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_string();
    let searches = [
        "nguyen thi",
        "tran van",
        "hoa",
        "le minh",
        "pham",
        "huynh ngoc",
    ];
    let districts = ["HG.VT", "HG.NB", "HG.PH", "HG.CT", "HG.LMH"];
    let mut rows = vec![
        measure(
            "member list, page 1 (HTTP, province clerk)",
            iterations,
            |_| {
                http.get("/api/v1/members?limit=50", &token);
            },
        ),
        measure(
            "member list, a page half-way down (HTTP)",
            iterations,
            |_| {
                http.get(
                    &format!("/api/v1/members?limit=50&cursor={deep_cursor}"),
                    &token,
                );
            },
        ),
        measure("member list, name search (HTTP)", iterations, |i| {
            let q = searches[i % searches.len()].replace(' ', "%20");
            http.get(&format!("/api/v1/members?limit=50&q={q}"), &token);
        }),
        measure(
            "member list, one district on a date (HTTP)",
            iterations,
            |i| {
                let under = districts[i % districts.len()];
                http.get(
                    &format!("/api/v1/members?limit=50&under={under}&on=2023-12-31"),
                    &token,
                );
            },
        ),
        measure("GET one member (HTTP)", iterations, |i| {
            http.get(
                &format!("/api/v1/members/HG-{:06}", 1 + (i * 7919) % 30_000),
                &token,
            );
        }),
    ];
    rows[0].baseline = Some("see the direct SQL rows".into());
    Ok(rows)
}

fn sql_baselines(conn: &mut DbConn, iterations: usize) -> Vec<Row> {
    let page = "SELECT id, full_name FROM members ORDER BY sort_key, id LIMIT 51";
    let search =
        "SELECT id, full_name FROM members WHERE search_name LIKE $1 AND search_name LIKE $2 \
                  ORDER BY sort_key, id LIMIT 51";
    vec![
        measure(
            "direct SQL: page 1 by the (sort_key, id) index",
            iterations,
            |_| {
                let _: Vec<Found> = diesel::sql_query(page).load(conn).expect("query");
            },
        ),
        measure("direct SQL: name search, two words", iterations, |_| {
            let _: Vec<Found> = diesel::sql_query(search)
                .bind::<Text, _>("% nguyen%")
                .bind::<Text, _>("% thi%")
                .load(conn)
                .expect("query");
        }),
    ]
}

fn render(options: &Options, rows: &[Row]) -> String {
    let engine = match options.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let mut out = format!(
        "scale: province (1 province, 2,034 organisations, 33,923 members), db: {engine}, iterations: {}, seed: {}\n\n",
        options.iterations, options.seed
    );
    out.push_str("| workload | ops | p50 ms | p95 ms | p99 ms | throughput /s | note |\n|---|---|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.0} | {} |\n",
            row.name,
            row.ops,
            ms(row.percentile(0.50)),
            ms(row.percentile(0.95)),
            ms(row.percentile(0.99)),
            row.ops as f64 / row.total.as_secs_f64(),
            row.baseline.clone().unwrap_or_default()
        ));
    }
    out
}
