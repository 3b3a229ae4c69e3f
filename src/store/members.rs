//! The member register: members, their official and temporary memberships over time,
//! exemptions, party-age gaps, positions, and the history of every change.
//!
//! A member's `organization_id` is their current official membership's organisation (the last
//! one for members who left). It decides who may see them; the memberships table decides
//! where they were on any past day.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Visibility;
use crate::db::schema::{
    member_events as events, member_exemptions as exemptions, members, memberships,
    organizations as orgs, party_age_gaps as gaps, positions,
};
use crate::db::{DbConn, MultiBackend};
use crate::domain::member::{
    self as rules, GapReason, Gender, LeaveReason, MembershipKind, PartyAge,
};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::organizations::{find_visible as find_org, OrgRow};
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
    let exempt: Vec<(i64, NaiveDate, Option<NaiveDate>)> = exemptions::table
        .filter(exemptions::member_id.eq_any(ids))
        .select((
            exemptions::member_id,
            exemptions::starts_on,
            exemptions::ends_on,
        ))
        .load(conn)?;
    let mut by_member: HashMap<i64, Vec<&Span>> = HashMap::new();
    for span in &spans {
        by_member.entry(span.member_id).or_default().push(span);
    }
    Ok(rows
        .into_iter()
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
        .collect())
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

/// Subtrees with more organisations than this are listed by walking the name index and
/// checking each member (EXISTS); smaller ones start from their organisations' members (IN)
/// and sort the few rows. On SQLite the first plan takes 2 ms for a whole province where the
/// second takes 60 ms, and the reverse for a single branch (BENCHMARKS.md).
const SMALL_SUBTREE: i64 = 64;

