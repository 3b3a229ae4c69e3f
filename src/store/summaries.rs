//! Keeps the yearly summaries (`member_year_summaries`, `admission_summaries`,
//! `discipline_summaries`, `insignia_summaries`) exact: every write that changes what a member
//! contributes (`domain::summary::Tally::add_member`) adds the change in its own transaction.
//! Member writes go through [`tracking`] (the member's tally before and after); new members
//! through [`Batch::admitted`]; ratings through [`ratings_changed`], decisions through
//! [`decision_changed`] and insignia through [`awards_changed`], which need only the member's
//! memberships.
//!
//! Changes are applied in key order, so two PostgreSQL transactions that touch the same
//! organisation-years lock their rows in the same order and never deadlock on them; the
//! increments commute, so concurrent writers need nothing else.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::Integer;

use crate::db::schema::{
    disciplinary_actions as actions, insignia_awards as awards, member_exemptions as exemptions,
    member_ratings as mr, members, memberships,
};
use crate::db::DbConn;
use crate::domain::discipline::{counted_form, AppealOutcome, Form};
use crate::domain::member::MembershipKind;
use crate::domain::rating::{year_end, year_start, Level};
use crate::domain::summary::{Award, MemberFacts, Span, Tally, Window};
use crate::error::Result;

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

/// The form in which a stored decision counts (`domain::discipline::counted_form`).
fn standing_form(form: &str, reduced: Option<String>, outcome: Option<String>) -> Option<Form> {
    counted_form(
        Form::parse(form)?,
        reduced.as_deref().and_then(Form::parse),
        outcome.as_deref().and_then(AppealOutcome::parse),
    )
}

