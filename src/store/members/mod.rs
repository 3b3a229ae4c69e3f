//! The member register: members, their official and temporary memberships over time,
//! exemptions, party-age gaps, positions, and the history of every change.
//!
//! Split by concern: this module holds the types, the scope check and the API view;
//! `list` the queries of lists, `lifecycle` every write, `history` what happened and party age.
//!
//! A member's `organization_id` is their current official membership's organisation (the last
//! one for members who left). It decides who may see them; the memberships table decides
//! where they were on any past day.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Visibility;
use crate::db::schema::{
    member_events as events, member_exemptions as exemptions, members, memberships,
    organizations as orgs, party_age_gaps as gaps, positions,
};
use crate::db::{Day, DbConn, MultiBackend, Stamp};
use crate::domain::member::{
    self as rules, GapReason, Gender, LeaveReason, MembershipKind, PartyAge,
};
use crate::domain::summary::{self, MemberFacts};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::organizations::{find_visible as find_org, Known, OrgRow};
use crate::store::summaries;
use crate::store::{check_version, far_future, Page};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub id: i64,
    pub profile_number: String,
    pub card_number: Option<String>,
    pub full_name: String,
    pub search_name: String,
    pub sort_key: String,
    pub gender: String,
    pub born_on: NaiveDate,
    pub ethnicity: Option<String>,
    pub religion: Option<String>,
    pub national_id: Option<String>,
    pub organization_id: i64,
    pub admitted_on: NaiveDate,
    pub ceremony_on: Option<NaiveDate>,
    pub official_on: Option<NaiveDate>,
    pub left_on: Option<NaiveDate>,
    pub leave_reason: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Where a member stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Đảng viên dự bị.
    Probationary,
    /// Đảng viên chính thức.
    Full,
    /// No longer on the roll.
    Left,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "probationary" => Some(Status::Probationary),
            "full" => Some(Status::Full),
            "left" => Some(Status::Left),
            _ => None,
        }
    }
}

/// A member as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub profile_number: String,
    pub card_number: Option<String>,
    pub full_name: String,
    pub gender: Gender,
    pub born_on: Option<NaiveDate>,
    pub birth_year: i32,
    pub ethnicity: Option<String>,
    pub religion: Option<String>,
    pub national_id: Option<String>,
    /// The official membership's organisation on the day asked (today by default), or the
    /// last one for a member who left.
    pub organization_code: String,
    pub organization_since: Option<NaiveDate>,
    /// Where the member is temporarily active (sinh hoạt tạm thời), if anywhere.
    pub temporary_organization_code: Option<String>,
    pub admitted_on: NaiveDate,
    pub ceremony_on: Option<NaiveDate>,
    pub official_on: Option<NaiveDate>,
    pub status: Status,
    pub exempt: bool,
    pub exempt_since: Option<NaiveDate>,
    pub left_on: Option<NaiveDate>,
    pub leave_reason: Option<LeaveReason>,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
}

impl Member {
    /// What an auditor sees: national id and card number masked, the birth date as its year.
    pub fn masked(mut self) -> Member {
        self.national_id = self.national_id.map(|v| rules::mask(&v, 3));
        self.card_number = self.card_number.map(|v| rules::mask(&v, 3));
        self.born_on = None;
        self
    }
}

fn status_on(row: &MemberRow, day: NaiveDate) -> Status {
    if row.left_on.is_some_and(|left| left <= day) {
        Status::Left
    } else if row.official_on.is_some_and(|official| official <= day) {
        Status::Full
    } else {
        Status::Probationary
    }
}

type Period = (NaiveDate, Option<NaiveDate>);

/// One membership period with its organisation's code.
#[derive(Debug, Queryable)]
struct Span {
    member_id: i64,
    #[allow(dead_code)]
    organization_id: i64,
    kind: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    code: String,
}

fn holds(period: Period, day: NaiveDate) -> bool {
    period.0 <= day && period.1.is_none_or(|end| day < end)
}

/// An exemption period of a member: member id, start, end.
type Exemption = (i64, NaiveDate, Option<NaiveDate>);