fn subtree_size(conn: &mut DbConn, root: i64, day: NaiveDate) -> Result<i64> {
    use crate::db::schema::organization_tree as t;
    Ok(t::table
        .filter(t::ancestor_id.eq(root))
        .filter(t::valid_from.le(day))
        .filter(t::valid_to.is_null().or(t::valid_to.gt(day)))
        .count()
        .get_result(conn)?)
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

pub fn get(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<Member> {
    let row = find_visible(conn, vis, profile_number)?;
    one_view(conn, row)
}

fn one_view(conn: &mut DbConn, row: MemberRow) -> Result<Member> {
    Ok(views(conn, vec![row], crate::time::today())?.remove(0))
}

fn reload(conn: &mut DbConn, id: i64) -> Result<Member> {
    let row = members::table
        .find(id)
        .select(MemberRow::as_select())
        .first(conn)?;
    one_view(conn, row)
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub under: Option<String>,
    pub on: Option<NaiveDate>,
    pub status: Option<Status>,
    pub exempt: Option<bool>,
    pub admitted_year: Option<i32>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The members exempt on `$day` (a macro: subselects stay unboxed to embed in boxed queries).
macro_rules! exempt_ids_on {
    ($day:expr) => {{
        let day: NaiveDate = $day;
        exemptions::table
            .select(exemptions::member_id)
            .filter(exemptions::starts_on.le(day))
            .filter(
                exemptions::ends_on
                    .is_null()
                    .or(exemptions::ends_on.gt(day)),
            )
    }};
}

/// The members with an official membership on `$day`: on the roll that day.
macro_rules! on_roll_ids {
    ($day:expr) => {{
        let day: NaiveDate = $day;
        memberships::table
            .select(memberships::member_id)
            .filter(memberships::kind.eq("official"))
            .filter(memberships::valid_from.le(day))
            .filter(
                memberships::valid_to
                    .is_null()
                    .or(memberships::valid_to.gt(day)),
            )
    }};
}

/// Members in Vietnamese name order (given name, then full name), keyset-paged on
/// `(sort_key, id)`: page 1,000 costs what page 1 costs.
pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<Member>> {
    // Cheap per-row tests (name words, dates) come first in the WHERE clause and the scope's
    // per-row probe last, so that SQLite probes only the rows that pass them.
    let mut query = members::table.into_boxed();
    for pattern in filter
        .q
        .as_deref()
        .map(text::search_patterns)
        .unwrap_or_default()
    {
        query = query.filter(members::search_name.like(pattern));
    }
    let day = filter.on.unwrap_or_else(crate::time::today);
    let under = match &filter.under {
        Some(code) => Some(find_org(conn, vis, code)?.id),
        None => None,
    };
    // The narrowest subtree that restricts the list decides the plan (see SMALL_SUBTREE).
    let narrowest = under.or(match vis {
        Visibility::All => None,
        Visibility::Subtree(scope) => Some(scope),
    });
    let small = match narrowest {
        Some(root) => {
            subtree_size(conn, root, filter.on.unwrap_or_else(far_future))? <= SMALL_SUBTREE
        }
        None => false,
    };
    match (filter.on, under) {
        // On a date: on the roll that day, in the subtree as it stood that day.
        (Some(on), Some(root)) if small => {
            query =
                query.filter(members::id.eq_any(on_roll_ids!(on).filter(
                    memberships::organization_id.eq_any(descendants!(root, 0, i32::MAX, on)),
                )));
        }
        (Some(on), Some(root)) => {
            query = query.filter(diesel::dsl::exists(
                on_roll_ids!(on)
                    .filter(memberships::member_id.eq(members::id))
                    .filter(memberships::organization_id.eq_any(descendants!(
                        root,
                        0,
                        i32::MAX,
                        on
                    ))),
            ));
        }
        (Some(on), None) => {
            query = query.filter(diesel::dsl::exists(
                on_roll_ids!(on).filter(memberships::member_id.eq(members::id)),
            ));
        }
        (None, Some(root)) if small => {
            query = query.filter(members::organization_id.eq_any(descendants!(
                root,
                0,
                i32::MAX,
                far_future()
            )));
        }
        (None, Some(root)) => query = query.filter(currently_under!(root)),
        (None, None) => {
            if let (true, Some(scope)) = (small, narrowest) {
                // A small scope: start from its organisations' members.
                query = query.filter(members::organization_id.eq_any(descendants!(
                    scope,
                    0,
                    i32::MAX,
                    far_future()
                )));
            }
        }
    }
    match filter.status {
        Some(Status::Left) => query = query.filter(members::left_on.le(day)),
        Some(Status::Full) => {
            query = query
                .filter(members::left_on.is_null().or(members::left_on.gt(day)))
                .filter(members::official_on.le(day))
        }
        Some(Status::Probationary) => {
            query = query
                .filter(members::left_on.is_null().or(members::left_on.gt(day)))
                .filter(
                    members::official_on
                        .is_null()
                        .or(members::official_on.gt(day)),
                )
        }
        None => {}
    }
    match filter.exempt {
        Some(true) => query = query.filter(members::id.eq_any(exempt_ids_on!(day))),
        Some(false) => query = query.filter(members::id.ne_all(exempt_ids_on!(day))),
        None => {}
    }
    if let Some(year) = filter.admitted_year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1);
        let next = NaiveDate::from_ymd_opt(year + 1, 1, 1);
        if let (Some(first), Some(next)) = (first, next) {
            query = query
                .filter(members::admitted_on.ge(first))
                .filter(members::admitted_on.lt(next));
        }
    }
    if let Some(cursor) = &filter.cursor {
        let (key, id) = decode_member_cursor(cursor)?;
        query = query.filter(
            members::sort_key
                .gt(key.clone())
                .or(members::sort_key.eq(key).and(members::id.gt(id))),
        );
    }
    let rows: Vec<MemberRow> = restrict(query, vis)
        .order((members::sort_key.asc(), members::id.asc()))
        .limit(filter.limit as i64 + 1)
        .select(MemberRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| {
        serde_json::to_string(&(r.sort_key.as_str(), r.id)).expect("serialises")
    });
    Ok(Page {
        items: views(conn, page.items, day)?,
        next_cursor: page.next_cursor,
    })
}

fn decode_member_cursor(cursor: &str) -> Result<(String, i64)> {
    let raw = crate::store::decode_cursor(cursor)?;
    serde_json::from_str(&raw).map_err(|_| crate::store::decode_cursor("!").unwrap_err())
}

/// Appends to the member's history.
pub(crate) fn record(
    conn: &mut DbConn,
    member_id: i64,
    occurred_on: NaiveDate,
    kind: &str,
    details: Value,
    by: &str,
) -> Result<()> {
    diesel::insert_into(events::table)
        .values((
            events::member_id.eq(member_id),
            events::occurred_on.eq(occurred_on),
            events::kind.eq(kind),
            events::details.eq(details.to_string()),
            events::recorded_at.eq(crate::time::now()),
            events::recorded_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

fn bump(conn: &mut DbConn, id: i64) -> Result<()> {
    diesel::update(members::table.find(id))
        .set((
            members::version.eq(members::version + 1),
            members::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The branch a member is placed in, visible to the caller and fit on `on`.
fn branch_for(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    on: NaiveDate,
    field: &'static str,
) -> Result<OrgRow> {
    let org = find_org(conn, vis, code).map_err(|e| match e {
        Error::NotFound(_) => Error::invalid(
            field,
            "member.organization_not_found",
            format!("There is no organisation with code {code}."),
        ),
        other => other,
    })?;
    rules::check_branch(
        &org.code,
        org.kind().is_branch(),
        org.lifetime().exists_on(on),
        field,
    )?;
    Ok(org)
}

fn check_card_free(conn: &mut DbConn, card: &Option<String>, except: Option<i64>) -> Result<()> {
    let Some(card) = card else { return Ok(()) };
    let mut query = members::table
        .filter(members::card_number.eq(card.clone()))
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(members::id.ne(id));
    }
    let taken: i64 = query.count().get_result(conn)?;
    if taken > 0 {
        return Err(Error::invalid(
            "card_number",
            "member.card_number_taken",
            "Another member holds this card number.",
        ));
    }
    Ok(())
}

/// A new member (kết nạp), already normalised and shaped by the API or import layer.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub profile_number: String,
    pub card_number: Option<String>,
    pub full_name: String,
    pub gender: Gender,
    pub born_on: NaiveDate,
    pub ethnicity: Option<String>,
    pub religion: Option<String>,
    pub national_id: Option<String>,
    pub organization_code: String,
    pub organization_since: Option<NaiveDate>,
    pub admitted_on: NaiveDate,
    pub ceremony_on: Option<NaiveDate>,
    pub official_on: Option<NaiveDate>,
    pub exempt_since: Option<NaiveDate>,
    pub override_reason: Option<String>,
}

pub fn create(conn: &mut DbConn, vis: Visibility, new: NewMember, by: &str) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let taken: i64 = members::table
            .filter(members::profile_number.eq(&new.profile_number))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(Error::invalid(
                "profile_number",
                "member.profile_number_taken",
                format!(
                    "A member with profile number {} exists already.",
                    new.profile_number
                ),
            ));
        }
        check_card_free(conn, &new.card_number, None)?;
        rules::check_dates(new.born_on, new.admitted_on, new.ceremony_on)?;
        rules::check_admission_age(new.born_on, new.admitted_on, new.override_reason.is_some())?;
        let since = new.organization_since.unwrap_or(new.admitted_on);
        rules::check_after_admission(new.admitted_on, since, "organization_since")?;
        let org = branch_for(
            conn,
            vis,
            &new.organization_code,
            since,
            "organization_code",
        )?;
        let official_on = match new.official_on {
            Some(requested) => Some(rules::check_recognition(
                new.ceremony_on,
                false,
                Some(requested),
                crate::time::today(),
            )?),
            None => None,
        };
        if let Some(from) = new.exempt_since {
            rules::check_after_admission(new.admitted_on, from, "exempt_since")?;
        }

        let now = crate::time::now();
        let id: i64 = diesel::insert_into(members::table)
            .values((
                members::profile_number.eq(&new.profile_number),
                members::card_number.eq(&new.card_number),
                members::full_name.eq(&new.full_name),
                members::search_name.eq(text::search_key(&new.full_name)),
                members::sort_key.eq(text::vietnamese_name_key(&new.full_name)),
                members::gender.eq(new.gender.as_str()),
                members::born_on.eq(new.born_on),
                members::ethnicity.eq(&new.ethnicity),
                members::religion.eq(&new.religion),
                members::national_id.eq(&new.national_id),
                members::organization_id.eq(org.id),
                members::admitted_on.eq(new.admitted_on),
                members::ceremony_on.eq(new.ceremony_on),
                members::official_on.eq(official_on),
                members::version.eq(1i64),
                members::created_at.eq(now),
                members::updated_at.eq(now),
            ))
            .returning(members::id)
            .get_result(conn)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::member_id.eq(id),
                memberships::organization_id.eq(org.id),
                memberships::kind.eq(MembershipKind::Official.as_str()),
                memberships::valid_from.eq(since),
            ))
            .execute(conn)?;
        record(
            conn,
            id,
            new.admitted_on,
            "admitted",
            json!({"organization_code": org.code, "organization_since": since,
                   "ceremony_on": new.ceremony_on, "override_reason": new.override_reason}),
            by,
        )?;
        if let Some(official) = official_on {
            record(
                conn,
                id,
                official,
                "recognised",
                json!({"official_on": official}),
                by,
            )?;
        }
        if let Some(from) = new.exempt_since {
            diesel::insert_into(exemptions::table)
                .values((exemptions::member_id.eq(id), exemptions::starts_on.eq(from)))
                .execute(conn)?;
            record(conn, id, from, "exempted", json!({"starts_on": from}), by)?;
        }
        reload(conn, id)
    })
}

