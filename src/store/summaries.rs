//! Keeps the yearly summaries (`member_year_summaries`, `admission_summaries`,
//! `discipline_summaries`, `insignia_summaries`) exact: every write that changes what a member
//! contributes (`domain::summary::Tally::add_member`) adds the change in its own transaction.
//! Member writes go through [`tracking`] (the member's tally before and after); new members
//! through [`Batch::admitted`]; ratings through [`ratings_changed`], decisions through
//! [`Batch::decision_changed`] and insignia through [`Batch::awards_changed`], which need only
//! the member's memberships (the store functions of discipline and insignia take the batch: a
//! single write flushes its own, a bulk import one for the whole file).
//!
//! Changes are applied in key order, so two PostgreSQL transactions that touch the same
//! organisation-years lock their rows in the same order and never deadlock on them; the
//! increments commute, so concurrent writers need nothing else.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, Date, HasSqlType, Integer, Nullable, Text, Untyped};

use crate::db::schema::{members, memberships};
use crate::db::DbConn;
use crate::domain::discipline::{counted_form, AppealOutcome, Form};
use crate::domain::member::MembershipKind;
use crate::domain::rating::{year_end, year_start, Level};
use crate::domain::summary::{Award, MemberFacts, Span, Tally, Window};
use crate::error::Result;

/// The summary tables, which every write keeps and the report reads.
pub const TABLES: [&str; 4] = [
    "member_year_summaries",
    "admission_summaries",
    "discipline_summaries",
    "insignia_summaries",
];

/// The counts of a `member_year_summaries` row, in the order of `domain::summary`'s
/// `as_array`.
pub const YEAR_COUNTS: [&str; 8] = [
    "members",
    "probationary",
    "exempt",
    "excellent",
    "good",
    "completed",
    "not_completed",
    "rated_exempt",
];

#[derive(QueryableByName)]
struct WindowRow {
    #[diesel(sql_type = Integer)]
    first_year: i32,
    #[diesel(sql_type = Integer)]
    last_year: i32,
}

/// The years the summaries keep.
pub fn window(conn: &mut DbConn) -> Result<Window> {
    let row: WindowRow = crate::db::sql_query(
        conn,
        "SELECT first_year, last_year FROM summary_window WHERE id = 1",
    )
    .get_result(conn)?;
    Ok(Window {
        first: row.first_year,
        last: row.last_year,
    })
}

/// Ids per statement: far below either engine's limit of bound parameters.
const CHUNK: usize = 1000;

/// The official memberships of `ids`.
fn spans_of(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, Vec<Span>>> {
    let mut spans: HashMap<i64, Vec<Span>> = HashMap::new();
    for part in ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64, NaiveDate, Option<NaiveDate>)> = memberships::table
            .filter(memberships::member_id.eq_any(part))
            .filter(memberships::kind.eq(MembershipKind::Official.as_str()))
            .select((
                memberships::member_id,
                memberships::organization_id,
                memberships::valid_from,
                memberships::valid_to,
            ))
            .load(conn)?;
        for (member, organization_id, from, to) in rows {
            spans.entry(member).or_default().push(Span {
                organization_id,
                from,
                to,
            });
        }
    }
    Ok(spans)
}

/// One row of [`facts_of`]'s statement: a membership, a member, an exemption, a rating, a
/// decision or an award (`tag`), in the columns that kind fills (the others are NULL).
#[derive(QueryableByName)]
struct FactRow {
    #[diesel(sql_type = Integer)]
    tag: i32,
    #[diesel(sql_type = BigInt)]
    member_id: i64,
    /// A membership's organisation.
    #[diesel(sql_type = Nullable<BigInt>)]
    organization_id: Option<i64>,
    /// A rating's year, an award's tier.
    #[diesel(sql_type = Nullable<Integer>)]
    n: Option<i32>,
    /// A membership's, an exemption's start; a member's admission; a decision's, an award's day.
    #[diesel(sql_type = Nullable<Date>)]
    starts: Option<NaiveDate>,
    /// A membership's, an exemption's end; a member's full membership.
    #[diesel(sql_type = Nullable<Date>)]
    ends: Option<NaiveDate>,
    /// A rating's level, a decision's form.
    #[diesel(sql_type = Nullable<Text>)]
    label: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reduced_form: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    appeal_outcome: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    posthumous: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    early: Option<bool>,
}