/// Builds the API view of `rows` as of `day`, with a few queries for the whole batch.
fn views(conn: &mut DbConn, rows: Vec<MemberRow>, day: NaiveDate) -> Result<Vec<Member>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let spans: Vec<Span> = memberships::table
        .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
        .filter(memberships::member_id.eq_any(ids.clone()))
        .order((memberships::member_id, memberships::valid_from))
        .select((
            memberships::member_id,
            memberships::organization_id,
            memberships::kind,
            memberships::valid_from,
            memberships::valid_to,
            orgs::code,
        ))
        .load(conn)?;
    let exempt: Vec<Exemption> = exemptions::table
        .filter(exemptions::member_id.eq_any(ids))
        .select((
            exemptions::member_id,
            exemptions::starts_on,
            exemptions::ends_on,
        ))
        .load(conn)?;
    Ok(assemble(rows, &spans, &exempt, day))
}

/// The API view of `rows` as of `day` from their memberships (ordered by member and start) and
/// exemptions.
fn assemble(
    rows: Vec<MemberRow>,
    spans: &[Span],
    exempt: &[Exemption],
    day: NaiveDate,
) -> Vec<Member> {
    let mut by_member: HashMap<i64, Vec<&Span>> = HashMap::new();
    for span in spans {
        by_member.entry(span.member_id).or_default().push(span);
    }
    rows.into_iter()
        .map(|row| {
            let mine = by_member.get(&row.id).cloned().unwrap_or_default();
            let official: Vec<&&Span> = mine.iter().filter(|s| s.kind == "official").collect();
            // On the day, or the last one that started by then (a member who left).
            let current = official
                .iter()
                .find(|s| holds((s.valid_from, s.valid_to), day))
                .or_else(|| official.iter().rev().find(|s| s.valid_from <= day))
                .or(official.last());
            let temporary = mine
                .iter()
                .find(|s| s.kind == "temporary" && holds((s.valid_from, s.valid_to), day));
            let exemption = exempt
                .iter()
                .find(|e| e.0 == row.id && holds((e.1, e.2), day));
            let status = status_on(&row, day);
            Member {
                status,
                exempt: exemption.is_some() && status != Status::Left,
                exempt_since: exemption.map(|e| e.1),
                organization_code: current.map(|s| s.code.clone()).unwrap_or_default(),
                organization_since: current.map(|s| s.valid_from),
                temporary_organization_code: temporary.map(|s| s.code.clone()),
                gender: Gender::parse(&row.gender).expect("CHECK-constrained"),
                birth_year: chrono::Datelike::year(&row.born_on),
                born_on: Some(row.born_on),
                leave_reason: row.leave_reason.as_deref().and_then(LeaveReason::parse),
                profile_number: row.profile_number,
                card_number: row.card_number,
                full_name: row.full_name,
                ethnicity: row.ethnicity,
                religion: row.religion,
                national_id: row.national_id,
                admitted_on: row.admitted_on,
                ceremony_on: row.ceremony_on,
                official_on: row.official_on,
                left_on: row.left_on,
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            }
        })
        .collect()
}

type Boxed = members::BoxedQuery<'static, MultiBackend>;

/// The members whose current organisation lies in `$root`'s current subtree, checked row by
/// row (a correlated EXISTS on the tree's primary key).
macro_rules! currently_under {
    ($root:expr) => {{
        use $crate::db::schema::organization_tree as t;
        diesel::dsl::exists(
            t::table
                .filter(t::ancestor_id.eq($root))
                .filter(t::descendant_id.eq(members::organization_id))
                .filter(t::valid_to.is_null()),
        )
    }};
}

/// Scope is checked row by row: one indexed probe per member, cheap for a single record and
/// for lists walked along the name index.
fn restrict(query: Boxed, vis: Visibility) -> Boxed {
    match vis {
        Visibility::All => query,
        Visibility::Subtree(scope) => query.filter(currently_under!(scope)),
    }
}

