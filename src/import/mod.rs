//! Bulk import: a whole file of one kind of record, all or nothing.
//!
//! - `records` reads the body (CSV, a JSON array or NDJSON) record by record from a stream, so
//!   memory stays flat whatever the size of the file;
//! - `values` reads each cell the way clerks write it (`DD/MM/YYYY`, `HTXSNV`, `khiển trách`…);
//! - `columns` knows each kind's columns and turns a record into the request struct of the
//!   single-record API;
//! - `apply` writes one row through the same `prepare` and store functions as that API, and
//!   tells an insert from an update from an unchanged row;
//! - `keys` finds the keys given twice in the file, with bounded memory, once it is read.
//!
//! The whole file is one transaction; rows run in savepoints (a batch's or a group's, then
//! each failed row's alone), so that a row that fails leaves nothing behind and the rows after
//! it are still checked. Any failure, or `dry_run`, rolls everything back.

mod apply;
mod audit;
pub mod columns;
mod digest;
mod keys;
pub mod output;
pub mod records;
pub mod values;

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

use crate::auth::{Access, Caller};
use crate::db::DbConn;
use crate::domain::text_enum;
use crate::error::{Error, FieldError, Result};
use records::{Format, ReadError};

text_enum! {
    /// What a file holds, in the order a whole province is loaded.
    pub enum Kind {
        Organizations = "organizations",
        OrganizationMoves = "organization-moves",
        Members = "members",
        Exemptions = "exemptions",
        PartyAgeGaps = "party-age-gaps",
        Positions = "positions",
        Transfers = "transfers",
        MemberRatings = "member-ratings",
        OrganizationRatings = "organization-ratings",
        DisciplinaryActions = "disciplinary-actions",
        InsigniaAwards = "insignia-awards",
        AdmissionTargets = "admission-targets",
    }
}

impl Kind {
    /// The tables an import of this kind writes.
    fn tables(self) -> &'static [&'static str] {
        match self {
            Kind::Organizations | Kind::OrganizationMoves => {
                &["organizations", "organization_tree"]
            }
            Kind::Members => &[
                "members",
                "memberships",
                "member_exemptions",
                "member_events",
            ],
            Kind::Exemptions => &["member_exemptions", "member_events"],
            Kind::PartyAgeGaps => &["party_age_gaps", "member_events"],
            Kind::Positions => &["positions", "member_events"],
            Kind::Transfers => &["memberships", "member_events"],
            Kind::MemberRatings => &["member_ratings"],
            Kind::OrganizationRatings => &["organization_ratings"],
            Kind::DisciplinaryActions => &["disciplinary_actions", "member_events"],
            Kind::InsigniaAwards => &["insignia_awards"],
            Kind::AdmissionTargets => &["admission_targets"],
        }
    }

    /// The tables whose statistics an import of this kind refreshes while it writes
    /// (`Writer::refresh_statistics_as_tables_grow`): those its statements and PostgreSQL's
    /// foreign-key checks look rows up in. A member's memberships, exemptions and history are
    /// written, never looked up, so a members file refreshes `members` alone (all four at
    /// each doubling cost a province's file 17%); every table is analysed again after the
    /// file (`db::refresh_stale_statistics`).
    fn looked_up_tables(self) -> &'static [&'static str] {
        match self {
            Kind::Members => &["members"],
            other => other.tables(),
        }
    }

    /// The summary tables (`store::summaries`) an import of this kind changes: what its rows
    /// change of a member's contribution. A transfer moves everything a member counts for; an
    /// expulsion takes the member off the roll and returns their insignia.
    fn summary_tables(self) -> &'static [&'static str] {
        const ALL: &[&str] = &crate::store::summaries::TABLES;
        match self {
            Kind::Members => &["member_year_summaries", "admission_summaries"],
            Kind::MemberRatings | Kind::Exemptions => &["member_year_summaries"],
            Kind::InsigniaAwards => &["insignia_summaries"],
            Kind::Transfers | Kind::DisciplinaryActions => ALL,
            Kind::Organizations
            | Kind::OrganizationMoves
            | Kind::PartyAgeGaps
            | Kind::Positions
            | Kind::OrganizationRatings
            | Kind::AdmissionTargets => &[],
        }
    }

    /// Kinds whose rows are written a batch at a time (besides members, whose admission is
    /// prepared on the reading thread): the checks look up the whole batch at once.
    fn batched(self) -> bool {
        matches!(
            self,
            Kind::Organizations | Kind::MemberRatings | Kind::OrganizationRatings
        )
    }

    /// The access needed to import it: the same as entering one such record.
    pub fn write_access(self) -> Access {
        match self {
            Kind::DisciplinaryActions => Access::DisciplineWrite,
            _ => Access::RecordWrite,
        }
    }

    /// The access needed to export it: the same as reading one such record.
    pub fn read_access(self) -> Access {
        match self {
            Kind::DisciplinaryActions => Access::DisciplineRead,
            _ => Access::RecordRead,
        }
    }
}

