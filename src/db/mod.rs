//! Database access: the connection enum over PostgreSQL and SQLite, the pool, migrations and
//! the one place where the two backends differ in Rust code ([`with_backend!`]).
//!
//! Everything else in the crate talks to [`DbConn`] and writes each query once.

pub mod binding;
pub mod schema;

pub use binding::{Day, Stamp};

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::Error as DieselError;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// One connection to either engine. Derived by diesel: queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConn>>;

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Runs the same expression on the concrete connection of whichever backend `$conn` holds.
///
/// This macro is the only place where the backends are told apart: use it for the few
/// statements that do not compile against the multi-backend (batch inserts, upserts,
/// migrations, engine pragmas). `$c` is bound to `&mut PgConnection` or `&mut SqliteConnection`.
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Inserts many rows of one table (`$rows`: a slice of an `Insertable` struct with
/// `treat_none_as_default_value = false`) as fast as the engine allows: `COPY … FROM STDIN
/// (FORMAT binary)` on PostgreSQL, one multi-row `INSERT` on SQLite (keep the slice small
/// enough for SQLite's limit of bound parameters).
#[macro_export]
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Postgres(c) => {
                diesel::copy_from($table).from_insertable($rows).execute(c)
            }
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    }};
}

/// Raw SQL with numbered parameters for the connection's engine. PostgreSQL takes `$1`, `$2`…
/// SQLite reads `$1` as a *name* and numbers names by first appearance, so a query that uses
/// `$2` before `$1` would bind the wrong values there; its `?1`, `?2`… keep the numbers.
pub fn sql_query(conn: &DbConn, text: &str) -> diesel::query_builder::SqlQuery {
    match conn {
        DbConn::Postgres(_) => diesel::sql_query(text),
        DbConn::Sqlite(_) => diesel::sql_query(text.replace('$', "?")),
    }
}

/// Locks one row until the transaction ends, so that two writes about the same record (a
/// rating and a discipline decision of one member, two transfers) run one after the other and
/// each checks its rules against what the other wrote. PostgreSQL: `SELECT … FOR UPDATE`.
/// SQLite needs nothing: its write transactions (`BEGIN IMMEDIATE`) already run one at a time.
/// `table` is one of this crate's table names, never input.
pub fn lock_row(conn: &mut DbConn, table: &'static str, id: i64) -> Result<(), DieselError> {
    if let DbConn::Postgres(c) = conn {
        use diesel::RunQueryDsl;
        LockRow { table, id }.execute(c)?;
    }
    Ok(())
}

/// `SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE` as a query type of its own, which diesel
/// keeps prepared per connection (raw `sql_query` is parsed and planned on every call, and
/// every write of a member takes this lock).
struct LockRow {
    table: &'static str,
    id: i64,
}

impl diesel::query_builder::QueryId for LockRow {
    type QueryId = ();
    // Cached by its SQL text, which names the table.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for LockRow {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("SELECT 1 FROM ");
        out.push_identifier(self.table)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.id)?;
        out.push_sql(" FOR UPDATE");
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::PgConnection> for LockRow {}

/// Runs `f` in a transaction with PostgreSQL planner settings for its duration (`SET LOCAL`):
/// for a statement whose plan PostgreSQL misjudges (each caller says why). SQLite has no such
/// settings; `f` runs in a plain transaction there.
pub fn transaction_with_settings<T, E, F>(
    conn: &mut DbConn,
    settings: &[(&str, &str)],
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    conn.transaction(|conn| {
        if let DbConn::Postgres(c) = conn {
            use diesel::connection::SimpleConnection;
            for (name, value) in settings {
                c.batch_execute(&format!("SET LOCAL {name} = {value}"))?;
            }
        }
        f(conn)
    })
}