/// Changes to a member's own data. `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    pub card_number: Option<Option<String>>,
    pub full_name: Option<String>,
    pub gender: Option<Gender>,
    pub born_on: Option<NaiveDate>,
    pub ethnicity: Option<Option<String>>,
    pub religion: Option<Option<String>>,
    pub national_id: Option<Option<String>>,
    pub admitted_on: Option<NaiveDate>,
    pub ceremony_on: Option<Option<NaiveDate>>,
    pub override_reason: Option<String>,
}

pub fn update(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    expected_version: i64,
    patch: MemberPatch,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        check_version(expected_version, row.version)?;
        let card_number = patch.card_number.clone().unwrap_or(row.card_number.clone());
        check_card_free(conn, &card_number, Some(row.id))?;
        let full_name = patch.full_name.clone().unwrap_or(row.full_name.clone());
        let born_on = patch.born_on.unwrap_or(row.born_on);
        let admitted_on = patch.admitted_on.unwrap_or(row.admitted_on);
        let ceremony_on = patch.ceremony_on.unwrap_or(row.ceremony_on);
        rules::check_dates(born_on, admitted_on, ceremony_on)?;
        if patch.born_on.is_some() || patch.admitted_on.is_some() {
            rules::check_admission_age(born_on, admitted_on, patch.override_reason.is_some())?;
        }
        // A full member's official date follows the ceremony: it is derived, never typed.
        let official_on = match (row.official_on, patch.ceremony_on) {
            (Some(_), Some(new_ceremony)) => Some(rules::check_recognition(
                new_ceremony,
                false,
                None,
                crate::time::today(),
            )?),
            (official, _) => official,
        };
        if admitted_on != row.admitted_on {
            let changed_row = MemberRow {
                admitted_on,
                ..row.clone()
            };
            let from = admitted_on.min(row.admitted_on).year();
            crate::store::ratings::recheck_member_ratings(conn, &changed_row, from, "admitted_on")?;
        }
        let changed: Vec<&str> = [
            ("card_number", patch.card_number.is_some()),
            ("full_name", patch.full_name.is_some()),
            ("gender", patch.gender.is_some()),
            ("born_on", patch.born_on.is_some()),
            ("ethnicity", patch.ethnicity.is_some()),
            ("religion", patch.religion.is_some()),
            ("national_id", patch.national_id.is_some()),
            ("admitted_on", patch.admitted_on.is_some()),
            ("ceremony_on", patch.ceremony_on.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        diesel::update(members::table.find(row.id))
            .set((
                members::card_number.eq(&card_number),
                members::search_name.eq(text::search_key(&full_name)),
                members::sort_key.eq(text::vietnamese_name_key(&full_name)),
                members::full_name.eq(&full_name),
                members::gender.eq(patch.gender.map(Gender::as_str).unwrap_or(&row.gender)),
                members::born_on.eq(born_on),
                members::ethnicity.eq(patch.ethnicity.unwrap_or(row.ethnicity)),
                members::religion.eq(patch.religion.unwrap_or(row.religion)),
                members::national_id.eq(patch.national_id.unwrap_or(row.national_id)),
                members::admitted_on.eq(admitted_on),
                members::ceremony_on.eq(ceremony_on),
                members::official_on.eq(official_on),
                members::version.eq(row.version + 1),
                members::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        // Personal values stay out of the history: it names the fields that changed.
        record(
            conn,
            row.id,
            crate::time::today(),
            "updated",
            json!({"fields": changed, "override_reason": patch.override_reason}),
            by,
        )?;
        reload(conn, row.id)
    })
}

/// Công nhận đảng viên chính thức: ceremony + 12 months, never earlier.
pub fn recognise(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    requested: Option<NaiveDate>,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        let official = rules::check_recognition(
            row.ceremony_on,
            row.official_on.is_some(),
            requested,
            crate::time::today(),
        )?;
        rules::check_on_roll(row.left_on, official, "official_on")?;
        diesel::update(members::table.find(row.id))
            .set(members::official_on.eq(Some(official)))
            .execute(conn)?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            official,
            "recognised",
            json!({"official_on": official}),
            by,
        )?;
        reload(conn, row.id)
    })
}

