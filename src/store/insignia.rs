//! Party insignia awards, and the list of members due one on a batch date.

use std::collections::HashMap;

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::{
    insignia_awards as awards, members, memberships, organizations as orgs, party_age_gaps as gaps,
};
use crate::db::{DbConn, MultiBackend};
use crate::domain::discipline::insignia_blocked_until;
use crate::domain::insignia::{self as rules, TIERS};
use crate::domain::member::{party_age, LeaveReason, PartyAge};
use crate::domain::summary::Award;
use crate::domain::RuleViolation;
use crate::error::{Error, Result};
use crate::store::discipline::{member_actions, ActionRow};
use crate::store::members::{find_visible as find_member, MemberRow};
use crate::store::organizations::find_visible as find_org;
use crate::store::{decode_cursor, far_future, summaries, Page};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Age {
    pub years: u32,
    pub months: u32,
    pub days: u32,
}

impl From<PartyAge> for Age {
    fn from(a: PartyAge) -> Age {
        Age {
            years: a.years,
            months: a.months,
            days: a.days,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InsigniaAward {
    pub id: i64,
    pub profile_number: String,
    pub full_name: String,
    pub tier: i32,
    pub awarded_on: NaiveDate,
    pub decision_number: Option<String>,
    pub posthumous: bool,
    pub early: bool,
    pub revoked_on: Option<NaiveDate>,
    pub party_age: Option<Age>,
    pub override_reason: Option<String>,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
}

type AwardRow = (
    i64,
    i64,
    String,
    String,
    i32,
    NaiveDate,
    Option<String>,
    bool,
    bool,
    Option<NaiveDate>,
    Option<String>,
    i64,
    NaiveDateTime,
);

macro_rules! award_columns {
    () => {
        (
            awards::id,
            awards::member_id,
            members::profile_number,
            members::full_name,
            awards::tier,
            awards::awarded_on,
            awards::decision_number,
            awards::posthumous,
            awards::early,
            awards::revoked_on,
            awards::override_reason,
            awards::version,
            awards::created_at,
        )
    };
}

/// A period: start, and end (exclusive) if it has one.
type Period = (NaiveDate, Option<NaiveDate>);

fn gaps_by_member(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, Vec<Period>>> {
    let rows: Vec<(i64, NaiveDate, Option<NaiveDate>)> = gaps::table
        .filter(gaps::member_id.eq_any(ids.to_vec()))
        .select((gaps::member_id, gaps::starts_on, gaps::ends_on))
        .load(conn)?;
    let mut map: HashMap<i64, Vec<_>> = HashMap::new();
    for (id, s, e) in rows {
        map.entry(id).or_default().push((s, e));
    }
    Ok(map)
}

fn views(conn: &mut DbConn, rows: Vec<AwardRow>) -> Result<Vec<InsigniaAward>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let gaps = gaps_by_member(conn, &ids)?;
    let admitted: HashMap<i64, NaiveDate> = members::table
        .filter(members::id.eq_any(ids))
        .select((members::id, members::admitted_on))
        .load::<(i64, NaiveDate)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                member_id,
                profile_number,
                full_name,
                tier,
                awarded_on,
                decision_number,
                posthumous,
                early,
                revoked_on,
                override_reason,
                version,
                created_at,
            )| {
                let member_gaps = gaps.get(&member_id).cloned().unwrap_or_default();
                let age = admitted
                    .get(&member_id)
                    .and_then(|a| party_age(*a, &member_gaps, awarded_on).ok())
                    .map(Age::from);
                InsigniaAward {
                    id,
                    profile_number,
                    full_name,
                    tier,
                    awarded_on,
                    decision_number,
                    posthumous,
                    early,
                    revoked_on,
                    party_age: age,
                    override_reason,
                    version,
                    created_at,
                }
            },
        )
        .collect())
}

/// The day a member's party age reaches `tier` years, counting the gaps up to `on`.
fn due_date(admitted_on: NaiveDate, member_gaps: &[Period], on: NaiveDate, tier: u32) -> NaiveDate {
    let gap_days = party_age(admitted_on, member_gaps, on.max(admitted_on))
        .map(|a| a.gap_days)
        .unwrap_or(0);
    (admitted_on + chrono::Duration::days(gap_days))
        .checked_add_months(Months::new(tier * 12))
        .expect("in range")
}