/// Refreshes the planner's statistics of `tables` after a bulk write, inside the writing
/// transaction (PostgreSQL's `ANALYZE` counts the transaction's own new rows): without them a
/// table loaded from empty is planned as if it were still small — a member's memberships
/// after a national import were hash-joined with every organisation, 58 ms a lookup — and
/// autovacuum, when it is on at all, analyses only later. SQLite plans without statistics
/// (and with them re-prepares its statements on every execution: BENCHMARKS.md), so it is
/// left alone. `tables` are this crate's table names, never input.
pub fn refresh_statistics(conn: &mut DbConn, tables: &[&'static str]) -> Result<(), DieselError> {
    if let DbConn::Postgres(c) = conn {
        if !tables.is_empty() {
            c.batch_execute(&format!("ANALYZE {}", tables.join(", ")))?;
        }
    }
    Ok(())
}

/// Rows changed in a table, beyond [`STALE_SHARE`] of its rows at its last analysis, that make
/// its statistics stale: PostgreSQL's own defaults for autoanalyze
/// (`autovacuum_analyze_threshold` 50, `autovacuum_analyze_scale_factor` 0.1).
pub const STALE_ROWS: f64 = 50.0;
/// See [`STALE_ROWS`].
pub const STALE_SHARE: f64 = 0.1;

/// Whether a table whose last analysis counted `rows_at_last_analysis` rows (`None`: never
/// analysed) needs new statistics after `changed` rows were written: autovacuum's rule.
pub fn statistics_stale(changed: u64, rows_at_last_analysis: Option<f64>) -> bool {
    past_threshold(changed, rows_at_last_analysis, STALE_ROWS, STALE_SHARE)
}

/// Autovacuum's rule, for analysis and vacuum alike: `changed` rows reach `rows` (a table's
/// estimated rows; `None`: never analysed, counted as empty) times `share`, plus `threshold`.
fn past_threshold(changed: u64, rows: Option<f64>, threshold: f64, share: f64) -> bool {
    changed as f64 >= threshold + share * rows.unwrap_or(0.0).max(0.0)
}

/// Refreshes the statistics of those of `tables` that `changed` written rows made stale
/// ([`statistics_stale`]), inside the writing transaction: what autovacuum would do, which
/// this crate cannot count on (it is off on some servers, this benchmark machine's among
/// them, and otherwise runs only after its nap). Without it a province loaded into a fresh
/// PostgreSQL database kept no statistics at all, and a clerk's first page of members was
/// planned as a walk of the whole subtree (43 ms, against 5 ms analysed: BENCHMARKS.md). A
/// no-op on SQLite (`refresh_statistics`).
pub fn refresh_stale_statistics(
    conn: &mut DbConn,
    tables: &[&'static str],
    changed: u64,
) -> Result<(), DieselError> {
    let DbConn::Postgres(c) = conn else {
        return Ok(());
    };
    let stale = tables_where(c, tables, |rows| statistics_stale(changed, rows))?;
    refresh_statistics(conn, &stale)
}

/// Rows written to a table, beyond [`VACUUM_SHARE`] of its rows, after which it is vacuumed:
/// PostgreSQL's own defaults for the vacuum that autovacuum runs after inserts
/// (`autovacuum_vacuum_insert_threshold` 1000, `autovacuum_vacuum_insert_scale_factor` 0.2).
pub const VACUUM_ROWS: f64 = 1000.0;
/// See [`VACUUM_ROWS`].
pub const VACUUM_SHARE: f64 = 0.2;

/// Whether a table of about `rows` rows (`None`: never analysed) needs a vacuum after
/// `written` rows were written to it: autovacuum's rule for inserts. A table loaded from empty
/// is due from 1,250 rows; a clerk's file into a province's tables never is.
pub fn vacuum_due(written: u64, rows: Option<f64>) -> bool {
    past_threshold(written, rows, VACUUM_ROWS, VACUUM_SHARE)
}

/// Vacuums those of `tables` that `written` rows, just committed, made due ([`vacuum_due`]):
/// what autovacuum would do after its nap, which this crate cannot count on (it is off on
/// some servers, this benchmark machine's among them). Until a page is vacuumed, PostgreSQL
/// cannot mark it all-visible, so every index-only scan visits the table for each entry: a
/// province's name search in the nation's freshly loaded database made 312,906 heap fetches
/// for one page (113.8 ms, against 14.4 ms vacuumed: BENCHMARKS.md). The vacuum also clears
/// the dead rows of the summaries' upserts. It runs after the commit, outside any transaction
/// (`VACUUM` cannot run inside one), and the import's answer waits for it, so that a script
/// that loads a province finds it ready to search. A no-op on SQLite, whose covering indexes
/// never visit the table.
pub fn vacuum_after_bulk_write(
    conn: &mut DbConn,
    tables: &[&'static str],
    written: u64,
) -> Result<(), DieselError> {
    // Never inside a transaction: `VACUUM` fails there, and on PostgreSQL its failure would
    // abort the caller's transaction. The tables are left to autovacuum.
    if in_transaction(conn)? {
        return Ok(());
    }
    // No table of any size is due (a clerk's file): spare the catalogue query.
    if !vacuum_due(written, None) {
        return Ok(());
    }
    let DbConn::Postgres(c) = conn else {
        return Ok(());
    };
    let due = tables_where(c, tables, |rows| vacuum_due(written, rows))?.join(", ");
    if !due.is_empty() {
        let started = std::time::Instant::now();
        c.batch_execute(&format!("VACUUM {due}"))?;
        tracing::info!(
            tables = %due,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "vacuumed after a bulk write"
        );
    }
    Ok(())
}

/// Those of `tables` whose estimated rows (`pg_class.reltuples`; `None` until the first
/// analysis) pass `test`.
fn tables_where(
    c: &mut diesel::PgConnection,
    tables: &[&'static str],
    test: impl Fn(Option<f64>) -> bool,
) -> Result<Vec<&'static str>, DieselError> {
    #[derive(diesel::QueryableByName)]
    struct Estimated {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Double)]
        rows: f64,
    }
    use diesel::RunQueryDsl;
    // `reltuples` is -1 until a table's first analysis (PostgreSQL 14 and later).
    let known: Vec<Estimated> = diesel::sql_query(
        "SELECT c.relname::text AS name, c.reltuples::float8 AS rows FROM pg_class c \
         WHERE c.relname = ANY($1) AND c.relkind IN ('r', 'p') \
         AND c.relnamespace = to_regnamespace(current_schema())",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(tables)
    .load(c)?;
    Ok(tables
        .iter()
        .copied()
        .filter(|table| {
            let rows = known
                .iter()
                .find(|k| k.name == *table)
                .map(|k| k.rows)
                .filter(|rows| *rows >= 0.0);
            test(rows)
        })
        .collect())
}

/// Which engine a database URL names. SQLite accepts any string as a file name, so the scheme
/// decides, and anything that is not `postgres://` or `postgresql://` is SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn of(url: &str) -> Engine {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }
}

/// The most memory SQLite's own allocations held (page caches, journals, statements; every
/// connection of the process) since the last call, in MB; the count starts again. Logged after
/// each import, so that the server's memory can be told apart from SQLite's (0 on PostgreSQL).
pub fn sqlite_memory_peak_mb() -> f64 {
    // SAFETY: reads (and resets) a process-wide counter; no connection or pointer involved.
    let peak = unsafe { libsqlite3_sys::sqlite3_memory_highwater(1) };
    peak as f64 / 1e6
}

/// The path of a SQLite database named by `sqlite://path`, `sqlite:path` or a bare path.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Sets up every pooled connection. SQLite: WAL for concurrent readers, enforced foreign keys,
/// a busy timeout so that a second writer waits instead of failing, a page cache of up to
/// 32 MB (the default 2 MB makes a bulk import of a province spill its transaction to disk and
/// re-read it; BENCHMARKS.md), and temporary data in files (`temp_store = FILE`): the
/// statement and savepoint journals of a bulk import hold the original of every page a
/// statement or a group of rows changes, and a national file changes pages all over its tables;
/// kept in memory they took the server past 300 MB, in a file they spill to the page cache past
/// 64 KB. PostgreSQL: no JIT compilation — it pays off for long
/// analytical queries, and every statement here is short; the annual report's member pass is
/// estimated above `jit_above_cost` and compiled for about 400 ms to run for 70 ms.
#[derive(Debug)]
struct ConnectionSetup;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                 PRAGMA cache_size = -32768; PRAGMA temp_store = FILE;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        if let DbConn::Postgres(c) = conn {
            c.batch_execute("SET jit = off")
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Options of the pool that the server and the CLI share.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a request waits for a free connection before the server sheds it with 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 10,
            // Short, so that an exhausted pool sheds load (503 + Retry-After) instead of
            // letting requests pile up behind it.
            acquire_timeout: Duration::from_secs(2),
        }
    }
}