text_enum! {
    pub enum Mode {
        /// New keys are inserted, existing ones updated (unchanged ones left alone).
        Upsert = "upsert",
        /// An existing key is an error.
        Insert = "insert",
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub kind: Kind,
    pub mode: Mode,
    pub dry_run: bool,
}

/// What an accepted import did (or, with `dry_run`, would have done).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub kind: String,
    pub dry_run: bool,
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Summary {
    /// Rows the import wrote (inserted or updated).
    fn written(&self) -> u64 {
        (self.inserted + self.updated) as u64
    }
}

/// What one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

/// At most this many row errors are listed; the total is counted on.
pub const MAX_LISTED_ERRORS: usize = 1000;

#[derive(Default)]
struct RowErrors {
    listed: Vec<FieldError>,
    /// Every error, listed or not.
    total: usize,
    /// Distinct rows with an error.
    failed_rows: usize,
    /// The rows with an error, so that a row failing twice (in the writer, then as a repeated
    /// key) counts once: one bit per row.
    failed: keys::RowSet,
}

impl RowErrors {
    fn add(&mut self, row: usize, errors: Vec<FieldError>) {
        // A row past u32 is refused by the parser and reaches nothing else: it fails once.
        if u32::try_from(row).map_or(true, |r| self.failed.insert(r)) {
            self.failed_rows += 1;
        }
        for mut e in errors {
            self.total += 1;
            if self.listed.len() < MAX_LISTED_ERRORS {
                e.row = Some(row);
                self.listed.push(e);
            }
        }
    }

    /// Adds one `import.duplicate_key` error per repeated row, then lists the errors in row
    /// order (with or without repeats): the first `MAX_LISTED_ERRORS` of the file among those
    /// listed so far and the repeats (which come ascending, so only their first
    /// `MAX_LISTED_ERRORS` can be among them).
    fn add_repeats(&mut self, kind: Kind, repeats: &keys::RowSet) {
        let mut listed_repeats = 0;
        for row in repeats.iter() {
            if self.failed.insert(row) {
                self.failed_rows += 1;
            }
            self.total += 1;
            if listed_repeats < MAX_LISTED_ERRORS {
                listed_repeats += 1;
                self.listed.push(FieldError {
                    row: Some(row as usize),
                    ..duplicate_key(kind)
                });
            }
        }
        // Stable: the errors of one row keep their order (the writer's, then the repeat).
        self.listed.sort_by_key(|e| e.row);
        self.listed.truncate(MAX_LISTED_ERRORS);
    }
}

/// The error of a row whose key appears on an earlier row of the file.
fn duplicate_key(kind: Kind) -> FieldError {
    FieldError::new(
        kind.key()[0],
        "import.duplicate_key",
        format!(
            "This key ({}) appears on an earlier row of the file.",
            kind.key().join(" + ")
        ),
    )
}

/// Why an import wrote nothing although nothing went wrong.
enum Stop {
    DryRun,
    Rejected,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}

/// Rows of the batched kinds are written this many at a time (`store::members::create_many`,
/// `store::organizations::create_many`, …): the checks look up the whole batch at once and the
/// inserts are multi-row.
const BATCH: usize = 1000;

/// What the reading thread hands to the writing one.
enum Item {
    /// A row ready to write, with its key's hash (`keys::hash`); member rows come with their
    /// admission prepared.
    Row {
        row: columns::Row,
        key: u64,
        prepared: Option<Box<Result<crate::store::members::Admission>>>,
    },
    /// A record that cannot be written, with its problems (row 0: the CSV header).
    Failed(usize, Vec<FieldError>),
    /// A record left out because the CSV header is broken (counted, not reported again).
    Skipped,
}

/// The pure half of an import, on its own thread: reading records, checking columns, typing
/// cells, noting keys (to find those given twice once the file is read), and for members
/// preparing the admission. None of it needs the database, so it overlaps with the writes.
struct Parser<'a> {
    ctx: &'a apply::Context<'a>,
    kind: Kind,
    format: Format,
    /// Each typed row's key hash, with bounded memory (a `HashSet` of them took 1,074 MB on a
    /// national file of 29.5 million rows).
    keys: keys::RepeatedKeys,
    header_broken: bool,
    /// Why the caller's role may not write this kind, if it may not: every row is then refused
    /// with code `scope`, as a row outside the caller's scope is.
    role_refused: Option<String>,
}