const MEMBERSHIP: i32 = 0;
const MEMBER: i32 = 1;
const EXEMPTION: i32 = 2;
const RATING: i32 = 3;
const DECISION: i32 = 4;
const AWARD: i32 = 5;

/// [`facts_of`]'s statement: the six reads as one `UNION ALL`, so that a member write's facts
/// cost one round trip, not six (a transfer reads them twice). A query type of its own rather
/// than raw `sql_query`, which diesel never keeps prepared: this one is prepared once per
/// connection (for one member and for a full chunk), then only bound and run (PostgreSQL
/// planned the six branches again on each call, 0.6 ms of a transfer's 4). The first branch
/// names and types every column (PostgreSQL types a `UNION` column from its branches, and an
/// untyped NULL in the first ones would make it text).
struct FactsQuery<'a> {
    ids: &'a [i64],
    window: Window,
    first_day: NaiveDate,
    last_day: NaiveDate,
}

impl QueryId for FactsQuery<'_> {
    type QueryId = ();
    // Cached by its SQL text, which depends on the count of ids.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for FactsQuery<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for FactsQuery<'_> {}

impl<DB> QueryFragment<DB> for FactsQuery<'_>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Integer> + HasSqlType<Date> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    NaiveDate: ToSql<Date, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Kept for one member (a write's facts) and a full chunk; any other count would add
        // one prepared statement per count.
        if self.ids.len() != 1 && self.ids.len() != CHUNK {
            out.unsafe_to_cache_prepared();
        }
        let ids = |out: &mut AstPass<'_, 'b, DB>| -> QueryResult<()> {
            out.push_sql(" WHERE member_id IN (");
            for (i, id) in self.ids.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_bind_param::<BigInt, _>(id)?;
            }
            out.push_sql(")");
            Ok(())
        };
        let days = |out: &mut AstPass<'_, 'b, DB>, column: &str| -> QueryResult<()> {
            out.push_sql(&format!(" AND {column} BETWEEN "));
            out.push_bind_param::<Date, _>(&self.first_day)?;
            out.push_sql(" AND ");
            out.push_bind_param::<Date, _>(&self.last_day)
        };
        out.push_sql(&format!(
            "SELECT {MEMBERSHIP} AS tag, member_id, organization_id, CAST(NULL AS INTEGER) AS n, \
                    valid_from AS starts, valid_to AS ends, CAST(NULL AS TEXT) AS label, \
                    CAST(NULL AS TEXT) AS reduced_form, CAST(NULL AS TEXT) AS appeal_outcome, \
                    CAST(NULL AS BOOLEAN) AS posthumous, CAST(NULL AS BOOLEAN) AS early \
               FROM memberships"
        ));
        ids(&mut out)?;
        out.push_sql(" AND kind = ");
        out.push_bind_param::<Text, _>(MembershipKind::Official.as_str())?;
        out.push_sql(&format!(
            " UNION ALL SELECT {MEMBER}, id, NULL, NULL, admitted_on, official_on, NULL, NULL, \
                    NULL, NULL, NULL \
               FROM members WHERE id IN ("
        ));
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<BigInt, _>(id)?;
        }
        out.push_sql(&format!(
            ") UNION ALL SELECT {EXEMPTION}, member_id, NULL, NULL, starts_on, ends_on, NULL, \
                    NULL, NULL, NULL, NULL \
               FROM member_exemptions"
        ));
        ids(&mut out)?;
        out.push_sql(&format!(
            " UNION ALL SELECT {RATING}, member_id, NULL, year, NULL, NULL, level, NULL, NULL, \
                    NULL, NULL \
               FROM member_ratings"
        ));
        ids(&mut out)?;
        out.push_sql(" AND year BETWEEN ");
        out.push_bind_param::<Integer, _>(&self.window.first)?;
        out.push_sql(" AND ");
        out.push_bind_param::<Integer, _>(&self.window.last)?;
        out.push_sql(&format!(
            " UNION ALL SELECT {DECISION}, member_id, NULL, NULL, decided_on, NULL, form, \
                    reduced_form, appeal_outcome, NULL, NULL \
               FROM disciplinary_actions"
        ));
        ids(&mut out)?;
        days(&mut out, "decided_on")?;
        out.push_sql(&format!(
            " UNION ALL SELECT {AWARD}, member_id, NULL, tier, awarded_on, NULL, NULL, NULL, \
                    NULL, posthumous, early \
               FROM insignia_awards"
        ));
        ids(&mut out)?;
        out.push_sql(" AND revoked_on IS NULL");
        days(&mut out, "awarded_on")
    }
}