/// Builds a pool for `url`. Creates the folder of a SQLite file if needed. The pool is lazy
/// (`min_idle = 0`, no connection tested at build time) so that the server can start and report
/// "not ready" while the database is down, then recover without a restart.
pub fn build_pool(url: &str, options: &PoolOptions) -> Result<DbPool, String> {
    let connect_url = match Engine::of(url) {
        Engine::Postgres => url.to_string(),
        Engine::Sqlite => {
            let path = sqlite_path(url);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
            }
            path.to_string()
        }
    };
    let manager = ConnectionManager::<DbConn>::new(connect_url);
    let pool = Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.acquire_timeout)
        .test_on_check_out(false)
        .connection_customizer(Box::new(ConnectionSetup))
        .build_unchecked(manager);
    Ok(pool)
}

/// Applies every pending migration of the connection's engine; returns how many ran.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, String> {
    let result = match conn {
        DbConn::Postgres(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    result.map_err(|e| format!("migration failed: {e}"))
}

/// True when the connection's engine has no pending migration.
pub fn migrations_are_current(conn: &mut DbConn) -> Result<bool, String> {
    let pending = match conn {
        DbConn::Postgres(c) => c.has_pending_migration(PG_MIGRATIONS),
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending.map(|p| !p).map_err(|e| e.to_string())
}

/// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads first and writes later can fail with
/// `SQLITE_BUSY` when another connection wrote in between, whatever the busy timeout.
/// Inside an open transaction it simply runs `f`: an error reaches the outer transaction,
/// which rolls everything back. Code that catches an error and goes on (the bulk import,
/// row by row) wraps each attempt in a [`savepoint`].
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    type Manager = <DbConn as Connection>::TransactionManager;
    if in_transaction(conn)? {
        return f(conn);
    }
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        _ => Manager::begin_transaction(conn)?,
    }
    let result = f(conn);
    finish(conn, result)
}