impl Parser<'_> {
    /// What the reading thread hands over for one event of the body, if anything.
    fn take(&mut self, event: records::Event) -> Option<Item> {
        match event {
            records::Event::Header(columns) => self.header(&columns),
            records::Event::Record(record) => Some(self.parse(record)),
        }
    }

    /// A CSV header is checked once, as soon as it is read (a header without rows is checked
    /// too), and its problems reported on row 0.
    fn header(&mut self, columns: &[String]) -> Option<Item> {
        let problems = columns::check_columns(self.kind, columns);
        if problems.is_empty() {
            return None;
        }
        self.header_broken = true;
        Some(Item::Failed(0, problems))
    }

    fn parse(&mut self, record: records::Record) -> Item {
        if self.header_broken {
            return Item::Skipped;
        }
        if let Some(refusal) = &self.role_refused {
            return Item::Failed(
                record.row,
                vec![FieldError::new("", "scope", refusal.clone())],
            );
        }
        // Each JSON object names its own fields.
        if self.format != Format::Csv {
            let problems = columns::check_columns(self.kind, &record.keys);
            if !problems.is_empty() {
                return Item::Failed(record.row, problems);
            }
        }
        let row = match columns::typed(self.kind, &record) {
            Ok(row) => row,
            Err(problems) => return Item::Failed(record.row, problems),
        };
        let Ok(number) = u32::try_from(record.row) else {
            return Item::Failed(
                record.row,
                vec![FieldError::new(
                    "",
                    "invalid",
                    format!(
                        "Row {} is past the {} rows one import can check; split the file.",
                        record.row,
                        u32::MAX
                    ),
                )],
            );
        };
        // A key given twice is found when the file is read (`run`): meanwhile the repeated
        // row goes to the writer like any other (`Writer::repeats_in_batch`), and the whole
        // import is rolled back.
        let key = keys::hash(&row.key(self.kind));
        self.keys.note(key, number);
        let prepared =
            (self.kind == Kind::Members).then(|| Box::new(apply::prepare_member(self.ctx, &row)));
        Item::Row { row, key, prepared }
    }
}

