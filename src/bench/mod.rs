//! `party-records bench`: loads a generated province into a fresh database, serves it, and
//! times the workloads of BENCHMARKS.md over HTTP against direct SQL baselines. Timing lives
//! here, never in `cargo test`.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::auth::password::hash_password;
use crate::auth::Visibility;
use crate::client;
use crate::db::{self, Day, DbConn, Engine, Stamp};
use crate::demo::dataset::DataSet;
use crate::demo::figures::Figures;
use crate::domain::Role;
use crate::import::Kind;
use crate::store;

mod national;
mod server;

/// How big the generated data set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The demonstration's province, every kind of record.
    Province,
    /// 34 provinces, 5.3 million members (`national`).
    National,
}

pub struct Options {
    pub engine: Engine,
    pub scale: Scale,
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

    fn sign_in(&mut self, username: &str) -> Result<String, String> {
        let body = format!(r#"{{"username":"{username}","password":"benchmark password"}}"#);
        let (status, answer) = self.request_with(
            "POST",
            "/api/v1/auth/login",
            None,
            "application/json",
            body.as_bytes(),
        );
        if status != 200 {
            return Err(format!("sign-in failed: {answer}"));
        }
        let answer: serde_json::Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
        Ok(answer["access_token"]
            .as_str()
            .ok_or("no token")?
            .to_string())
    }

    fn request(&mut self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        self.send(method, path, token, None)
    }

    fn request_with(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String) {
        self.send(method, path, token, Some((content_type, body)))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> (u16, String) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if let Some((content_type, body)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).expect("send");
        if let Some((_, body)) = body {
            stream.write_all(body).expect("send");
        }
        let (status, headers) = client::read_head(&mut self.reader).expect("an HTTP answer");
        let mut buf = Vec::new();
        client::copy_body(&mut self.reader, &headers, &mut buf).expect("body");
        (status, String::from_utf8_lossy(&buf).into_owned())
    }

    /// POSTs a CSV file, streamed from disk (a national file does not fit in memory).
    fn send_file(&mut self, path: &str, token: &str, file: &std::path::Path) -> (u16, String) {
        let mut input = std::fs::File::open(file).expect("the generated file");
        let size = input.metadata().expect("metadata").len();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: text/csv\r\nContent-Length: {size}\r\n\r\n",
            self.host
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).expect("send");
        std::io::copy(&mut input, stream).expect("send");
        let (status, headers) = client::read_head(&mut self.reader).expect("an HTTP answer");
        let mut buf = Vec::new();
        client::copy_body(&mut self.reader, &headers, &mut buf).expect("body");
        (status, String::from_utf8_lossy(&buf).into_owned())
    }