/// Runs `f` so that its writes can be undone alone: a savepoint inside an open transaction
/// (a write transaction otherwise). On PostgreSQL it also keeps the outer transaction usable
/// after a statement of `f` failed.
pub fn savepoint<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    type Manager = <DbConn as Connection>::TransactionManager;
    if !in_transaction(conn)? {
        return write_transaction(conn, f);
    }
    Manager::begin_transaction(conn)?;
    let result = f(conn);
    finish(conn, result)
}

/// Opens a savepoint inside the open transaction, for work that spans many calls (a bulk
/// import's group of rows); [`end_savepoint`] closes it. [`savepoint`] is the closure form.
pub fn begin_savepoint(conn: &mut DbConn) -> Result<(), DieselError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    if !in_transaction(conn)? {
        return Err(DieselError::NotInTransaction);
    }
    Manager::begin_transaction(conn)
}

/// Closes the savepoint [`begin_savepoint`] opened: `keep` releases it with its writes,
/// otherwise they are undone.
pub fn end_savepoint(conn: &mut DbConn, keep: bool) -> Result<(), DieselError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    if keep {
        Manager::commit_transaction(conn)
    } else {
        roll_back(conn)
    }
}

/// Whether `conn` is inside a transaction (diesel's own count of the levels it opened).
fn in_transaction(conn: &mut DbConn) -> Result<bool, DieselError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    Ok(Manager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some())
}

fn finish<T, E: From<DieselError>>(conn: &mut DbConn, result: Result<T, E>) -> Result<T, E> {
    type Manager = <DbConn as Connection>::TransactionManager;
    match result {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The error that made us roll back is the one worth reporting.
            let _ = roll_back(conn);
            Err(err)
        }
    }
}

/// Rolls back the innermost transaction, and closes it when it is a savepoint.
///
/// Diesel rolls a savepoint back with `ROLLBACK TO SAVEPOINT`, which undoes its writes but,
/// on both engines, leaves it open: each failed row of a bulk import left one more savepoint
/// nested around every later row. On SQLite every later statement then paid for all of them:
/// releasing a statement's journal walks the in-memory sub-journal that the open savepoints
/// keep growing. A national decisions file with 1,914 failing rows had done about 29,000 of
/// its 116,846 rows after 6 minutes, slowing as it went; with the savepoints closed the whole
/// file is checked in 42 s. On PostgreSQL each one is a subtransaction level. So the
/// savepoint is released as well, under the name diesel gave it, `diesel_savepoint_{d}`,
/// where `d` is the depth left after the rollback (`tests/api/savepoints.rs`).
fn roll_back(conn: &mut DbConn) -> Result<(), DieselError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    Manager::rollback_transaction(conn)?;
    let depth = Manager::transaction_manager_status_mut(conn).transaction_depth()?;
    if let Some(depth) = depth {
        conn.batch_execute(&format!("RELEASE SAVEPOINT diesel_savepoint_{depth}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{statistics_stale, vacuum_due};

    #[test]
    fn a_table_never_analysed_is_stale_from_fifty_rows() {
        assert!(statistics_stale(50, None));
        assert!(!statistics_stale(49, None));
    }

    #[test]
    fn an_analysed_table_is_stale_when_a_tenth_of_it_changed() {
        // 35,000 rows at the last analysis: 50 + 3,500 changed rows make it stale.
        assert!(statistics_stale(3_550, Some(35_000.0)));
        assert!(!statistics_stale(3_549, Some(35_000.0)));
        // A clerk's spreadsheet of 200 rows into a province leaves the statistics alone.
        assert!(!statistics_stale(200, Some(35_000.0)));
    }

    #[test]
    fn a_table_loaded_from_empty_is_vacuumed_from_1250_rows() {
        // Analysed in the import's own transaction, the table counts the rows just written.
        assert!(vacuum_due(1_250, Some(1_250.0)));
        assert!(!vacuum_due(1_249, Some(1_249.0)));
        assert!(vacuum_due(1_000, None));
        assert!(!vacuum_due(999, None));
    }

    #[test]
    fn a_table_is_vacuumed_when_a_fifth_of_its_rows_were_written() {
        // 35,000 rows: 1,000 + 7,000 written rows make it due.
        assert!(vacuum_due(8_000, Some(35_000.0)));
        assert!(!vacuum_due(7_999, Some(35_000.0)));
        // A province's file into the nation's tables leaves them to autovacuum.
        assert!(!vacuum_due(35_000, Some(5_300_000.0)));
    }
}