/// The member `profile_number` if the caller may see them; 404 otherwise.
pub fn find_visible(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<MemberRow> {
    restrict(members::table.into_boxed(), vis)
        .filter(members::profile_number.eq(profile_number.to_string()))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Member {profile_number} was not found.")))
}

/// The members of `profile_numbers` the caller may see (the others are left out).
pub fn find_visible_many(
    conn: &mut DbConn,
    vis: Visibility,
    profile_numbers: &[&str],
) -> Result<Vec<MemberRow>> {
    Ok(restrict(members::table.into_boxed(), vis)
        .filter(members::profile_number.eq_any(profile_numbers))
        .select(MemberRow::as_select())
        .load(conn)?)
}

/// The member `profile_number` as the API shows it, if the caller may see them; 404 otherwise.
///
/// The single-record read is the API's most frequent request, so it is two statements of fixed
/// shape run on the engine's own connection (see [`one_view`]): each connection prepares them
/// once, where `find_visible` builds a boxed query that diesel prepares again every time, and
/// the multi-backend connection writes a statement's SQL out again on every execution.
/// No `.first()`: SQLite (3.47 and later) prepares a statement whose `LIMIT` is a bound
/// parameter again on every execution; the profile number is unique.
///
/// The scope check is a column (`EXISTS` in the select list) rather than a filter: as a filter
/// PostgreSQL plans the statement as a semi-join whose generic plan it estimates a little
/// dearer than a custom one, and so plans it again on every execution (`pg_prepared_statements`:
/// 0 generic plans after 12 executions); as a column it switches to the generic plan after
/// five. A member out of scope answers 404 like a missing one.
pub fn get(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<Member> {
    let rows: Vec<(MemberRow, bool)> = match vis {
        Visibility::All => crate::with_backend!(conn, |c| members::table
            .filter(members::profile_number.eq(profile_number))
            .select(MemberRow::as_select())
            .load::<MemberRow>(c))?
        .into_iter()
        .map(|row| (row, true))
        .collect(),
        Visibility::Subtree(scope) => crate::with_backend!(conn, |c| members::table
            .filter(members::profile_number.eq(profile_number))
            .select((MemberRow::as_select(), currently_under!(scope)))
            .load(c))?,
    };
    let row = rows
        .into_iter()
        .find_map(|(row, visible)| visible.then_some(row))
        .ok_or_else(|| Error::not_found(format!("Member {profile_number} was not found.")))?;
    one_view(conn, row)
}

/// The `kind` that marks an exemption among a member's memberships in [`one_view`]'s statement.
const EXEMPTION: &str = "exemption";

/// The view of one member as of today: their memberships and exemptions in one statement of
/// fixed shape (`UNION ALL`), on the engine's own connection (see [`get`]).
fn one_view(conn: &mut DbConn, row: MemberRow) -> Result<Member> {
    use diesel::sql_types::{BigInt, Text};
    let id = row.id;
    let mut spans: Vec<Span> = crate::with_backend!(conn, |c| memberships::table
        .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
        .filter(memberships::member_id.eq(id))
        .select((
            memberships::member_id,
            memberships::organization_id,
            memberships::kind,
            memberships::valid_from,
            memberships::valid_to,
            orgs::code,
        ))
        .union_all(
            exemptions::table
                .filter(exemptions::member_id.eq(id))
                .select((
                    exemptions::member_id,
                    0i64.into_sql::<BigInt>(),
                    EXEMPTION.into_sql::<Text>(),
                    exemptions::starts_on,
                    exemptions::ends_on,
                    "".into_sql::<Text>(),
                )),
        )
        .load(c))?;
    let (exempt, mut spans): (Vec<Span>, Vec<Span>) =
        spans.drain(..).partition(|s| s.kind == EXEMPTION);
    spans.sort_by_key(|s| s.valid_from);
    let exempt: Vec<Exemption> = exempt
        .into_iter()
        .map(|e| (e.member_id, e.valid_from, e.valid_to))
        .collect();
    Ok(assemble(vec![row], &spans, &exempt, crate::time::today()).remove(0))
}

fn reload(conn: &mut DbConn, id: i64) -> Result<Member> {
    let row = members::table
        .find(id)
        .select(MemberRow::as_select())
        .first(conn)?;
    one_view(conn, row)
}

mod history;
mod lifecycle;
mod list;

pub use history::*;
pub(crate) use lifecycle::record;
pub use lifecycle::*;
pub use list::*;