fn open_membership(
    conn: &mut DbConn,
    member_id: i64,
    kind: MembershipKind,
) -> Result<Option<(i64, i64, NaiveDate)>> {
    Ok(memberships::table
        .filter(memberships::member_id.eq(member_id))
        .filter(memberships::kind.eq(kind.as_str()))
        .filter(memberships::valid_to.is_null())
        .select((
            memberships::id,
            memberships::organization_id,
            memberships::valid_from,
        ))
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub organization_code: String,
    pub on: NaiveDate,
    pub kind: MembershipKind,
    /// The end of temporary activity, if known.
    pub until: Option<NaiveDate>,
}

/// Chuyển sinh hoạt đảng. An official transfer ends the old membership and starts the new one
/// on the same day; temporary activity (sinh hoạt tạm thời) is recorded beside it and does not
/// move the member's count.
pub fn transfer(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    transfer: Transfer,
    by: &str,
) -> Result<Member> {
    let Transfer {
        organization_code,
        on,
        kind,
        until,
    } = transfer;
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        rules::check_after_admission(row.admitted_on, on, "on")?;
        rules::check_on_roll(row.left_on, on, "on")?;
        rules::check_period(on, until, "until")?;
        let org = branch_for(conn, vis, &organization_code, on, "organization_code")?;
        match kind {
            MembershipKind::Official => {
                if until.is_some() {
                    return Err(Error::invalid(
                        "until",
                        "member.official_transfer_has_no_end",
                        "An official transfer lasts until the next one; only temporary activity has an end.",
                    ));
                }
                let (current_id, current_org, current_from) =
                    open_membership(conn, row.id, MembershipKind::Official)?.ok_or_else(|| {
                        Error::invalid(
                            "on",
                            "member.left_the_roll",
                            "The member has no current membership.",
                        )
                    })?;
                if current_org == org.id {
                    return Err(Error::invalid(
                        "organization_code",
                        "member.same_organization",
                        format!("The member is active in {} already.", org.code),
                    ));
                }
                rules::check_transfer_date(current_from, on)?;
                diesel::update(memberships::table.find(current_id))
                    .set(memberships::valid_to.eq(Some(on)))
                    .execute(conn)?;
                diesel::update(members::table.find(row.id))
                    .set(members::organization_id.eq(org.id))
                    .execute(conn)?;
            }
            MembershipKind::Temporary => {
                if let Some((open_id, _, open_from)) =
                    open_membership(conn, row.id, MembershipKind::Temporary)?
                {
                    if on <= open_from {
                        return Err(Error::invalid(
                            "on",
                            "member.overlapping_membership",
                            format!("Temporary activity since {open_from} is open; a new one must start after it."),
                        ));
                    }
                    diesel::update(memberships::table.find(open_id))
                        .set(memberships::valid_to.eq(Some(on)))
                        .execute(conn)?;
                }
            }
        }
        diesel::insert_into(memberships::table)
            .values((
                memberships::member_id.eq(row.id),
                memberships::organization_id.eq(org.id),
                memberships::kind.eq(kind.as_str()),
                memberships::valid_from.eq(on),
                memberships::valid_to.eq(until),
            ))
            .execute(conn)?;
        bump(conn, row.id)?;
        let event = match kind {
            MembershipKind::Official => "transferred",
            MembershipKind::Temporary => "temporary_activity",
        };
        record(
            conn,
            row.id,
            on,
            event,
            json!({"organization_code": org.code, "until": until}),
            by,
        )?;
        reload(conn, row.id)
    })
}