/// The writing half of an import: the database work, row by row or (members, member ratings)
/// batch by batch.
struct Writer<'a> {
    ctx: &'a apply::Context<'a>,
    kind: Kind,
    summary: Summary,
    errors: RowErrors,
    /// Member rows waiting for their batch.
    pending: Vec<(columns::Row, Result<crate::store::members::Admission>)>,
    /// The organisations member rows named, looked up once for the file (a members file
    /// writes no organisation).
    known_orgs: crate::store::organizations::Known,
    /// Rows of the other batched kinds (organisations, ratings) waiting for their batch.
    pending_rows: Vec<columns::Row>,
    /// The key hashes of the rows waiting for their batch (`repeats_in_batch`).
    pending_keys: HashSet<u64>,
    /// The keys written, for the audit event.
    changed: audit::RowKeys,
    /// Rows written (inserted or updated) at which a row-by-row import next refreshes its
    /// tables' statistics (`refresh_due`).
    refresh_at: usize,
    /// The rows of a row-by-row import written since its group's savepoint opened
    /// (`Writer::one_row`); `None` when no group is open.
    group: Option<Vec<columns::Row>>,
}

impl Writer<'_> {
    /// Takes one item; an error only when the import cannot go on (the database went away).
    fn take(&mut self, conn: &mut DbConn, item: Item) -> Result<()> {
        self.summary.rows += 1;
        match item {
            Item::Skipped => Ok(()),
            Item::Failed(row, problems) => {
                self.errors.add(row, problems);
                Ok(())
            }
            Item::Row {
                row,
                key,
                prepared: Some(prepared),
            } => {
                if self.repeats_in_batch(key) {
                    return Ok(());
                }
                self.pending.push((row, *prepared));
                if self.pending.len() >= BATCH {
                    self.flush(conn)?;
                }
                Ok(())
            }
            Item::Row {
                row,
                key,
                prepared: None,
            } if self.kind.batched() => {
                if self.repeats_in_batch(key) {
                    return Ok(());
                }
                self.pending_rows.push(row);
                if self.pending_rows.len() >= BATCH {
                    self.flush(conn)?;
                }
                Ok(())
            }
            Item::Row { row, .. } => self.one_row(conn, row),
        }
    }

    /// Writes a row of a row-by-row kind so that, if it fails, it leaves nothing behind and
    /// the rows after it are still checked against the rows before it.
    ///
    /// Until a row fails, rows run in groups of [`GROUP`] under one savepoint: a savepoint per
    /// row cost two of the dozen statements a decision or a transfer takes, each a round trip
    /// on PostgreSQL (and a subtransaction). When a row fails, its group is rolled back and
    /// the group's earlier rows are written again, each in a savepoint of its own; the row's
    /// error is then listed as it would have been alone. The file is then refused whatever
    /// follows, so every later row runs in its own savepoint, as before groups existed.
    fn one_row(&mut self, conn: &mut DbConn, row: columns::Row) -> Result<()> {
        if self.errors.total > 0 {
            self.close_group(conn, true)?;
            let result =
                crate::db::savepoint(conn, |conn| apply::row(conn, self.ctx, self.kind, &row));
            self.tally(conn, &row, result)?;
            return self.refresh_statistics_as_tables_grow(conn);
        }
        if self.group.is_none() {
            crate::db::begin_savepoint(conn)?;
            self.group = Some(Vec::with_capacity(GROUP));
        }
        match apply::row(conn, self.ctx, self.kind, &row) {
            Ok(outcome) => {
                self.tally(conn, &row, Ok(outcome))?;
                let group = self.group.as_mut().expect("opened above");
                group.push(row);
                if group.len() >= GROUP {
                    self.close_group(conn, true)?;
                }
                Ok(())
            }
            Err(error) => {
                let written = self.group.take().expect("opened above");
                crate::db::end_savepoint(conn, false)?;
                for earlier in written {
                    // Written once already (and tallied then): only a different answer the
                    // second time would be news.
                    let again = crate::db::savepoint(conn, |conn| {
                        apply::row(conn, self.ctx, self.kind, &earlier)
                    });
                    if let Err(e) = again {
                        self.fail(conn, &earlier, e)?;
                    }
                }
                self.fail(conn, &row, error)
            }
        }
    }

    /// Closes the open group of rows, if any: `keep` releases its savepoint, otherwise its
    /// rows are undone (the import stops). The statistics are refreshed once a group is kept.
    fn close_group(&mut self, conn: &mut DbConn, keep: bool) -> Result<()> {
        if self.group.take().is_none() {
            return Ok(());
        }
        crate::db::end_savepoint(conn, keep)?;
        if keep {
            self.refresh_statistics_as_tables_grow(conn)?;
        }
        Ok(())
    }

    /// An import refreshes its tables' statistics when the rows it wrote reach 1,000, then
    /// each doubling (`refresh_due`), after a group of rows or a batch. Statements are
    /// prepared once per connection, and PostgreSQL keeps the generic plan it made when the
    /// table was empty or small:
    /// - a national file of discipline decisions, on an empty table, looked each key up with
    ///   a scan of the whole `disciplinary_actions` key index (2.7 ms a row at 120,000 rows:
    ///   quadratic);
    /// - the foreign-key checks of a member's memberships and history (PostgreSQL's own
    ///   cached queries) scanned the whole `members` table for each row when its statistics
    ///   said it was empty (vacuumed while empty, beside a large key index): the national
    ///   members file had loaded about 120,000 members after half an hour (BENCHMARKS.md,
    ///   twelfth pass).
    ///
    /// `ANALYZE` counts the transaction's own rows and invalidates the cached plans of its
    /// tables, which are re-planned on their next run. About 7 refreshes for 100,000 rows,
    /// none under 1,000 rows; a no-op on SQLite.
    fn refresh_statistics_as_tables_grow(&mut self, conn: &mut DbConn) -> Result<()> {
        let written = self.summary.inserted + self.summary.updated;
        if written >= self.refresh_at {
            crate::db::refresh_statistics(conn, self.kind.looked_up_tables())?;
            // At each doubling, files written in batches too: one refresh at 1,000 rows was
            // not enough. Beside a key index left large by rolled-back rows, a table of 1,000
            // rows still looks cheaper to scan than the index to descend (the national
            // members file after a rolled-back one: 15,101 index pages), and the plan made
            // then stayed while the table grew to millions (BENCHMARKS.md, thirteenth pass).
            self.refresh_at = refresh_due(written);
        }
        Ok(())
    }

    /// Whether a row waiting for the batch has the key `key`; if not, the key is noted as
    /// waiting. Such a row is left out: its key is on an earlier row, so the file is refused
    /// when it is read (`keys`) whatever the row would do, and the batch writers check a row
    /// against the recorded keys, not against each other (two new rows of one key would break
    /// a unique index and stop the import). A file of one row repeated a million times is
    /// then a million cheap skips, not a million batches. A key repeated in a later batch is
    /// written like any other row (updating the earlier one, or refused by `mode=insert`).
    fn repeats_in_batch(&mut self, key: u64) -> bool {
        !self.pending_keys.insert(key)
    }

    /// Writes the rows waiting for their batch.
    fn flush(&mut self, conn: &mut DbConn) -> Result<()> {
        self.pending_keys.clear();
        let members = std::mem::take(&mut self.pending);
        if !members.is_empty() {
            for (row, result) in apply::member_batch(conn, self.ctx, &mut self.known_orgs, members)?
            {
                self.tally(conn, &row, result)?;
            }
        }
        let rows = std::mem::take(&mut self.pending_rows);
        if !rows.is_empty() {
            let results = match self.kind {
                Kind::Organizations => apply::organization_batch(conn, self.ctx, rows)?,
                Kind::MemberRatings => apply::member_rating_batch(conn, self.ctx, rows)?,
                Kind::OrganizationRatings => {
                    apply::organization_rating_batch(conn, self.ctx, rows)?
                }
                other => unreachable!("{other} rows are written one by one"),
            };
            for (row, result) in results {
                self.tally(conn, &row, result)?;
            }
        }
        self.refresh_statistics_as_tables_grow(conn)
    }

    fn tally(
        &mut self,
        conn: &mut DbConn,
        row: &columns::Row,
        result: Result<Outcome>,
    ) -> Result<()> {
        if let Ok(outcome) = &result {
            self.changed.note(*outcome, || row.key(self.kind));
        }
        match result {
            Ok(Outcome::Inserted) => self.summary.inserted += 1,
            Ok(Outcome::Updated) => self.summary.updated += 1,
            Ok(Outcome::Unchanged) => self.summary.unchanged += 1,
            Err(e) => self.fail(conn, row, e)?,
        }
        Ok(())
    }

    /// Lists a failed row's errors (the row's writes are undone already).
    fn fail(&mut self, conn: &mut DbConn, row: &columns::Row, error: Error) -> Result<()> {
        let problems = row_errors(conn, self.ctx, self.kind, row, error)?;
        self.errors.add(row.number, problems);
        Ok(())
    }
}