/// `insignia.discipline_in_force`, `insignia.expelled`.
fn check_discipline(
    actions: &[ActionRow],
    on: NaiveDate,
) -> std::result::Result<(), RuleViolation> {
    for action in actions.iter().filter(|a| a.decided_on <= on) {
        match insignia_blocked_until(
            action.effective_form(),
            action.decided_on,
            action.announced_on,
        ) {
            Some(None) => {
                return Err(RuleViolation::new(
                    "insignia.expelled",
                    "profile_number",
                    "An expelled member receives no insignia.",
                ))
            }
            Some(Some(until)) if on < until => {
                return Err(RuleViolation::new(
                    "insignia.discipline_in_force",
                    "awarded_on",
                    format!(
                        "A {} decided on {} defers the insignia until {until}.",
                        action.effective_form(),
                        action.decided_on
                    ),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewAward {
    pub profile_number: String,
    pub tier: i32,
    pub awarded_on: NaiveDate,
    pub decision_number: Option<String>,
    pub posthumous: bool,
    pub early: bool,
    pub override_reason: Option<String>,
}

fn check_award(conn: &mut DbConn, member: &MemberRow, new: &NewAward) -> Result<u32> {
    let tier = rules::check_tier(new.tier)?;
    let held: Vec<i32> = awards::table
        .filter(awards::member_id.eq(member.id))
        .filter(awards::revoked_on.is_null())
        .select(awards::tier)
        .load(conn)?;
    let held: Vec<u32> = held.into_iter().map(|t| t as u32).collect();
    rules::check_ladder(tier, &held)?;
    if new.override_reason.is_some() {
        return Ok(tier);
    }
    let left = member
        .left_on
        .zip(member.leave_reason.as_deref().and_then(LeaveReason::parse));
    let deceased =
        matches!(left, Some((left_on, LeaveReason::Deceased)) if left_on <= new.awarded_on);
    // An award dated before the expulsion is history (recorded late, or imported): it is
    // recorded as returned on the day of the expulsion (`create`).
    if matches!(left, Some((left_on, LeaveReason::Expelled)) if left_on <= new.awarded_on) {
        return Err(Error::invalid(
            "profile_number",
            "insignia.expelled",
            "An expelled member receives no insignia.",
        ));
    }
    if new.posthumous && !deceased {
        return Err(Error::invalid(
            "posthumous",
            "insignia.posthumous_needs_deceased",
            "A posthumous award (truy tặng) is for a member who has died.",
        ));
    }
    match left {
        Some((left_on, LeaveReason::Deceased)) if deceased && !new.posthumous => {
            return Err(Error::invalid(
                "profile_number",
                "insignia.member_not_on_roll",
                format!("The member died on {left_on}: the insignia is awarded posthumously (truy tặng)."),
            ));
        }
        Some((left_on, reason)) if left_on <= new.awarded_on && reason != LeaveReason::Deceased => {
            return Err(Error::invalid(
                "profile_number",
                "insignia.member_not_on_roll",
                format!("The member left the roll on {left_on} ({reason})."),
            ));
        }
        _ => {}
    }
    let member_gaps = gaps_by_member(conn, &[member.id])?
        .remove(&member.id)
        .unwrap_or_default();
    // A posthumous award counts the party age the member reached in life: the day of death
    // must be within 12 months of the tier (a 60-year insignia holder who died at 63 years
    // does not receive the 65-year one).
    let reference = match (deceased, member.left_on) {
        (true, Some(died)) => died,
        _ => new.awarded_on,
    };
    let due = due_date(member.admitted_on, &member_gaps, reference, tier);
    rules::check_due(due, reference, tier, new.early, new.posthumous)?;
    check_discipline(&member_actions(conn, &[member.id])?, new.awarded_on)?;
    Ok(tier)
}

pub fn create(conn: &mut DbConn, vis: Visibility, new: NewAward) -> Result<InsigniaAward> {
    crate::db::write_transaction(conn, |conn| {
        let id = summaries::now(conn, |conn, changes| record(conn, vis, new, changes))?;
        get_by_id(conn, id)
    })
}

/// Records an award, as `create` does, without reading it back.
fn record(
    conn: &mut DbConn,
    vis: Visibility,
    new: NewAward,
    changes: &mut summaries::Batch,
) -> Result<i64> {
    let member =
        find_member(conn, vis, &new.profile_number).map_err(crate::error::missing_reference(
            "profile_number",
            "insignia.member_not_found",
            format!(
                "There is no member with profile number {}.",
                new.profile_number
            ),
        ))?;
    record_for(conn, &member, new, changes)
}

/// Records an award to `member` (found in the caller's scope, `new.profile_number`'s), as
/// `create` does, without reading it back: the bulk import has found the member already and
/// needs only the award's id. What it adds to the summaries goes into `changes`, which the
/// caller flushes before its transaction commits (`create` at once; the bulk import once for
/// the file).
pub fn record_for(
    conn: &mut DbConn,
    member: &MemberRow,
    new: NewAward,
    changes: &mut summaries::Batch,
) -> Result<i64> {
    crate::db::write_transaction(conn, |conn| {
        crate::db::lock_row(conn, "members", member.id)?;
        let tier = check_award(conn, member, &new)?;
        let returned_on = member
            .left_on
            .filter(|_| member.leave_reason.as_deref() == Some(LeaveReason::Expelled.as_str()));
        let now = crate::time::now();
        let id: i64 = diesel::insert_into(awards::table)
            .values((
                awards::member_id.eq(member.id),
                awards::tier.eq(tier as i32),
                awards::awarded_on.eq(new.awarded_on),
                awards::decision_number.eq(&new.decision_number),
                awards::posthumous.eq(new.posthumous),
                awards::early.eq(new.early),
                awards::override_reason.eq(&new.override_reason),
                awards::revoked_on.eq(returned_on),
                awards::version.eq(1i64),
                awards::created_at.eq(now),
                awards::updated_at.eq(now),
            ))
            .returning(awards::id)
            .get_result(conn)?;
        if returned_on.is_none() {
            let award = Award {
                awarded_on: new.awarded_on,
                tier: tier as i32,
                posthumous: new.posthumous,
                early: new.early,
            };
            changes.awards_changed(conn, member.id, &[award], 1)?;
        }
        Ok(id)
    })
}

fn get_by_id(conn: &mut DbConn, id: i64) -> Result<InsigniaAward> {
    let row: AwardRow = awards::table
        .inner_join(members::table)
        .filter(awards::id.eq(id))
        .select(award_columns!())
        .first(conn)?;
    Ok(views(conn, vec![row])?.remove(0))
}

type Boxed = diesel::internal::table_macro::BoxedSelectStatement<
    'static,
    (
        diesel::sql_types::BigInt,
        diesel::sql_types::BigInt,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Integer,
        diesel::sql_types::Date,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
        diesel::sql_types::Bool,
        diesel::sql_types::Bool,
        diesel::sql_types::Nullable<diesel::sql_types::Date>,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
        diesel::sql_types::BigInt,
        diesel::sql_types::Timestamp,
    ),
    diesel::internal::table_macro::FromClause<
        diesel::helper_types::InnerJoinQuerySource<awards::table, members::table>,
    >,
    MultiBackend,
>;

fn scoped(vis: Visibility) -> Boxed {
    let query = awards::table
        .inner_join(members::table)
        .select(award_columns!())
        .into_boxed();
    match vis {
        Visibility::All => query,
        Visibility::Subtree(scope) => query.filter(members::organization_id.eq_any(descendants!(
            scope,
            0,
            i32::MAX,
            far_future()
        ))),
    }
}

pub fn get(conn: &mut DbConn, vis: Visibility, id: i64) -> Result<InsigniaAward> {
    let row: Option<AwardRow> = scoped(vis)
        .filter(awards::id.eq(id))
        .first(conn)
        .optional()?;
    let row = row.ok_or_else(|| Error::not_found(format!("Insignia award {id} was not found.")))?;
    Ok(views(conn, vec![row])?.remove(0))
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub year: Option<i32>,
    pub under: Option<String>,
    pub tier: Option<i32>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<InsigniaAward>> {
    let mut query = scoped(vis);
    if let Some(year) = filter.year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| Error::bad_request("year is out of range"))?;
        let next = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .ok_or_else(|| Error::bad_request("year is out of range"))?;
        query = query
            .filter(awards::awarded_on.ge(first))
            .filter(awards::awarded_on.lt(next));
    }
    if let Some(tier) = filter.tier {
        query = query.filter(awards::tier.eq(tier));
    }
    if let Some(code) = &filter.under {
        let root = find_org(conn, vis, code)?;
        query = query.filter(members::organization_id.eq_any(descendants!(
            root.id,
            0,
            i32::MAX,
            far_future()
        )));
    }
    if let Some(cursor) = &filter.cursor {
        let raw = decode_cursor(cursor)?;
        let (day, id): (NaiveDate, i64) =
            serde_json::from_str(&raw).map_err(|_| decode_cursor("!").unwrap_err())?;
        query = query.filter(
            awards::awarded_on
                .gt(day)
                .or(awards::awarded_on.eq(day).and(awards::id.gt(id))),
        );
    }
    let rows: Vec<AwardRow> = query
        .order((awards::awarded_on.asc(), awards::id.asc()))
        .limit(filter.limit as i64 + 1)
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| {
        serde_json::to_string(&(r.5, r.0)).expect("serialises")
    });
    Ok(Page {
        items: views(conn, page.items)?,
        next_cursor: page.next_cursor,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Eligible {
    pub profile_number: String,
    pub full_name: String,
    pub organization_code: String,
    pub tier: u32,
    pub party_age: Age,
}

#[derive(Debug, Clone, Serialize)]
pub struct EligibleList {
    pub on: NaiveDate,
    pub items: Vec<Eligible>,
}

/// Members on the roll on `on` whose party age has reached a tier they do not hold (nor a
/// higher one), not held back by discipline: the highest such tier each.
pub fn eligible(
    conn: &mut DbConn,
    vis: Visibility,
    on: NaiveDate,
    under: Option<&str>,
    tier: Option<i32>,
) -> Result<EligibleList> {
    if let Some(t) = tier {
        rules::check_tier(t)?;
    }
    let root = match under {
        Some(code) => Some(find_org(conn, vis, code)?.id),
        None => None,
    };
    let mut query = memberships::table
        .inner_join(members::table)
        .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
        .filter(memberships::kind.eq("official"))
        .filter(memberships::valid_from.le(on))
        .filter(
            memberships::valid_to
                .is_null()
                .or(memberships::valid_to.gt(on)),
        )
        .select((
            members::id,
            members::profile_number,
            members::full_name,
            members::admitted_on,
            orgs::code,
        ))
        .into_boxed::<MultiBackend>();
    if let Visibility::Subtree(scope) = vis {
        query = query.filter(members::organization_id.eq_any(descendants!(
            scope,
            0,
            i32::MAX,
            far_future()
        )));
    }
    if let Some(root) = root {
        query =
            query.filter(memberships::organization_id.eq_any(descendants!(root, 0, i32::MAX, on)));
    }
    let candidates: Vec<(i64, String, String, NaiveDate, String)> =
        query.order(members::sort_key.asc()).load(conn)?;
    let ids: Vec<i64> = candidates.iter().map(|c| c.0).collect();
    let gaps = gaps_by_member(conn, &ids)?;
    let mut held: HashMap<i64, Vec<u32>> = HashMap::new();
    for (id, t) in awards::table
        .filter(awards::member_id.eq_any(ids.clone()))
        .filter(awards::revoked_on.is_null())
        .select((awards::member_id, awards::tier))
        .load::<(i64, i32)>(conn)?
    {
        held.entry(id).or_default().push(t as u32);
    }
    let mut actions: HashMap<i64, Vec<ActionRow>> = HashMap::new();
    for action in member_actions(conn, &ids)? {
        if let Some(id) = action.member_id {
            actions.entry(id).or_default().push(action);
        }
    }
    let mut items = Vec::new();
    for (id, profile_number, full_name, admitted_on, organization_code) in candidates {
        let member_gaps = gaps.get(&id).cloned().unwrap_or_default();
        let Ok(age) = party_age(admitted_on, &member_gaps, on) else {
            continue;
        };
        let highest_held = held
            .get(&id)
            .and_then(|h| h.iter().max().copied())
            .unwrap_or(0);
        let reached = TIERS
            .iter()
            .copied()
            .filter(|t| *t <= age.years && *t > highest_held)
            .max();
        let Some(reached) = reached else { continue };
        if tier.is_some_and(|t| t as u32 != reached) {
            continue;
        }
        if check_discipline(actions.get(&id).map(Vec::as_slice).unwrap_or(&[]), on).is_err() {
            continue;
        }
        items.push(Eligible {
            profile_number,
            full_name,
            organization_code,
            tier: reached,
            party_age: age.into(),
        });
    }
    Ok(EligibleList { on, items })
}