fn periods(conn: &mut DbConn, member_id: i64) -> Result<Vec<(i64, NaiveDate, Option<NaiveDate>)>> {
    Ok(exemptions::table
        .filter(exemptions::member_id.eq(member_id))
        .order(exemptions::starts_on)
        .select((exemptions::id, exemptions::starts_on, exemptions::ends_on))
        .load(conn)?)
}

/// Miễn công tác và sinh hoạt đảng from a date.
pub fn exempt(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    starts_on: NaiveDate,
    reason: Option<String>,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        rules::check_after_admission(row.admitted_on, starts_on, "starts_on")?;
        rules::check_on_roll(row.left_on, starts_on, "starts_on")?;
        let existing: Vec<Period> = periods(conn, row.id)?
            .into_iter()
            .map(|p| (p.1, p.2))
            .collect();
        rules::check_no_overlap((starts_on, None), &existing, "starts_on")?;
        diesel::insert_into(exemptions::table)
            .values((
                exemptions::member_id.eq(row.id),
                exemptions::starts_on.eq(starts_on),
                exemptions::reason.eq(&reason),
            ))
            .execute(conn)?;
        crate::store::ratings::recheck_member_ratings(conn, &row, starts_on.year(), "starts_on")?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            starts_on,
            "exempted",
            json!({"reason": reason}),
            by,
        )?;
        reload(conn, row.id)
    })
}