/// Rows written by an import at which it first refreshes its tables' statistics (then at each
/// doubling): `Writer::refresh_statistics_as_tables_grow`.
const FIRST_REFRESH: usize = 1000;

/// The number of rows written at which an import that has written `written` rows next
/// refreshes its tables' statistics: the first of 1,000, 2,000, 4,000… above `written`.
fn refresh_due(written: usize) -> usize {
    let mut due = FIRST_REFRESH;
    while due <= written {
        match due.checked_mul(2) {
            Some(next) => due = next,
            None => return usize::MAX,
        }
    }
    due
}

/// Rows of a row-by-row kind written under one savepoint until a row fails
/// (`Writer::one_row`). Small enough that what a savepoint keeps to undo its rows stays small
/// (SQLite keeps the pages the group changed in memory, `temp_store = MEMORY`); large enough
/// that the savepoint's two statements cost nothing per row.
const GROUP: usize = 100;

/// Items in flight between the reading and the writing thread.
const IN_FLIGHT: usize = 2 * BATCH;

/// Imports `body` as `options.kind` for `caller`, in one transaction.
pub fn run<R: Read + Send>(
    conn: &mut DbConn,
    caller: &Caller,
    options: Options,
    format: Format,
    body: R,
) -> Result<Summary> {
    let Options {
        kind,
        mode,
        dry_run,
    } = options;
    let ctx = apply::Context {
        caller,
        vis: caller.visibility(),
        mode,
        by: caller.username.clone(),
        summaries: Default::default(),
    };
    let mut writer = Writer {
        ctx: &ctx,
        kind,
        summary: Summary {
            kind: kind.as_str().into(),
            dry_run,
            ..Summary::default()
        },
        errors: RowErrors::default(),
        pending: Vec::new(),
        known_orgs: Default::default(),
        pending_rows: Vec::new(),
        pending_keys: HashSet::new(),
        changed: audit::RowKeys::default(),
        refresh_at: FIRST_REFRESH,
        group: None,
    };
    // The tables whose statistics are refreshed and which are vacuumed after the commit. The
    // summary tables too: the report reads them, and without statistics PostgreSQL scanned
    // the nation's 3.7 million summary rows for each province's report (630 ms, against 89 ms
    // by their primary key).
    let tables = [kind.tables(), kind.summary_tables()].concat();
    let digest = digest::BodyDigest::default();
    let body = digest.reader(body);
    let mut unreadable: Option<ReadError> = None;
    let result = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(IN_FLIGHT);
        let ctx = &ctx;
        let reading = scope.spawn(move || {
            let mut parser = Parser {
                ctx,
                kind,
                format,
                keys: keys::RepeatedKeys::default(),
                header_broken: false,
                role_refused: (!crate::auth::role_allows(caller.role, kind.write_access())).then(
                    || {
                        format!(
                            "The {} role may not record {kind}; nothing in this file can be imported.",
                            caller.role
                        )
                    },
                ),
            };
            // A closed channel means the writer stopped (a fatal error): stop reading too.
            let read = records::read_events(format, body, |event| match parser.take(event) {
                Some(item) => tx.send(item).is_ok(),
                None => true,
            });
            (read, parser.keys)
        });
        crate::db::write_transaction::<_, Stop, _>(conn, |conn| {
            let mut fatal: Option<Error> = None;
            for item in rx.iter() {
                if let Err(e) = writer.take(conn, item) {
                    fatal = Some(e);
                    break;
                }
            }
            drop(rx);
            // The last group of rows is kept, unless the import stops: then it is undone, so
            // that the transaction's own rollback finds the transaction, not the savepoint.
            if let Err(e) = writer.close_group(conn, fatal.is_none()) {
                fatal.get_or_insert(e);
            }
            let (read, keys) = reading
                .join()
                .map_err(|_| Error::Internal("the import's reading thread panicked".into()))?;
            if let Some(e) = fatal {
                return Err(Stop::Failed(e));
            }
            if let Err(e) = read {
                unreadable = Some(e);
                return Err(Stop::Rejected);
            }
            writer.flush(conn)?;
            // The keys given twice, now that the whole file is read; the errors then read in
            // file order.
            writer.errors.add_repeats(kind, &keys.repeats()?);
            if writer.errors.total > 0 {
                Err(Stop::Rejected)
            } else if dry_run {
                Err(Stop::DryRun)
            } else {
                ctx.summaries.lock().expect("one writer").flush(conn)?;
                // One event for the whole file, in its transaction.
                let event = audit::import_event(caller, mode, &writer, &digest);
                crate::store::audit::append(conn, &caller.actor(), vec![event])?;
                crate::db::refresh_stale_statistics(conn, &tables, writer.summary.written())?;
                Ok(())
            }
        })
    });
    let Writer {
        summary, errors, ..
    } = writer;
    if result.is_ok() {
        // Committed. A failed vacuum leaves the tables as autovacuum would find them: the
        // import stands, and its answer says so.
        if let Err(e) = crate::db::vacuum_after_bulk_write(conn, &tables, summary.written()) {
            tracing::warn!(error = %e, kind = %kind, "the vacuum after an import failed");
        }
    }
    match result {
        Ok(()) | Err(Stop::DryRun) => Ok(summary),
        Err(Stop::Failed(e)) => Err(e),
        Err(Stop::Rejected) => {
            if let Some(e) = unreadable {
                return Err(Error::Unreadable {
                    detail: e.message,
                    row: e.row,
                });
            }
            Err(Error::RowsRejected {
                rows: summary.rows,
                failed_rows: errors.failed_rows,
                total: errors.total,
                errors: errors.listed,
            })
        }
    }
}