/// A member's facts before their row is read.
fn no_facts() -> MemberFacts {
    MemberFacts {
        admitted_on: NaiveDate::MIN,
        official_on: None,
        spans: Vec::new(),
        exemptions: Vec::new(),
        ratings: Vec::new(),
        decisions: Vec::new(),
        awards: Vec::new(),
    }
}

/// Everything the summaries depend on of `ids` (members that exist), with their ratings,
/// decisions and awards of the window's years: one statement per [`CHUNK`] ids.
fn facts_of(conn: &mut DbConn, ids: &[i64], window: Window) -> Result<Vec<MemberFacts>> {
    let mut facts = Vec::with_capacity(ids.len());
    let (first, last) = (year_start(window.first), year_end(window.last));
    for part in ids.chunks(CHUNK) {
        let rows: Vec<FactRow> = FactsQuery {
            ids: part,
            window,
            first_day: first,
            last_day: last,
        }
        .load(conn)?;
        // The members found, in the order read; their facts as the rows come.
        let mut members: Vec<i64> = Vec::new();
        let mut of: HashMap<i64, MemberFacts> = HashMap::new();
        for row in rows {
            let member = of.entry(row.member_id).or_insert_with(no_facts);
            match (row.tag, row.starts) {
                (MEMBERSHIP, Some(from)) => {
                    if let Some(organization_id) = row.organization_id {
                        member.spans.push(Span {
                            organization_id,
                            from,
                            to: row.ends,
                        });
                    }
                }
                (MEMBER, Some(admitted_on)) => {
                    member.admitted_on = admitted_on;
                    member.official_on = row.ends;
                    members.push(row.member_id);
                }
                (EXEMPTION, Some(from)) => member.exemptions.push((from, row.ends)),
                (RATING, _) => {
                    if let (Some(year), Some(level)) =
                        (row.n, row.label.as_deref().and_then(Level::parse))
                    {
                        member.ratings.push((year, level));
                    }
                }
                (DECISION, Some(day)) => {
                    let form = row.label.as_deref().and_then(Form::parse);
                    let reduced = row.reduced_form.as_deref().and_then(Form::parse);
                    let outcome = row.appeal_outcome.as_deref().and_then(AppealOutcome::parse);
                    if let Some(form) = form.and_then(|f| counted_form(f, reduced, outcome)) {
                        member.decisions.push((day, form));
                    }
                }
                (AWARD, Some(awarded_on)) => {
                    if let (Some(tier), Some(posthumous), Some(early)) =
                        (row.n, row.posthumous, row.early)
                    {
                        member.awards.push(Award {
                            awarded_on,
                            tier,
                            posthumous,
                            early,
                        });
                    }
                }
                _ => {}
            }
        }
        facts.extend(members.iter().filter_map(|id| of.remove(id)));
    }
    Ok(facts)
}

/// What `ids` contribute to the summaries as the records stand.
fn tally_of(conn: &mut DbConn, ids: &[i64], window: Window) -> Result<Tally> {
    let mut tally = Tally::default();
    for facts in facts_of(conn, ids, window)? {
        tally.add_member(&facts, window);
    }
    Ok(tally)
}

/// Runs `write`, which changes member `id`'s memberships, dates, exemptions or ratings, and
/// adds the change of the member's contribution to the summaries at once, in the caller's
/// transaction ([`Batch::tracking`] with a batch of its own).
pub fn tracking<T>(
    conn: &mut DbConn,
    id: i64,
    write: impl FnOnce(&mut DbConn) -> Result<T>,
) -> Result<T> {
    now(conn, |conn, batch| batch.tracking(conn, id, write))
}