/// Everything the summaries depend on of `ids` (members that exist), with their ratings of
/// the window's years.
fn facts_of(conn: &mut DbConn, ids: &[i64], window: Window) -> Result<Vec<MemberFacts>> {
    let mut spans = spans_of(conn, ids)?;
    let mut facts = Vec::with_capacity(ids.len());
    for part in ids.chunks(CHUNK) {
        let rows: Vec<(i64, NaiveDate, Option<NaiveDate>)> = members::table
            .filter(members::id.eq_any(part))
            .select((members::id, members::admitted_on, members::official_on))
            .load(conn)?;
        let mut exempt: HashMap<i64, Vec<(NaiveDate, Option<NaiveDate>)>> = HashMap::new();
        for (id, from, to) in exemptions::table
            .filter(exemptions::member_id.eq_any(part))
            .select((
                exemptions::member_id,
                exemptions::starts_on,
                exemptions::ends_on,
            ))
            .load::<(i64, NaiveDate, Option<NaiveDate>)>(conn)?
        {
            exempt.entry(id).or_default().push((from, to));
        }
        let mut ratings: HashMap<i64, Vec<(i32, Level)>> = HashMap::new();
        for (id, year, level) in mr::table
            .filter(mr::member_id.eq_any(part))
            .filter(mr::year.between(window.first, window.last))
            .select((mr::member_id, mr::year, mr::level))
            .load::<(i64, i32, String)>(conn)?
        {
            if let Some(level) = Level::parse(&level) {
                ratings.entry(id).or_default().push((year, level));
            }
        }
        let (first, last) = (year_start(window.first), year_end(window.last));
        let mut decisions: HashMap<i64, Vec<(NaiveDate, Form)>> = HashMap::new();
        for (id, day, form, reduced, outcome) in actions::table
            .filter(actions::member_id.eq_any(part))
            .filter(actions::decided_on.between(first, last))
            .select((
                actions::member_id,
                actions::decided_on,
                actions::form,
                actions::reduced_form,
                actions::appeal_outcome,
            ))
            .load::<(
                Option<i64>,
                NaiveDate,
                String,
                Option<String>,
                Option<String>,
            )>(conn)?
        {
            if let (Some(id), Some(form)) = (id, standing_form(&form, reduced, outcome)) {
                decisions.entry(id).or_default().push((day, form));
            }
        }
        let mut held: HashMap<i64, Vec<Award>> = HashMap::new();
        for (id, awarded_on, tier, posthumous, early) in awards::table
            .filter(awards::member_id.eq_any(part))
            .filter(awards::revoked_on.is_null())
            .filter(awards::awarded_on.between(first, last))
            .select((
                awards::member_id,
                awards::awarded_on,
                awards::tier,
                awards::posthumous,
                awards::early,
            ))
            .load::<(i64, NaiveDate, i32, bool, bool)>(conn)?
        {
            held.entry(id).or_default().push(Award {
                awarded_on,
                tier,
                posthumous,
                early,
            });
        }
        for (id, admitted_on, official_on) in rows {
            facts.push(MemberFacts {
                admitted_on,
                official_on,
                spans: spans.remove(&id).unwrap_or_default(),
                exemptions: exempt.remove(&id).unwrap_or_default(),
                ratings: ratings.remove(&id).unwrap_or_default(),
                decisions: decisions.remove(&id).unwrap_or_default(),
                awards: held.remove(&id).unwrap_or_default(),
            });
        }
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
/// adds the change of the member's contribution to the summaries, in the caller's transaction.
pub fn tracking<T>(
    conn: &mut DbConn,
    id: i64,
    write: impl FnOnce(&mut DbConn) -> Result<T>,
) -> Result<T> {
    let window = window(conn)?;
    if window.is_empty() {
        return write(conn);
    }
    let before = tally_of(conn, &[id], window)?;
    let out = write(conn)?;
    let after = tally_of(conn, &[id], window)?;
    apply(conn, &Tally::change(&before, &after))?;
    Ok(out)
}

/// A rating written: member, year, level before (none for a new one) and after.
pub type RatingChange = (i64, i32, Option<Level>, Level);

/// Summary changes of many writes in one transaction, added together: a bulk import touches
/// each organisation-year once per batch, not once per member — a province's register in
/// random order touches about 490 organisations in every 500 members, 13 years each.
/// Added when [`Batch::flush`] is called (before the transaction commits), or earlier when
/// it holds [`FLUSH_AT`] entries, which bounds its memory. Dropped unflushed, it adds nothing
/// (for a transaction that rolls back).
#[derive(Default)]
pub struct Batch {
    window: Option<Window>,
    tally: Tally,
}

/// Entries a batch holds at most (about 100 bytes each): a province's organisation-years
/// fit, so a national file written a province at a time adds each one once.
pub const FLUSH_AT: usize = 250_000;

impl Batch {
    fn window(&mut self, conn: &mut DbConn) -> Result<Window> {
        if let Some(w) = self.window {
            return Ok(w);
        }
        let w = window(conn)?;
        self.window = Some(w);
        Ok(w)
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

/// Adds what rating writes change, now (a single write).
pub fn ratings_changed(conn: &mut DbConn, changes: &[RatingChange]) -> Result<()> {
    let mut batch = Batch::default();
    batch.ratings_changed(conn, changes)?;
    batch.flush(conn)
}

/// Adds what a change to a member's disciplinary decision changes, now (`Batch::decision_changed`).
pub fn decision_changed(
    conn: &mut DbConn,
    id: i64,
    day: NaiveDate,
    before: Option<Form>,
    after: Option<Form>,
) -> Result<()> {
    let mut batch = Batch::default();
    batch.decision_changed(conn, id, day, before, after)?;
    batch.flush(conn)
}

/// Adds a member's insignia awarded or returned, now (`Batch::awards_changed`).
pub fn awards_changed(conn: &mut DbConn, id: i64, changed: &[Award], sign: i64) -> Result<()> {
    let mut batch = Batch::default();
    batch.awards_changed(conn, id, changed, sign)?;
    batch.flush(conn)
}

/// Rows per upsert statement.
const UPSERT_ROWS: usize = 500;

/// Adds `change` to the summary rows, creating the rows it is the first to touch. Every value
/// in the statements is a number or a date of this crate's own, never input text.
fn apply(conn: &mut DbConn, change: &Tally) -> Result<()> {
    let years = change.years.iter().map(|((org, year), c)| {
        let n = c.as_array().map(|n| n.to_string()).join(", ");
        format!("({org}, {year}, {n})")
    });
    add_counts(
        conn,
        "member_year_summaries",
        &["organization_id", "year"],
        &[
            "members",
            "probationary",
            "exempt",
            "excellent",
            "good",
            "completed",
            "not_completed",
            "rated_exempt",
        ],
        years,
    )?;
    let admissions = change
        .admissions
        .iter()
        .map(|((org, year, since), n)| format!("({org}, {year}, '{since}', {n})"));
    add_counts(
        conn,
        "admission_summaries",
        &["organization_id", "year", "since"],
        &["admitted"],
        admissions,
    )?;
    let decisions = change
        .decisions
        .iter()
        .map(|((org, day, form), n)| format!("({org}, '{day}', '{}', {n})", form.as_str()));
    add_counts(
        conn,
        "discipline_summaries",
        &["organization_id", "decided_on", "form"],
        &["members"],
        decisions,
    )?;
    let awards = change.awards.iter().map(|((org, a), n)| {
        format!(
            "({org}, '{}', {}, {}, {}, {n})",
            a.awarded_on,
            a.tier,
            sql_bool(a.posthumous),
            sql_bool(a.early)
        )
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

/// Upserts `rows` (SQL tuples of the key columns, then the count columns) into `table`,
/// `UPSERT_ROWS` a statement, adding each count to the row's count where the key exists.
fn add_counts(
    conn: &mut DbConn,
    table: &str,
    key: &[&str],
    counts: &[&str],
    rows: impl Iterator<Item = String>,
) -> Result<()> {
    use diesel::RunQueryDsl as _;
    let columns = [key, counts].concat().join(", ");
    let sums: Vec<String> = counts
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    let rows: Vec<String> = rows.collect();
    for part in rows.chunks(UPSERT_ROWS) {
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
            part.join(", "),
            key.join(", "),
            sums.join(", ")
        );
        crate::db::sql_query(conn, &sql).execute(conn)?;
    }
    Ok(())
}

/// A boolean literal both engines read (SQLite 3.23 and later know `TRUE` and `FALSE`).
fn sql_bool(b: bool) -> &'static str {
    if b {
        "TRUE"
    } else {
        "FALSE"
    }
}

/// Sets the window to `first..=last` and computes the summaries again from the records, in
/// one transaction (`party-records summaries`): for a database that had records before the
/// summaries existed, or to keep other years.
pub fn rebuild(conn: &mut DbConn, first: i32, last: i32) -> Result<()> {
    use diesel::RunQueryDsl as _;
    crate::db::write_transaction(conn, |conn| {
        crate::db::sql_query(conn, "DELETE FROM member_year_summaries").execute(conn)?;
        crate::db::sql_query(conn, "DELETE FROM admission_summaries").execute(conn)?;
        crate::db::sql_query(conn, "DELETE FROM discipline_summaries").execute(conn)?;
        crate::db::sql_query(conn, "DELETE FROM insignia_summaries").execute(conn)?;
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
        Ok(())
    })
}