/// A failed row's errors as the client sees them. A reference that exists outside the caller's
/// scope, or a role that may not do what the row asks, is `scope`. Errors that are not the
/// row's fault (the database went away) stop the import.
fn row_errors(
    conn: &mut DbConn,
    ctx: &apply::Context<'_>,
    kind: Kind,
    row: &columns::Row,
    error: Error,
) -> Result<Vec<FieldError>> {
    let scope = |field: &str, message: String| vec![FieldError::new(field, "scope", message)];
    Ok(match error {
        Error::Unprocessable(list) | Error::BadRequest { errors: list, .. } if !list.is_empty() => {
            if list.iter().any(|e| e.code.ends_with("not_found")) {
                if let Some(field) = apply::out_of_scope(conn, ctx, kind, row)? {
                    return Ok(scope(
                        field,
                        format!("\"{field}\" names a record outside your scope."),
                    ));
                }
            }
            list
        }
        Error::BadRequest { detail, .. } => vec![FieldError::new("", "invalid", detail)],
        Error::Forbidden(message) => scope("", message),
        Error::NotFound(message) => match apply::out_of_scope(conn, ctx, kind, row)? {
            Some(field) => scope(
                field,
                format!("\"{field}\" names a record outside your scope."),
            ),
            None => vec![FieldError::new("", "not_found", message)],
        },
        Error::PreconditionFailed { .. } => vec![FieldError::new(
            "",
            "conflict",
            "The record was changed by another request during the import.",
        )],
        other @ (Error::Unavailable(_) | Error::Internal(_)) => return Err(other),
        other => vec![FieldError::new("", "invalid", other.to_string())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many times a row-by-row import refreshes its statistics while it writes `rows`
    /// rows, one at a time as `Writer` counts them.
    fn refreshes(rows: usize) -> Vec<usize> {
        let mut at = FIRST_REFRESH;
        let mut done = Vec::new();
        for written in 1..=rows {
            if written >= at {
                done.push(written);
                at = refresh_due(written);
            }
        }
        done
    }

    #[test]
    fn statistics_are_refreshed_at_a_thousand_rows_then_at_each_doubling() {
        assert_eq!(refresh_due(0), 1000);
        assert_eq!(refresh_due(1000), 2000);
        assert_eq!(refresh_due(1999), 2000);
        assert_eq!(refresh_due(2000), 4000);
        assert_eq!(refresh_due(100_000), 128_000);
        assert_eq!(
            refreshes(117_000),
            [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000]
        );
        // A file that jumps past a threshold (a batch tallied at once) refreshes once.
        assert_eq!(refresh_due(5000), 8000);
    }

    fn invalid(field: &str) -> Vec<FieldError> {
        vec![FieldError::new(field, "invalid", "bad")]
    }

    #[test]
    fn a_row_failing_twice_counts_once_and_the_errors_read_in_row_order() {
        let mut errors = RowErrors::default();
        errors.add(7, invalid("born_on"));
        errors.add(3, [invalid("full_name"), invalid("gender")].concat());
        // Row 7 failed in the writer and repeats a key; rows 5 and 9 only repeat one.
        let mut repeats = keys::RowSet::default();
        for row in [9, 5, 7] {
            repeats.insert(row);
        }
        errors.add_repeats(Kind::Members, &repeats);
        assert_eq!(errors.failed_rows, 4, "rows 3, 5, 7 and 9");
        assert_eq!(errors.total, 6);
        let listed: Vec<(Option<usize>, &str, &str)> = errors
            .listed
            .iter()
            .map(|e| (e.row, e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                (Some(3), "full_name", "invalid"),
                (Some(3), "gender", "invalid"),
                (Some(5), "profile_number", "import.duplicate_key"),
                (Some(7), "born_on", "invalid"),
                (Some(7), "profile_number", "import.duplicate_key"),
                (Some(9), "profile_number", "import.duplicate_key"),
            ]
        );
    }

    #[test]
    fn the_listing_keeps_the_first_rows_of_the_file_when_repeats_come_last() {
        let mut errors = RowErrors::default();
        for row in 2001..=2000 + MAX_LISTED_ERRORS + 10 {
            errors.add(row, invalid("year"));
        }
        let mut repeats = keys::RowSet::default();
        for row in 1..=20 {
            repeats.insert(row * 100);
        }
        errors.add_repeats(Kind::MemberRatings, &repeats);
        assert_eq!(errors.total, MAX_LISTED_ERRORS + 10 + 20);
        assert_eq!(errors.failed_rows, MAX_LISTED_ERRORS + 10 + 20);
        assert_eq!(errors.listed.len(), MAX_LISTED_ERRORS);
        assert_eq!(errors.listed[0].row, Some(100));
        assert_eq!(errors.listed[0].code, "import.duplicate_key");
        assert_eq!(errors.listed[19].row, Some(2000));
        assert_eq!(errors.listed[20].row, Some(2001));
        assert!(errors.listed.windows(2).all(|w| w[0].row <= w[1].row));
    }

    #[test]
    fn the_tables_refreshed_while_writing_are_tables_the_kind_writes() {
        for kind in Kind::ALL {
            let written = kind.tables();
            assert!(!kind.looked_up_tables().is_empty(), "{kind}");
            for table in kind.looked_up_tables() {
                assert!(written.contains(table), "{kind}: {table}");
            }
        }
        assert_eq!(Kind::Members.looked_up_tables(), ["members"]);
    }

    #[test]
    fn statistics_are_not_refreshed_under_a_thousand_rows_nor_between_doublings() {
        assert!(refreshes(999).is_empty());
        assert_eq!(refreshes(1999), [1000]);
        assert_eq!(refresh_due(999), 1000);
        assert_eq!(refresh_due(4001), 8000);
        assert_eq!(refresh_due(usize::MAX), usize::MAX);
    }
}