pub fn end_exemption(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    on: NaiveDate,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        let open = periods(conn, row.id)?.into_iter().find(|p| p.2.is_none());
        let (id, from, _) = open.ok_or_else(|| {
            Error::invalid(
                "on",
                "member.not_exempt",
                "The member has no open exemption to end.",
            )
        })?;
        rules::check_period(from, Some(on), "on")?;
        diesel::update(exemptions::table.find(id))
            .set(exemptions::ends_on.eq(Some(on)))
            .execute(conn)?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            on,
            "exemption_ended",
            json!({"exempt_since": from}),
            by,
        )?;
        reload(conn, row.id)
    })
}

/// Takes a member off the roll on `on`: their memberships, exemption and positions end that
/// day. `through_discipline` is set only by an expulsion decision (khai trừ).
pub fn leave_roll(
    conn: &mut DbConn,
    row: &MemberRow,
    reason: LeaveReason,
    on: NaiveDate,
    through_discipline: bool,
    by: &str,
) -> Result<()> {
    rules::check_leave_reason(reason, through_discipline)?;
    rules::check_after_admission(row.admitted_on, on, "on")?;
    rules::check_on_roll(row.left_on, on, "on")?;
    // Nothing may begin on or after the day the member leaves (it would outlive the roll).
    let later_exemptions: i64 = exemptions::table
        .filter(exemptions::member_id.eq(row.id))
        .filter(exemptions::starts_on.ge(on))
        .count()
        .get_result(conn)?;
    let later_activity: i64 = memberships::table
        .filter(memberships::member_id.eq(row.id))
        .filter(memberships::kind.eq(MembershipKind::Temporary.as_str()))
        .filter(memberships::valid_from.ge(on))
        .count()
        .get_result(conn)?;
    if later_exemptions + later_activity > 0 {
        return Err(Error::invalid(
            "on",
            "member.left_the_roll",
            format!("An exemption or temporary activity is recorded from {on} or later; the member cannot leave the roll before it."),
        ));
    }
    if let Some((_, _, from)) = open_membership(conn, row.id, MembershipKind::Official)? {
        if on <= from {
            return Err(Error::invalid(
                "on",
                "member.overlapping_membership",
                format!("The current membership starts on {from}; the member leaves after it."),
            ));
        }
    }
    diesel::update(
        memberships::table
            .filter(memberships::member_id.eq(row.id))
            .filter(
                memberships::valid_to
                    .is_null()
                    .or(memberships::valid_to.gt(on)),
            ),
    )
    .set(memberships::valid_to.eq(Some(on)))
    .execute(conn)?;
    diesel::update(
        exemptions::table
            .filter(exemptions::member_id.eq(row.id))
            .filter(exemptions::ends_on.is_null()),
    )
    .set(exemptions::ends_on.eq(Some(on)))
    .execute(conn)?;
    diesel::update(
        positions::table
            .filter(positions::member_id.eq(row.id))
            .filter(positions::ends_on.is_null())
            .filter(positions::starts_on.lt(on)),
    )
    .set(positions::ends_on.eq(Some(on)))
    .execute(conn)?;
    diesel::update(members::table.find(row.id))
        .set((
            members::left_on.eq(Some(on)),
            members::leave_reason.eq(Some(reason.as_str())),
        ))
        .execute(conn)?;
    bump(conn, row.id)?;
    record(conn, row.id, on, "left", json!({"reason": reason}), by)
}