/// A rating written: member, year, level before (none for a new one) and after.
pub type RatingChange = (i64, i32, Option<Level>, Level);

/// Summary changes of many writes in one transaction, added together: a bulk import touches
/// each organisation-year once per batch, not once per member — a province's register in
/// random order touches about 490 organisations in every 500 members, 13 years each.
/// Added when [`Batch::flush`] is called (before the transaction commits), or earlier when
/// it holds [`FLUSH_AT`] entries, which bounds its memory. Dropped unflushed, it adds nothing
/// (for a transaction that rolls back). Deferring is exact because the increments commute and
/// no write reads the summary tables (only `store::stats` does, for reports): a write that
/// adds its own change at once ([`tracking`]) in the same transaction computes it from the
/// records, whatever the batch holds.
#[derive(Default)]
pub struct Batch {
    window: Option<Window>,
    tally: Tally,
}

/// Entries a batch holds at most (about 100 bytes each, twice that with the map's room):
/// most provinces' organisation-years fit, so a national file written a province at a time
/// adds most of them once. 250,000 took the national ratings import's server past 300 MB
/// with the rest of its memory (BENCHMARKS.md, eleventh pass).
pub const FLUSH_AT: usize = 100_000;

impl Batch {
    fn window(&mut self, conn: &mut DbConn) -> Result<Window> {
        if let Some(w) = self.window {
            return Ok(w);
        }
        let w = window(conn)?;
        self.window = Some(w);
        Ok(w)
    }

    /// Runs `write`, which changes member `id`'s memberships, dates, exemptions or ratings,
    /// and adds the change of the member's contribution: their facts read before and after.
    pub fn tracking<T>(
        &mut self,
        conn: &mut DbConn,
        id: i64,
        write: impl FnOnce(&mut DbConn) -> Result<T>,
    ) -> Result<T> {
        let window = self.window(conn)?;
        if window.is_empty() {
            return write(conn);
        }
        let before = tally_of(conn, &[id], window)?;
        let out = write(conn)?;
        let after = tally_of(conn, &[id], window)?;
        self.tally.add(&Tally::change(&before, &after), 1);
        self.flush_if_full(conn)?;
        Ok(out)
    }

    /// Adds what new members contribute; `facts` are what was just written of them.
    pub fn admitted(&mut self, conn: &mut DbConn, facts: &[MemberFacts]) -> Result<()> {
        let window = self.window(conn)?;
        if window.is_empty() {
            return Ok(());
        }
        for f in facts {
            self.tally.add_member(f, window);
        }
        self.flush_if_full(conn)
    }