    fn get(&mut self, path: &str, token: &str) -> String {
        let (status, body) = self.request("GET", path, Some(token));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// Removes the run's generated files, unless `BENCH_KEEP` keeps them beside the database (to
/// import one of them again into a copy of the kept database).
fn remove_files(dir: &std::path::Path) {
    if std::env::var("BENCH_KEEP").is_err() {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        eprintln!("BENCH_KEEP: the files are kept in {}", dir.display());
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
        if std::env::var("BENCH_KEEP").is_ok() {
            eprintln!("BENCH_KEEP: the database is kept at {}", self.url);
            return;
        }
        if let Some((server, name)) = &self.drop_on {
            if let Ok(mut conn) = diesel::PgConnection::establish(server) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
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
    store::users::create(
        &mut conn,
        store::users::NewUser {
            username: "bench-admin".into(),
            password_hash: hash_password("benchmark password"),
            role: Role::Admin,
            scope: None,
            active: true,
        },
    )
    .map_err(|e| e.to_string())?;
    drop(conn);

    let dir =
        std::env::temp_dir().join(format!("party-records-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let only = only_kinds()?;
    let files = generate(&options, &dir, only.as_deref());
    let files = match files {
        Ok(files) => files,
        Err(e) => {
            remove_files(&dir);
            return Err(e);
        }
    };
    let members_file = files
        .files
        .iter()
        .find(|(kind, ..)| *kind == Kind::Members)
        .map(|(_, _, path)| path.clone())
        .expect("members are always loaded");
    let description = files.description.clone();

    let server = match server::ServerProcess::start(&bench_db.url, &dir) {
        Ok(server) => server,
        Err(e) => {
            remove_files(&dir);
            return Err(e);
        }
    };
    // The members baseline loads the same rows into the same table in the state the import
    // finds it: after the organisations, with no member yet (then rolls back). Run after the
    // import instead, it inserted beside the 5.5 million imported members, into a larger
    // file, on a disk still writing the imports out, and its speed varied 2× from day to day.
    let mut baseline: Option<Row> = None;
    let measured = (|| {
        let mut before_members = || -> Result<(), String> {
            if only.is_some() {
                return Ok(());
            }
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            baseline = Some(load_baseline(&mut conn, &members_file)?);
            if let DbConn::Postgres(c) = &mut *conn {
                // The rolled-back rows are dead tuples at the head of the table, which the
                // import would load after: the vacuum truncates the table back to empty.
                use diesel::connection::SimpleConnection;
                c.batch_execute("VACUUM members")
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        let mut rows = import_workloads(&server.address, files, &mut before_members)?;
        rows.push(peak_memory_row(server.peak_memory_kb()));
        if only.is_some() {
            return Ok(rows);
        }
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        if std::env::var("BENCH_ANALYZE").is_ok() {
            // What an operator runs after a bulk load. PostgreSQL: VACUUM as well, so that the
            // visibility map lets index-only scans skip the table (a province's name search at
            // national scale: 49 ms before, 15 ms after).
            let statement = match options.engine {
                Engine::Postgres => "VACUUM ANALYZE",
                Engine::Sqlite => "ANALYZE",
            };
            diesel::sql_query(statement)
                .execute(&mut conn)
                .map_err(|e| e.to_string())?;
        }
        let cursor = prepare_lists(&mut conn)?;
        drop(conn);
        rows.extend(http_workloads(
            &server.address,
            options.iterations,
            &cursor,
        )?);
        if options.scale == Scale::National {
            rows.push(nation_report(&server.address, &national::province_codes())?);
            rows.push(whole_report(&server.address)?);
        }
        Ok::<_, String>(rows)
    })();
    drop(server);
    let mut rows = match measured {
        Ok(rows) => rows,
        Err(e) => {
            remove_files(&dir);
            return Err(e);
        }
    };

    if only.is_some() {
        remove_files(&dir);
        drop(pool);
        drop(bench_db);
        return Ok(render(&options, &description, &rows));
    }
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    remove_files(&dir);
    rows.extend(baseline);
    rows.extend(sql_baselines(&mut conn, options.iterations)?);
    if options.scale == Scale::National {
        rows.push(whole_sql(&mut conn)?);
    }
    compare_with_its_sql(&mut rows, REPORT_ROW, REPORT_SQL_ROW);
    compare_with_its_sql(&mut rows, WHOLE_ROW, WHOLE_SQL_ROW);
    drop(conn);
    drop(pool);
    drop(bench_db);
    Ok(render(&options, &description, &rows))
}

struct ImportFiles {
    /// Each kind with its row count and CSV file, in import order.
    files: Vec<(Kind, usize, std::path::PathBuf)>,
    generated: Duration,
    description: String,
}

/// The server's peak resident memory (`VmHWM` of its process) after the imports, as a row.
fn peak_memory_row(peak_kb: Option<u64>) -> Row {
    Row {
        name: "peak resident memory of the server during the imports".into(),
        ops: 0,
        samples: Vec::new(),
        total: Duration::ZERO,
        baseline: Some(match peak_kb {
            Some(kb) => format!("{:.0} MB", kb as f64 / 1024.0),
            None => "not measured (no /proc)".into(),
        }),
    }
}

/// The data set of the scale as import files in `dir`.
fn generate(
    options: &Options,
    dir: &std::path::Path,
    only: Option<&[Kind]>,
) -> Result<ImportFiles, String> {
    let started = Instant::now();
    match options.scale {
        Scale::Province => {
            let data = DataSet::generate(options.seed, &Figures::hau_giang_2024())?;
            let written = data.write_files(dir).map_err(|e| e.to_string())?;
            let files: Vec<_> = written
                .into_iter()
                .filter(|(kind, _)| only.is_none_or(|only| only.contains(kind)))
                .map(|(kind, path)| (kind, data.rows(kind).len(), path))
                .collect();
            let which = match only {
                None => "every kind of record".to_string(),
                Some(_) => kinds_named(&files.iter().map(|(k, ..)| *k).collect::<Vec<_>>()),
            };
            Ok(ImportFiles {
                files,
                generated: started.elapsed(),
                description: format!(
                    "province (the demonstration's Hậu Giang: {} organisations, {} members, {which})",
                    data.rows(Kind::Organizations).len(),
                    data.member_count()
                ),
            })
        }
        Scale::National => {
            // Every kind, in the province's import order (or those of `BENCH_KINDS`).
            let kinds: Vec<Kind> = [
                Kind::Organizations,
                Kind::Members,
                Kind::Positions,
                Kind::Transfers,
                Kind::MemberRatings,
                Kind::OrganizationRatings,
                Kind::DisciplinaryActions,
                Kind::InsigniaAwards,
                Kind::AdmissionTargets,
            ]
            .into_iter()
            .filter(|kind| only.is_none_or(|only| only.contains(kind)))
            .collect();
            let n = national::write_files(options.seed, dir, &kinds)?;
            let which = match only {
                None => "every kind of record".to_string(),
                Some(_) => kinds_named(&kinds),
            };
            Ok(ImportFiles {
                files: n.files,
                generated: started.elapsed(),
                description: format!(
                    "national ({} provinces, {} organisations, {} members; {which})",
                    n.provinces, n.organizations, n.members
                ),
            })
        }
    }
}

/// The kinds to import of `BENCH_KINDS` (comma-separated, e.g.
/// `disciplinary-actions,insignia-awards`), with organisations and members, which every
/// other kind refers to. When it is set the benchmark times those imports alone: a national
/// run of one kind costs the members' five minutes, not the whole run's ten. Name what a kind
/// needs besides: discipline's removals from post need `positions` before them.
fn only_kinds() -> Result<Option<Vec<Kind>>, String> {
    let Ok(list) = std::env::var("BENCH_KINDS") else {
        return Ok(None);
    };
    let mut kinds = vec![Kind::Organizations, Kind::Members];
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = Kind::parse(name)
            .ok_or_else(|| format!("BENCH_KINDS: {name} is not one of {}", Kind::codes()))?;
        kinds.push(kind);
    }
    Ok(Some(kinds))
}

fn kinds_named(kinds: &[Kind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    format!("imports of {} alone (BENCH_KINDS)", names.join(", "))
}

/// Loads the province the way a script does: its files through `POST /api/v1/imports`, one
/// kind after another.
fn import_workloads(
    address: &str,
    files: ImportFiles,
    before_members: &mut dyn FnMut() -> Result<(), String>,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (kind, count, file) in &files.files {
        if *kind == Kind::Members {
            before_members()?;
        }
        // A connection and a sign-in for each file, as a script sending one file per command
        // does: a national file takes longer than a token lives, and the server closes a
        // connection left idle (the members baseline keeps it idle for minutes nationally).
        let mut http = Http::connect(address);
        let token = http.sign_in("bench-admin")?;
        let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
        let path = format!("/api/v1/imports/{kind}");
        let ((status, answer), took) = time(|| http.send_file(&path, &token, file));
        if status != 200 {
            return Err(format!("import of {kind} failed: {answer}"));
        }
        let mut note = format!(
            "{count} rows, {:.0} rows/s",
            *count as f64 / took.as_secs_f64()
        );
        if *kind == Kind::Members {
            note.push_str(&format!(
                "; generating the files took {} ms",
                ms(files.generated)
            ));
        }
        rows.push(Row {
            name: format!("import {kind} (CSV over HTTP, {:.1} MB)", size as f64 / 1e6),
            ops: 1,
            samples: vec![took],
            total: took,
            baseline: Some(note),
        });
    }
    Ok(rows)
}

/// The clerk of the list workloads, and the cursor of a page deep in the list, reached the
/// way a client would.
fn prepare_lists(conn: &mut DbConn) -> Result<String, String> {
    store::users::create(
        conn,
        store::users::NewUser {
            username: "bench".into(),
            password_hash: hash_password("benchmark password"),
            role: Role::Clerk,
            scope: Some("HG".into()),
            active: true,
        },
    )
    .map_err(|e| e.to_string())?;
    // Half-way down the province's list (at national scale the database holds 33 more).
    let hau_giang = store::organizations::find_visible(conn, Visibility::All, "HG")
        .map_err(|e| e.to_string())?;
    let total: i64 = crate::db::schema::members::table
        .filter(crate::db::schema::members::profile_number.like("HG-%"))
        .count()
        .get_result(conn)
        .map_err(|e| e.to_string())?;
    let mut cursor = None;
    for _ in 0..total / 200 / 2 {
        let page = store::members::list(
            conn,
            Visibility::Subtree(hau_giang.id),
            store::members::ListFilter {
                limit: 200,
                cursor: cursor.clone(),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        cursor = page.next_cursor;
    }
    cursor.ok_or_else(|| "the list has no deep page".to_string())
}

#[derive(Insertable)]
#[diesel(table_name = crate::db::schema::members, treat_none_as_default_value = false)]
struct BaselineMember<'a> {
    profile_number: String,
    full_name: &'a str,
    search_name: &'a str,
    sort_key: &'a str,
    gender: &'a str,
    born_on: Day,
    organization_id: i64,
    admitted_on: Day,
    version: i64,
    created_at: Stamp,
    updated_at: Stamp,
}

/// The engine's own bulk-load speed for the same member rows, into the same table, in one
/// transaction (rolled back), with no rule, no history, no membership: PostgreSQL `COPY`
/// (`db::bulk_insert!`), SQLite one prepared insert a row.
fn load_baseline(conn: &mut DbConn, members_file: &std::path::Path) -> Result<Row, String> {
    use crate::db::schema::{members as m, organizations as o};
    let orgs: std::collections::HashMap<String, i64> = o::table
        .select((o::code, o::id))
        .load::<(String, i64)>(conn)
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let mut reader = csv::Reader::from_path(members_file).map_err(|e| e.to_string())?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .expect("a member column")
    };
    let (pn, name, gender, born, org, admitted) = (
        column("profile_number"),
        column("full_name"),
        column("gender"),
        column("born_on"),
        column("organization_code"),
        column("admitted_on"),
    );
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| e.to_string());
    let engine = match conn {
        DbConn::Postgres(_) => "PostgreSQL COPY",
        DbConn::Sqlite(_) => "SQLite prepared inserts",
    };
    let now = crate::time::now();
    let mut took = Duration::ZERO;
    let mut count = 0usize;
    let mut records = reader.records();
    let result = db::write_transaction::<(), diesel::result::Error, _>(conn, |conn| {
        loop {
            // Read 10,000 rows (not timed), then load them (timed).
            let chunk: Vec<csv::StringRecord> = records
                .by_ref()
                .take(10_000)
                .collect::<Result<_, _>>()
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
            if chunk.is_empty() {
                break;
            }
            let mut rows = Vec::with_capacity(chunk.len());
            for r in &chunk {
                let parse = |i: usize| {
                    day(&r[i]).map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))
                };
                rows.push(BaselineMember {
                    profile_number: format!("X{}", &r[pn]),
                    full_name: &r[name],
                    search_name: &r[name],
                    sort_key: &r[name],
                    gender: &r[gender],
                    born_on: Day(parse(born)?),
                    organization_id: orgs[&r[org]],
                    admitted_on: Day(parse(admitted)?),
                    version: 1,
                    created_at: Stamp(now),
                    updated_at: Stamp(now),
                });
            }
            let start = Instant::now();
            match conn {
                DbConn::Postgres(_) => {
                    crate::bulk_insert!(conn, m::table, &rows)?;
                }
                DbConn::Sqlite(c) => {
                    for row in &rows {
                        diesel::insert_into(m::table).values(row).execute(c)?;
                    }
                }
            }
            took += start.elapsed();
            count += rows.len();
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    match result {
        Err(diesel::result::Error::RollbackTransaction) => {}
        Err(e) => return Err(e.to_string()),
        Ok(()) => unreachable!("the baseline always rolls back"),
    }
    Ok(Row {
        name: format!("baseline: {count} member rows by {engine}, one transaction"),
        ops: 1,
        samples: vec![took],
        total: took,
        baseline: Some(format!("{:.0} rows/s", count as f64 / took.as_secs_f64())),
    })
}

fn http_workloads(address: &str, iterations: usize, deep_cursor: &str) -> Result<Vec<Row>, String> {
    let mut http = Http::connect(address);
    let token = http.sign_in("bench")?;
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
        measure(REPORT_ROW, iterations.min(50), |_| {
            http.get("/api/v1/reports/annual?organization=HG&year=2024", &token);
        }),
        measure("GET one member (HTTP)", iterations, |i| {
            http.get(
                &format!("/api/v1/members/HG-{:06}", 1 + (i * 7919) % 30_000),
                &token,
            );
        }),
    ];
    rows[0].baseline = Some("see the direct SQL rows".into());
    let health = concurrent(address, "GET /health, 32 connections", None, |_| {
        "/health".into()
    });
    let mut one = concurrent(
        address,
        "GET one member, 32 connections (authenticated)",
        Some(&token),
        |i| format!("/api/v1/members/HG-{:06}", 1 + (i * 7919) % 30_000),
    );
    let rate = |r: &Row| r.ops as f64 / r.total.as_secs_f64();
    one.baseline = Some(format!(
        "{:.0}% of /health",
        100.0 * rate(&one) / rate(&health)
    ));
    rows.extend([health, one]);
    Ok(rows)
}

/// Rounds of the nation's report, and of the provinces' reports in turn.
const NATION_ROUNDS: usize = 5;

/// Every province's annual report, one after another (each sample is one round over every
/// province): what the nation cost before the whole party's report (`whole_report`), kept to
/// show what a province costs in the national database.
fn nation_report(address: &str, provinces: &[String]) -> Result<Row, String> {
    let mut http = Http::connect(address);
    let token = http.sign_in("bench-admin")?;
    let mut samples = Vec::with_capacity(NATION_ROUNDS);
    let started = Instant::now();
    for _ in 0..NATION_ROUNDS {
        let round = Instant::now();
        for code in provinces {
            http.get(
                &format!("/api/v1/reports/annual?organization={code}&year=2024"),
                &token,
            );
        }
        samples.push(round.elapsed());
    }
    Ok(Row {
        name: format!(
            "annual report JSON, each of the {} provinces in turn (HTTP, one sample a round)",
            provinces.len()
        ),
        ops: NATION_ROUNDS,
        samples,
        total: started.elapsed(),
        baseline: Some("the sum of the nation's figures, one request a province".into()),
    })
}

const WHOLE_ROW: &str =
    "annual report JSON, the nation: the whole party, one request without an organisation (HTTP)";
const WHOLE_SQL_ROW: &str =
    "direct SQL: the whole party's report figures (src/bench/whole_baseline.sql)";

/// The whole party's figures (`GET /api/v1/reports/annual?year=2024`, signed in as the admin,
/// who sees everything): the nation's report, read in one pass over each table.
fn whole_report(address: &str) -> Result<Row, String> {
    let mut http = Http::connect(address);
    let token = http.sign_in("bench-admin")?;
    Ok(measure(WHOLE_ROW, NATION_ROUNDS, |_| {
        http.get("/api/v1/reports/annual?year=2024", &token);
    }))
}

/// The whole party's report figures by hand-written SQL, run directly.
const WHOLE_SQL: &str = include_str!("whole_baseline.sql");

/// A baseline script as the connection's engine reads it: SQLite's dates are text, so its
/// `DATE '…'` literals lose the keyword.
fn for_engine(conn: &DbConn, sql: &str) -> String {
    match conn {
        DbConn::Sqlite(_) => sql.replace("DATE '", "'"),
        DbConn::Postgres(_) => sql.to_string(),
    }
}

fn whole_sql(conn: &mut DbConn) -> Result<Row, String> {
    use diesel::connection::SimpleConnection;
    let sql = for_engine(conn, WHOLE_SQL);
    Ok(measure(WHOLE_SQL_ROW, NATION_ROUNDS, |_| {
        conn.batch_execute(&sql).expect("the whole party's SQL");
    }))
}

/// Connections at once, each a keep-alive client in its own thread.
const CONNECTIONS: usize = 32;
/// How long the concurrent workloads run.
const CONCURRENT_FOR: Duration = Duration::from_secs(3);

/// `CONNECTIONS` clients sending `path(i)` for `CONCURRENT_FOR`: every request's latency, and
/// the requests answered in all.
fn concurrent(
    address: &str,
    name: &str,
    token: Option<&str>,
    path: impl Fn(usize) -> String + Sync,
) -> Row {
    let started = Instant::now();
    let samples: Vec<Duration> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let path = &path;
                scope.spawn(move || {
                    let mut http = Http::connect(address);
                    let mut samples = Vec::new();
                    let mut i = c * 1_000_003;
                    while started.elapsed() < CONCURRENT_FOR {
                        let start = Instant::now();
                        let (status, body) = http.request("GET", &path(i), token);
                        assert_eq!(status, 200, "{body}");
                        samples.push(start.elapsed());
                        i += 1;
                    }
                    samples
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client thread"))
            .collect()
    });
    Row {
        name: name.into(),
        ops: samples.len(),
        samples,
        total: started.elapsed(),
        baseline: None,
    }
}

/// The annual report's figures for one province by hand-written SQL (`{root}`: its id).
const REPORT_SQL: &str = include_str!("report_baseline.sql");

const REPORT_ROW: &str = "annual report JSON, the province (HTTP)";
const REPORT_SQL_ROW: &str =
    "direct SQL: the annual report's figures (src/bench/report_baseline.sql)";

/// A report workload's note: its p50 against its direct SQL's.
fn compare_with_its_sql(rows: &mut [Row], report_row: &str, sql_row: &str) {
    let p50 = |name: &str, rows: &[Row]| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| r.percentile(0.5))
    };
    if let (Some(report), Some(sql)) = (p50(report_row, rows), p50(sql_row, rows)) {
        if let Some(row) = rows.iter_mut().find(|r| r.name == report_row) {
            row.baseline = Some(format!(
                "{:.2}× the direct SQL",
                report.as_secs_f64() / sql.as_secs_f64()
            ));
        }
    }
}

fn sql_baselines(conn: &mut DbConn, iterations: usize) -> Result<Vec<Row>, String> {
    use diesel::connection::SimpleConnection;
    let root: i64 = crate::db::schema::organizations::table
        .filter(crate::db::schema::organizations::code.eq("HG"))
        .select(crate::db::schema::organizations::id)
        .first(conn)
        .map_err(|e| e.to_string())?;
    let report = for_engine(conn, &REPORT_SQL.replace("{root}", &root.to_string()));
    let page = "SELECT id, full_name FROM members ORDER BY sort_key, id LIMIT 51";
    let search =
        "SELECT id, full_name FROM members WHERE search_name LIKE $1 AND search_name LIKE $2 \
                  ORDER BY sort_key, id LIMIT 51";
    Ok(vec![
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
        measure(REPORT_SQL_ROW, iterations.min(50), |_| {
            conn.batch_execute(&report).expect("the report's SQL");
        }),
    ])
}

fn render(options: &Options, description: &str, rows: &[Row]) -> String {
    let engine = match options.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let mut out = format!(
        "scale: {description}, db: {engine}, iterations: {}, seed: {}\n\n",
        options.iterations, options.seed
    );
    out.push_str("| workload | ops | p50 ms | p95 ms | p99 ms | throughput /s | note |\n|---|---|---|---|---|---|---|\n");
    for row in rows {
        if row.ops == 0 {
            // A measure that is not a workload (memory).
            out.push_str(&format!(
                "| {} | | | | | | {} |\n",
                row.name,
                row.baseline.clone().unwrap_or_default()
            ));
            continue;
        }
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