pub fn leave(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    reason: LeaveReason,
    on: NaiveDate,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        leave_roll(conn, &row, reason, on, false, by)?;
        reload(conn, row.id)
    })
}

/// Records a period that does not count toward party age.
pub fn add_gap(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    gap: Gap,
    by: &str,
) -> Result<Member> {
    let Gap {
        reason,
        starts_on,
        ends_on,
        note,
    } = gap;
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        rules::check_after_admission(row.admitted_on, starts_on, "starts_on")?;
        rules::check_period(starts_on, ends_on, "ends_on")?;
        let existing: Vec<Period> = gaps::table
            .filter(gaps::member_id.eq(row.id))
            .select((gaps::starts_on, gaps::ends_on))
            .load(conn)?;
        rules::check_no_overlap((starts_on, ends_on), &existing, "starts_on")?;
        diesel::insert_into(gaps::table)
            .values((
                gaps::member_id.eq(row.id),
                gaps::reason.eq(reason.as_str()),
                gaps::starts_on.eq(starts_on),
                gaps::ends_on.eq(ends_on),
                gaps::note.eq(&note),
            ))
            .execute(conn)?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            starts_on,
            "party_age_gap",
            json!({"reason": reason, "starts_on": starts_on, "ends_on": ends_on, "note": note}),
            by,
        )?;
        reload(conn, row.id)
    })
}

/// A position (chức vụ) the member holds; dismissal from post needs one.
pub fn add_position(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    position: Position,
    by: &str,
) -> Result<Member> {
    let Position {
        title,
        organization_code,
        starts_on,
        ends_on,
    } = position;
    let title = title.as_str();
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        rules::check_period(starts_on, ends_on, "ends_on")?;
        rules::check_on_roll(row.left_on, starts_on, "starts_on")?;
        let org = match organization_code.as_deref() {
            Some(code) => Some(find_org(conn, vis, code).map_err(|_| {
                Error::invalid(
                    "organization_code",
                    "member.organization_not_found",
                    format!("There is no organisation with code {code}."),
                )
            })?),
            None => None,
        };
        let taken: i64 = positions::table
            .filter(positions::member_id.eq(row.id))
            .filter(positions::title.eq(title))
            .filter(positions::starts_on.eq(starts_on))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(Error::invalid(
                "title",
                "member.position_taken",
                "This position is recorded already from that date.",
            ));
        }
        diesel::insert_into(positions::table)
            .values((
                positions::member_id.eq(row.id),
                positions::title.eq(title),
                positions::organization_id.eq(org.as_ref().map(|o| o.id)),
                positions::starts_on.eq(starts_on),
                positions::ends_on.eq(ends_on),
            ))
            .execute(conn)?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            starts_on,
            "position_started",
            json!({"title": title, "organization_code": org.map(|o| o.code), "ends_on": ends_on}),
            by,
        )?;
        reload(conn, row.id)
    })
}