    /// Adds what rating writes change: each level counts where the member is on the roll at
    /// the year's end (`Tally::add_rating`).
    pub fn ratings_changed(&mut self, conn: &mut DbConn, changes: &[RatingChange]) -> Result<()> {
        let window = self.window(conn)?;
        let mut ids: Vec<i64> = changes
            .iter()
            .filter(|(_, year, before, after)| window.contains(*year) && *before != Some(*after))
            .map(|(id, ..)| *id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        ids.dedup();
        let spans = spans_of(conn, &ids)?;
        let none = Vec::new();
        for (id, year, before, after) in changes {
            let member = spans.get(id).unwrap_or(&none);
            if let Some(before) = before {
                self.tally.add_rating(member, *year, *before, -1, window);
            }
            self.tally.add_rating(member, *year, *after, 1, window);
        }
        self.flush_if_full(conn)
    }

    /// Adds what a change to member `id`'s disciplinary decision of `day` changes: the form
    /// in which it counted `before` and counts `after` (none: not recorded, or annulled).
    pub fn decision_changed(
        &mut self,
        conn: &mut DbConn,
        id: i64,
        day: NaiveDate,
        before: Option<Form>,
        after: Option<Form>,
    ) -> Result<()> {
        let window = self.window(conn)?;
        if !window.contains(day.year()) || before == after {
            return Ok(());
        }
        let spans = spans_of(conn, &[id])?.remove(&id).unwrap_or_default();
        if let Some(form) = before {
            self.tally.add_decision(&spans, day, form, -1, window);
        }
        if let Some(form) = after {
            self.tally.add_decision(&spans, day, form, 1, window);
        }
        self.flush_if_full(conn)
    }

    /// Adds member `id`'s insignia awarded (`sign` 1) or returned (-1).
    pub fn awards_changed(
        &mut self,
        conn: &mut DbConn,
        id: i64,
        changed: &[Award],
        sign: i64,
    ) -> Result<()> {
        let window = self.window(conn)?;
        if !changed.iter().any(|a| window.contains(a.awarded_on.year())) {
            return Ok(());
        }
        let spans = spans_of(conn, &[id])?.remove(&id).unwrap_or_default();
        for award in changed {
            self.tally.add_award(&spans, *award, sign, window);
        }
        self.flush_if_full(conn)
    }

    fn flush_if_full(&mut self, conn: &mut DbConn) -> Result<()> {
        if self.tally.len() >= FLUSH_AT {
            self.flush(conn)?;
        }
        Ok(())
    }

    /// Adds what the batch holds to the summary rows.
    pub fn flush(&mut self, conn: &mut DbConn) -> Result<()> {
        let tally = std::mem::take(&mut self.tally);
        apply(conn, &Tally::change(&Tally::default(), &tally))
    }
}

/// Runs `write` with a fresh batch and adds what it holds: a single write, in the caller's
/// transaction (a bulk import keeps one batch for the file instead).
pub fn now<T>(
    conn: &mut DbConn,
    write: impl FnOnce(&mut DbConn, &mut Batch) -> Result<T>,
) -> Result<T> {
    let mut batch = Batch::default();
    let out = write(conn, &mut batch)?;
    batch.flush(conn)?;
    Ok(out)
}

/// Adds what rating writes change, now (a single write).
pub fn ratings_changed(conn: &mut DbConn, changes: &[RatingChange]) -> Result<()> {
    now(conn, |conn, batch| batch.ratings_changed(conn, changes))
}

/// Rows per upsert statement: 10 columns × 500 stays far below either engine's limit of bound
/// parameters.
const UPSERT_ROWS: usize = 500;

/// Adds `change` to the summary rows, creating the rows it is the first to touch.
fn apply(conn: &mut DbConn, change: &Tally) -> Result<()> {
    let years = change.years.iter().map(|((org, year), c)| {
        let mut row = vec![Cell::Id(*org), Cell::Year(*year)];
        row.extend(c.as_array().map(Cell::Count));
        row
    });
    add_counts(
        conn,
        "member_year_summaries",
        &["organization_id", "year"],
        &YEAR_COUNTS,
        years,
    )?;
    let admissions = change.admissions.iter().map(|((org, year, since), n)| {
        vec![
            Cell::Id(*org),
            Cell::Year(*year),
            Cell::Day(*since),
            Cell::Count(*n),
        ]
    });
    add_counts(
        conn,
        "admission_summaries",
        &["organization_id", "year", "since"],
        &["admitted"],
        admissions,
    )?;
    let decisions = change.decisions.iter().map(|((org, day, form), n)| {
        vec![
            Cell::Id(*org),
            Cell::Day(*day),
            Cell::Label(form.as_str()),
            Cell::Count(*n),
        ]
    });
    add_counts(
        conn,
        "discipline_summaries",
        &["organization_id", "decided_on", "form"],
        &["members"],
        decisions,
    )?;
    let awards = change.awards.iter().map(|((org, a), n)| {
        vec![
            Cell::Id(*org),
            Cell::Day(a.awarded_on),
            Cell::Year(a.tier),
            Cell::Flag(a.posthumous),
            Cell::Flag(a.early),
            Cell::Count(*n),
        ]
    });
    add_counts(
        conn,
        "insignia_summaries",
        &[
            "organization_id",
            "awarded_on",
            "tier",
            "posthumous",
            "early",
        ],
        &["awards"],
        awards,
    )
}

/// Upserts `rows` (the key columns' values, then the counts) into `table`, `UPSERT_ROWS` a
/// statement, adding each count to the row's count where the key exists.
fn add_counts(
    conn: &mut DbConn,
    table: &'static str,
    key: &'static [&'static str],
    counts: &'static [&'static str],
    rows: impl Iterator<Item = Vec<Cell>>,
) -> Result<()> {
    // A statement's rows at a time: a flush of a bulk import holds up to `FLUSH_AT` entries,
    // and all their bound values at once would be tens of megabytes.
    let mut rows = rows.peekable();
    let mut part: Vec<Vec<Cell>> = Vec::with_capacity(UPSERT_ROWS);
    while rows.peek().is_some() {
        part.clear();
        part.extend(rows.by_ref().take(UPSERT_ROWS));
        crate::with_backend!(conn, |c| AddCounts {
            table,
            key,
            counts,
            rows: &part,
        }
        .execute(c))?;
    }
    Ok(())
}