pub fn end_position(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    title: &str,
    on: NaiveDate,
    by: &str,
) -> Result<Member> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        let open: Option<(i64, NaiveDate)> = positions::table
            .filter(positions::member_id.eq(row.id))
            .filter(positions::title.eq(title))
            .filter(positions::ends_on.is_null())
            .select((positions::id, positions::starts_on))
            .first(conn)
            .optional()?;
        let (id, from) = open.ok_or_else(|| {
            Error::invalid(
                "title",
                "member.position_not_found",
                format!("The member holds no open position \"{title}\"."),
            )
        })?;
        rules::check_period(from, Some(on), "on")?;
        diesel::update(positions::table.find(id))
            .set(positions::ends_on.eq(Some(on)))
            .execute(conn)?;
        bump(conn, row.id)?;
        record(
            conn,
            row.id,
            on,
            "position_ended",
            json!({"title": title}),
            by,
        )?;
        reload(conn, row.id)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub on: NaiveDate,
    pub kind: String,
    pub details: Value,
    #[serde(serialize_with = "crate::time::ser")]
    pub recorded_at: NaiveDateTime,
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Position {
    pub title: String,
    pub organization_code: Option<String>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub profile_number: String,
    pub events: Vec<HistoryEntry>,
    pub positions: Vec<Position>,
}

pub fn history(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<History> {
    let row = find_visible(conn, vis, profile_number)?;
    let rows: Vec<(NaiveDate, String, String, NaiveDateTime, Option<String>)> = events::table
        .filter(events::member_id.eq(row.id))
        .order((events::occurred_on.asc(), events::id.asc()))
        .select((
            events::occurred_on,
            events::kind,
            events::details,
            events::recorded_at,
            events::recorded_by,
        ))
        .load(conn)?;
    let held: Vec<(String, Option<i64>, NaiveDate, Option<NaiveDate>)> = positions::table
        .filter(positions::member_id.eq(row.id))
        .order(positions::starts_on.asc())
        .select((
            positions::title,
            positions::organization_id,
            positions::starts_on,
            positions::ends_on,
        ))
        .load(conn)?;
    let org_ids: Vec<i64> = held.iter().filter_map(|p| p.1).collect();
    let codes: HashMap<i64, String> = orgs::table
        .filter(orgs::id.eq_any(org_ids))
        .select((orgs::id, orgs::code))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(History {
        profile_number: row.profile_number,
        events: rows
            .into_iter()
            .map(
                |(on, kind, details, recorded_at, recorded_by)| HistoryEntry {
                    on,
                    kind,
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                    recorded_at,
                    recorded_by,
                },
            )
            .collect(),
        positions: held
            .into_iter()
            .map(|(title, org, starts_on, ends_on)| Position {
                title,
                organization_code: org.and_then(|id| codes.get(&id).cloned()),
                starts_on,
                ends_on,
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub reason: GapReason,
    pub starts_on: NaiveDate,
    /// `None` while the gap lasts (an expulsion until readmission).
    pub ends_on: Option<NaiveDate>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartyAgeAnswer {
    pub profile_number: String,
    pub on: NaiveDate,
    pub admitted_on: NaiveDate,
    #[serde(flatten)]
    pub age: PartyAge,
    pub gaps: Vec<Gap>,
}

pub fn gaps_of(conn: &mut DbConn, member_id: i64) -> Result<Vec<Gap>> {
    let rows: Vec<(String, NaiveDate, Option<NaiveDate>, Option<String>)> = gaps::table
        .filter(gaps::member_id.eq(member_id))
        .order(gaps::starts_on.asc())
        .select((gaps::reason, gaps::starts_on, gaps::ends_on, gaps::note))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reason, starts_on, ends_on, note)| Gap {
            reason: GapReason::parse(&reason).expect("CHECK-constrained"),
            starts_on,
            ends_on,
            note,
        })
        .collect())
}

pub fn party_age(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    on: NaiveDate,
) -> Result<PartyAgeAnswer> {
    let row = find_visible(conn, vis, profile_number)?;
    let gaps = gaps_of(conn, row.id)?;
    let spans: Vec<Period> = gaps.iter().map(|g| (g.starts_on, g.ends_on)).collect();
    let age = rules::party_age(row.admitted_on, &spans, on)?;
    Ok(PartyAgeAnswer {
        profile_number: row.profile_number,
        on,
        admitted_on: row.admitted_on,
        age,
        gaps: gaps.into_iter().filter(|g| g.starts_on < on).collect(),
    })
}