/// A value of a summary row, bound as a parameter of its column's type.
enum Cell {
    Id(i64),
    Year(i32),
    Day(NaiveDate),
    Label(&'static str),
    Flag(bool),
    Count(i64),
}

/// `INSERT INTO {table} … VALUES (…), … ON CONFLICT ({key}) DO UPDATE SET c = {table}.c +
/// excluded.c`, with bound values. A full statement of `UPSERT_ROWS` rows has one text per
/// table, which diesel keeps prepared per connection: a province's register adds 48 of them,
/// which PostgreSQL parsed and planned one by one when their values were written into the
/// text (0.33 s of the import's 2.9 s in the database). A shorter one (the last of a flush)
/// is not kept: its row count would add one prepared statement per count.
struct AddCounts<'a> {
    table: &'static str,
    key: &'static [&'static str],
    counts: &'static [&'static str],
    rows: &'a [Vec<Cell>],
}

impl QueryId for AddCounts<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for AddCounts<'_> {}

impl<DB> QueryFragment<DB> for AddCounts<'_>
where
    DB: Backend
        + HasSqlType<BigInt>
        + HasSqlType<Integer>
        + HasSqlType<Date>
        + HasSqlType<Text>
        + HasSqlType<Bool>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    NaiveDate: ToSql<Date, DB>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.rows.len() != UPSERT_ROWS {
            out.unsafe_to_cache_prepared();
        }
        let table = self.table;
        let columns = [self.key, self.counts].concat().join(", ");
        out.push_sql(&format!("INSERT INTO {table} ({columns}) VALUES "));
        for (i, row) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.push_sql(", ");
                }
                match cell {
                    Cell::Id(v) | Cell::Count(v) => out.push_bind_param::<BigInt, _>(v)?,
                    Cell::Year(v) => out.push_bind_param::<Integer, _>(v)?,
                    Cell::Day(v) => out.push_bind_param::<Date, _>(v)?,
                    Cell::Label(v) => out.push_bind_param::<Text, _>(*v)?,
                    Cell::Flag(v) => out.push_bind_param::<Bool, _>(v)?,
                }
            }
            out.push_sql(")");
        }
        let sums: Vec<String> = self
            .counts
            .iter()
            .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
            .collect();
        out.push_sql(&format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            self.key.join(", "),
            sums.join(", ")
        ));
        Ok(())
    }
}

/// Sets the window to `first..=last` and computes the summaries again from the records, in
/// one transaction (`party-records summaries`): for a database that had records before the
/// summaries existed, or to keep other years.
pub fn rebuild(conn: &mut DbConn, first: i32, last: i32) -> Result<()> {
    use diesel::RunQueryDsl as _;
    crate::db::write_transaction(conn, |conn| {
        for table in TABLES {
            crate::db::sql_query(conn, &format!("DELETE FROM {table}")).execute(conn)?;
        }
        crate::db::sql_query(
            conn,
            &format!(
                "UPDATE summary_window SET first_year = {first}, last_year = {last} WHERE id = 1"
            ),
        )
        .execute(conn)?;
        let window = Window { first, last };
        if window.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = members::table
            .select(members::id)
            .order(members::id)
            .load(conn)?;
        for part in ids.chunks(CHUNK) {
            let tally = tally_of(conn, part, window)?;
            apply(conn, &tally)?;
        }
        // Every row is new: the report's plans need the tables' statistics of now.
        crate::db::refresh_statistics(conn, &TABLES)?;
        Ok(())
    })
}
