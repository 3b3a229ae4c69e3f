//! Quality ratings of members and organisations, one per subject and year, with the rules of
//! `domain::rating` applied against the records (exemptions, discipline, the tree), and the
//! soft excellence quota reported as warnings.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::{
    disciplinary_actions as actions, member_exemptions as exemptions, member_ratings as mr,
    members, memberships, organization_ratings as orr, organization_tree as tree,
    organizations as orgs,
};
use crate::db::{Day, DbConn, MultiBackend, Stamp};
use crate::domain::organization::OrgKind;
use crate::domain::rating::{
    self as rules, year_end, year_start, Level, MemberFacts, OrganizationFacts,
};
use crate::domain::RuleViolation;
use crate::error::{Error, FieldError, Result};
use crate::store::members::{find_visible as find_member, MemberRow};
use crate::store::organizations::{find_visible as find_org, OrgRow};
use crate::store::summaries;
use crate::store::{check_version, decode_cursor, far_future, Page};

/// A soft-rule warning: recorded, shown, never blocking.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    pub organization_code: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberRating {
    pub profile_number: String,
    pub full_name: String,
    pub year: i32,
    pub level: Level,
    pub score: Option<i32>,
    pub reason: Option<String>,
    pub self_corrected: bool,
    pub decided_on: Option<NaiveDate>,
    pub override_reason: Option<String>,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganizationRating {
    pub organization_code: String,
    pub name: String,
    pub kind: OrgKind,
    pub year: i32,
    pub level: Level,
    pub score: Option<i32>,
    pub reason: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub override_reason: Option<String>,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
    pub warnings: Vec<Warning>,
}

/// A rating as entered (one subject; the key is named by the caller).
#[derive(Debug, Clone)]
pub struct RatingInput {
    pub level: Level,
    pub score: Option<i32>,
    pub reason: Option<String>,
    pub self_corrected: bool,
    pub decided_on: Option<NaiveDate>,
    /// Set only by administrators: the hard rules are then recorded as overridden.
    pub override_reason: Option<String>,
}

/// Decisions dated in `year`, not annulled.
macro_rules! disciplined_in {
    ($year:expr) => {{
        let year: i32 = $year;
        actions::table
            .filter(actions::decided_on.ge(year_start(year)))
            .filter(actions::decided_on.le(year_end(year)))
            .filter(
                actions::appeal_outcome
                    .is_null()
                    .or(actions::appeal_outcome.ne("annulled")),
            )
    }};
}

pub fn member_facts(conn: &mut DbConn, member: &MemberRow, year: i32) -> Result<MemberFacts> {
    let periods: Vec<(NaiveDate, Option<NaiveDate>)> = exemptions::table
        .filter(exemptions::member_id.eq(member.id))
        .select((exemptions::starts_on, exemptions::ends_on))
        .load(conn)?;
    let disciplined: i64 = disciplined_in!(year)
        .filter(actions::member_id.eq(member.id))
        .count()
        .get_result(conn)?;
    Ok(facts_of(member, &periods, disciplined > 0, year))
}

/// The facts of a rating year from the member's exemption periods and whether a decision of
/// that year disciplined them.
fn facts_of(
    member: &MemberRow,
    exemption_periods: &[(NaiveDate, Option<NaiveDate>)],
    disciplined_in_year: bool,
    year: i32,
) -> MemberFacts {
    let end = year_end(year);
    let start = year_start(year);
    MemberFacts {
        admitted_on: member.admitted_on,
        left_on: member.left_on,
        exempt_at_year_end: exemption_periods
            .iter()
            .any(|(s, e)| *s <= end && e.is_none_or(|e| end < e)),
        exempt_during_year: exemption_periods
            .iter()
            .any(|(s, e)| *s <= end && e.is_none_or(|e| start < e)),
        disciplined_in_year,
    }
}

pub fn organization_facts(conn: &mut DbConn, org: &OrgRow, year: i32) -> Result<OrganizationFacts> {
    Ok(organization_facts_many(conn, &[org], year)?
        .remove(&org.id)
        .expect("one facts per organisation"))
}

/// [`organization_facts`] of many organisations for one year, in three queries.
fn organization_facts_many(
    conn: &mut DbConn,
    orgs_of_year: &[&OrgRow],
    year: i32,
) -> Result<HashMap<i64, OrganizationFacts>> {
    let (start, end) = (year_start(year), year_end(year));
    let ids: Vec<i64> = orgs_of_year.iter().map(|o| o.id).collect();
    // Direct subordinates at some time in the year.
    let mut children: HashMap<i64, HashSet<i64>> = HashMap::new();
    for (parent, child) in tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::descendant_id)))
        .filter(tree::ancestor_id.eq_any(&ids))
        .filter(tree::depth.eq(1))
        .filter(tree::valid_from.le(end))
        .filter(tree::valid_to.is_null().or(tree::valid_to.gt(start)))
        .filter(orgs::established_on.le(end))
        .filter(
            orgs::dissolved_on
                .is_null()
                .or(orgs::dissolved_on.gt(start)),
        )
        .select((tree::ancestor_id, tree::descendant_id))
        .load::<(i64, i64)>(conn)?
    {
        children.entry(parent).or_default().insert(child);
    }
    let mut concerned: Vec<i64> = ids.clone();
    concerned.extend(children.values().flatten());
    concerned.sort_unstable();
    concerned.dedup();
    let disciplined: HashSet<i64> = disciplined_in!(year)
        .filter(actions::organization_id.eq_any(&concerned))
        .select(actions::organization_id.assume_not_null())
        .distinct()
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    Ok(orgs_of_year
        .iter()
        .map(|org| {
            let none = HashSet::new();
            let children = children.get(&org.id).unwrap_or(&none);
            let facts = OrganizationFacts {
                established_on: org.established_on,
                dissolved_on: org.dissolved_on,
                disciplined_in_year: disciplined.contains(&org.id),
                subordinates: children.len(),
                subordinates_disciplined: children
                    .iter()
                    .filter(|c| disciplined.contains(c))
                    .count(),
            };
            (org.id, facts)
        })
        .collect())
}

fn check_common(year: i32, input: &RatingInput) -> std::result::Result<(), RuleViolation> {
    rules::check_reason(input.level, input.reason.as_deref())?;
    rules::check_score(year, input.level, input.score)
}

/// The member's grassroots organisation (tổ chức cơ sở đảng) at the year's end: the group the
/// excellence quota counts in.
fn grassroots_of(
    conn: &mut DbConn,
    member_id: i64,
    day: NaiveDate,
) -> Result<Option<(i64, String)>> {
    let branch: Option<i64> = memberships::table
        .filter(memberships::member_id.eq(member_id))
        .filter(memberships::kind.eq("official"))
        .filter(memberships::valid_from.le(day))
        .order(memberships::valid_from.desc())
        .select(memberships::organization_id)
        .first(conn)
        .optional()?;
    let Some(branch) = branch else {
        return Ok(None);
    };
    Ok(tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .filter(tree::descendant_id.eq(branch))
        .filter(tree::valid_from.le(day))
        .filter(tree::valid_to.is_null().or(tree::valid_to.gt(day)))
        .filter(orgs::kind.eq_any(["grassroots_committee", "grassroots_branch"]))
        .select((orgs::id, orgs::code))
        .first(conn)
        .optional()?)
}

fn quota_warning(excellent: i64, good: i64, group: &str, what: &str) -> Option<Warning> {
    (!rules::excellent_quota_holds(excellent as usize, good as usize)).then(|| Warning {
        code: "rating.excellent_quota",
        message: format!(
            "{excellent} {what} rated excellent against {good} rated good in {group}: more than {}% of good.",
            rules::QUOTA_PERCENT
        ),
        organization_code: group.to_string(),
    })
}

/// The quota within the member's grassroots organisation for the year.
fn member_quota(conn: &mut DbConn, member_id: i64, year: i32) -> Result<Vec<Warning>> {
    let end = year_end(year);
    let Some((group, code)) = grassroots_of(conn, member_id, end)? else {
        return Ok(Vec::new());
    };
    let counts: Vec<(String, i64)> = mr::table
        .inner_join(memberships::table.on(memberships::member_id.eq(mr::member_id)))
        .filter(mr::year.eq(year))
        .filter(mr::level.eq_any(["excellent", "good"]))
        .filter(memberships::kind.eq("official"))
        .filter(memberships::valid_from.le(end))
        .filter(
            memberships::valid_to
                .is_null()
                .or(memberships::valid_to.gt(end)),
        )
        .filter(memberships::organization_id.eq_any(descendants!(group, 0, i32::MAX, end)))
        .group_by(mr::level)
        .select((mr::level, diesel::dsl::count_star()))
        .load(conn)?;
    let count = |level: &str| {
        counts
            .iter()
            .find(|(l, _)| l == level)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    Ok(
        quota_warning(count("excellent"), count("good"), &code, "members")
            .into_iter()
            .collect(),
    )
}

/// The quota among organisations of the same kind under the same parent, for the year.
fn organization_quota(conn: &mut DbConn, org: &OrgRow, year: i32) -> Result<Vec<Warning>> {
    let end = year_end(year);
    let parent: Option<(i64, String)> = tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .filter(tree::descendant_id.eq(org.id))
        .filter(tree::depth.eq(1))
        .filter(tree::valid_from.le(end))
        .filter(tree::valid_to.is_null().or(tree::valid_to.gt(end)))
        .select((orgs::id, orgs::code))
        .first(conn)
        .optional()?;
    let Some((parent, parent_code)) = parent else {
        return Ok(Vec::new());
    };
    let counts: Vec<(String, i64)> = orr::table
        .inner_join(orgs::table)
        .filter(orr::year.eq(year))
        .filter(orr::level.eq_any(["excellent", "good"]))
        .filter(orgs::kind.eq(org.kind.clone()))
        .filter(orr::organization_id.eq_any(descendants!(parent, 1, 1, end)))
        .group_by(orr::level)
        .select((orr::level, diesel::dsl::count_star()))
        .load(conn)?;
    let count = |level: &str| {
        counts
            .iter()
            .find(|(l, _)| l == level)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let what = format!("{}s", org.kind);
    Ok(
        quota_warning(count("excellent"), count("good"), &parent_code, &what)
            .into_iter()
            .collect(),
    )
}

type MemberRatingRow = (
    i64,
    String,
    String,
    i32,
    String,
    Option<i32>,
    Option<String>,
    bool,
    Option<NaiveDate>,
    Option<String>,
    i64,
    NaiveDateTime,
    NaiveDateTime,
);

fn member_view(row: MemberRatingRow) -> MemberRating {
    let (
        _,
        profile_number,
        full_name,
        year,
        level,
        score,
        reason,
        self_corrected,
        decided_on,
        override_reason,
        version,
        created_at,
        updated_at,
    ) = row;
    MemberRating {
        profile_number,
        full_name,
        year,
        level: Level::parse(&level).expect("CHECK-constrained"),
        score,
        reason,
        self_corrected,
        decided_on,
        override_reason,
        version,
        created_at,
        updated_at,
        warnings: Vec::new(),
    }
}

macro_rules! member_rating_columns {
    () => {
        (
            mr::id,
            members::profile_number,
            members::full_name,
            mr::year,
            mr::level,
            mr::score,
            mr::reason,
            mr::self_corrected,
            mr::decided_on,
            mr::override_reason,
            mr::version,
            mr::created_at,
            mr::updated_at,
        )
    };
}

fn load_member_rating(
    conn: &mut DbConn,
    member_id: i64,
    year: i32,
) -> Result<Option<MemberRating>> {
    Ok(mr::table
        .inner_join(members::table)
        .filter(mr::member_id.eq(member_id))
        .filter(mr::year.eq(year))
        .select(member_rating_columns!())
        .first::<MemberRatingRow>(conn)
        .optional()?
        .map(member_view))
}

fn member_reference(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<MemberRow> {
    find_member(conn, vis, profile_number).map_err(crate::error::missing_reference(
        "profile_number",
        "rating.member_not_found",
        format!("There is no member with profile number {profile_number}."),
    ))
}

fn check_member(
    conn: &mut DbConn,
    member: &MemberRow,
    year: i32,
    input: &RatingInput,
) -> Result<()> {
    check_common(year, input)?;
    if input.override_reason.is_none() {
        let facts = member_facts(conn, member, year)?;
        rules::check_member_rating(year, input.level, input.self_corrected, &facts)?;
    }
    Ok(())
}

/// Enters a member's rating for a year.
pub fn create_member_rating(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    year: i32,
    input: RatingInput,
) -> Result<MemberRating> {
    crate::db::write_transaction(conn, |conn| {
        let member = member_reference(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", member.id)?;
        insert_member_rating(conn, &member, year, &input)?;
        let mut rating = load_member_rating(conn, member.id, year)?.expect("just written");
        rating.warnings = member_quota(conn, member.id, year)?;
        Ok(rating)
    })
}

fn insert_member_rating(
    conn: &mut DbConn,
    member: &MemberRow,
    year: i32,
    input: &RatingInput,
) -> Result<()> {
    if load_member_rating(conn, member.id, year)?.is_some() {
        return Err(Error::invalid(
            "year",
            "rating.exists",
            format!(
                "{} has a rating for {year}; correct it instead.",
                member.profile_number
            ),
        ));
    }
    check_member(conn, member, year, input)?;
    let now = crate::time::now();
    diesel::insert_into(mr::table)
        .values((
            mr::member_id.eq(member.id),
            mr::year.eq(year),
            mr::level.eq(input.level.as_str()),
            mr::score.eq(input.score),
            mr::reason.eq(&input.reason),
            mr::self_corrected.eq(input.self_corrected),
            mr::decided_on.eq(input.decided_on),
            mr::override_reason.eq(&input.override_reason),
            mr::version.eq(1i64),
            mr::created_at.eq(now),
            mr::updated_at.eq(now),
        ))
        .execute(conn)?;
    summaries::ratings_changed(conn, &[(member.id, year, None, input.level)])
}

#[derive(Insertable)]
#[diesel(table_name = mr, treat_none_as_default_value = false)]
struct MemberRatingInsert<'a> {
    member_id: i64,
    year: i32,
    level: &'static str,
    score: Option<i32>,
    reason: Option<&'a str>,
    self_corrected: bool,
    decided_on: Option<Day>,
    override_reason: Option<&'a str>,
    version: i64,
    created_at: Stamp,
    updated_at: Stamp,
}

/// Ratings of many members entered together (the bulk import, which found the members in
/// the caller's scope): the checks of `create_member_rating`, against the recorded ratings,
/// exemptions and decisions looked up once for the batch, and one multi-row insert. One
/// result per item, in order; `rating.exists` for a member rated already in that year (the
/// import updates those one by one). No quota warnings: nothing reads them here.
pub fn create_member_ratings_many(
    conn: &mut DbConn,
    items: &[(&MemberRow, i32, RatingInput)],
    summaries: &mut summaries::Batch,
) -> Result<Vec<Result<()>>> {
    crate::db::write_transaction(conn, |conn| {
        let ids: Vec<i64> = items.iter().map(|(m, _, _)| m.id).collect();
        let rated: HashSet<(i64, i32)> = mr::table
            .filter(mr::member_id.eq_any(&ids))
            .select((mr::member_id, mr::year))
            .load::<(i64, i32)>(conn)?
            .into_iter()
            .collect();
        let mut periods: HashMap<i64, Vec<(NaiveDate, Option<NaiveDate>)>> = HashMap::new();
        for (id, starts, ends) in exemptions::table
            .filter(exemptions::member_id.eq_any(&ids))
            .select((
                exemptions::member_id,
                exemptions::starts_on,
                exemptions::ends_on,
            ))
            .load::<(i64, NaiveDate, Option<NaiveDate>)>(conn)?
        {
            periods.entry(id).or_default().push((starts, ends));
        }
        let disciplined: HashSet<(i64, i32)> = actions::table
            .filter(actions::member_id.eq_any(&ids))
            .filter(
                actions::appeal_outcome
                    .is_null()
                    .or(actions::appeal_outcome.ne("annulled")),
            )
            .select((actions::member_id.assume_not_null(), actions::decided_on))
            .load::<(i64, NaiveDate)>(conn)?
            .into_iter()
            .map(|(id, day)| (id, day.year()))
            .collect();

        let mut results = Vec::with_capacity(items.len());
        let mut rows = Vec::new();
        let now = crate::time::now();
        for (member, year, input) in items {
            let check = || -> Result<i64> {
                if rated.contains(&(member.id, *year)) {
                    return Err(Error::invalid(
                        "year",
                        "rating.exists",
                        format!(
                            "{} has a rating for {year}; correct it instead.",
                            member.profile_number
                        ),
                    ));
                }
                check_common(*year, input)?;
                if input.override_reason.is_none() {
                    let none = Vec::new();
                    let facts = facts_of(
                        member,
                        periods.get(&member.id).unwrap_or(&none),
                        disciplined.contains(&(member.id, *year)),
                        *year,
                    );
                    rules::check_member_rating(*year, input.level, input.self_corrected, &facts)?;
                }
                Ok(member.id)
            };
            match check() {
                Ok(member_id) => {
                    rows.push(MemberRatingInsert {
                        member_id,
                        year: *year,
                        level: input.level.as_str(),
                        score: input.score,
                        reason: input.reason.as_deref(),
                        self_corrected: input.self_corrected,
                        decided_on: input.decided_on.map(Day),
                        override_reason: input.override_reason.as_deref(),
                        version: 1,
                        created_at: Stamp(now),
                        updated_at: Stamp(now),
                    });
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if !rows.is_empty() {
            crate::bulk_insert!(conn, mr::table, &rows)?;
            let changes: Vec<summaries::RatingChange> = items
                .iter()
                .zip(&results)
                .filter(|(_, result)| result.is_ok())
                .map(|((member, year, input), _)| (member.id, *year, None, input.level))
                .collect();
            summaries.ratings_changed(conn, &changes)?;
        }
        Ok(results)
    })
}

/// Prefixes the fields of an item's errors with its place in a batch: `ratings[3].level`.
fn in_batch(index: usize, error: Error) -> Error {
    match error {
        Error::Unprocessable(errors) => Error::Unprocessable(
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: format!("ratings[{index}].{}", e.field),
                    ..e
                })
                .collect(),
        ),
        other => other,
    }
}

/// Collects the errors of every item (up to a limit) before refusing, so a clerk fixes the whole
/// list at once; nothing is written unless all items pass.
fn batch<T>(items: Vec<T>, mut write: impl FnMut(usize, T) -> Result<()>) -> Result<usize> {
    let count = items.len();
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match write(i, item) {
            Ok(()) => {}
            Err(Error::Unprocessable(mut e)) => errors.append(&mut e),
            Err(other) => return Err(other),
        }
        if errors.len() >= 1000 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(count)
    } else {
        Err(Error::Unprocessable(errors))
    }
}

/// A whole list for a year in one transaction: all or nothing.
pub fn create_member_ratings(
    conn: &mut DbConn,
    vis: Visibility,
    year: i32,
    items: Vec<(String, RatingInput)>,
) -> Result<(usize, Vec<Warning>)> {
    crate::db::write_transaction(conn, |conn| {
        let mut ids = Vec::new();
        let count = batch(items, |i, (profile_number, input)| {
            let member =
                member_reference(conn, vis, &profile_number).map_err(|e| in_batch(i, e))?;
            crate::db::lock_row(conn, "members", member.id)?;
            insert_member_rating(conn, &member, year, &input).map_err(|e| in_batch(i, e))?;
            ids.push(member.id);
            Ok(())
        })?;
        let mut warnings: Vec<Warning> = Vec::new();
        for id in ids {
            for w in member_quota(conn, id, year)? {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        Ok((count, warnings))
    })
}

pub fn get_member_rating(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    year: i32,
) -> Result<MemberRating> {
    let member = find_member(conn, vis, profile_number)?;
    load_member_rating(conn, member.id, year)?
        .ok_or_else(|| Error::not_found(format!("{profile_number} has no rating for {year}.")))
}

#[derive(Debug, Clone, Default)]
pub struct RatingPatch {
    pub level: Option<Level>,
    pub score: Option<Option<i32>>,
    pub reason: Option<Option<String>>,
    pub self_corrected: Option<bool>,
    pub decided_on: Option<Option<NaiveDate>>,
    pub override_reason: Option<String>,
}

pub fn update_member_rating(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    year: i32,
    expected_version: i64,
    patch: RatingPatch,
) -> Result<MemberRating> {
    crate::db::write_transaction(conn, |conn| {
        let member = find_member(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", member.id)?;
        let current = load_member_rating(conn, member.id, year)?.ok_or_else(|| {
            Error::not_found(format!("{profile_number} has no rating for {year}."))
        })?;
        check_version(expected_version, current.version)?;
        let input = RatingInput {
            level: patch.level.unwrap_or(current.level),
            score: patch.score.unwrap_or(current.score),
            reason: patch.reason.unwrap_or(current.reason),
            self_corrected: patch.self_corrected.unwrap_or(current.self_corrected),
            decided_on: patch.decided_on.unwrap_or(current.decided_on),
            override_reason: patch.override_reason,
        };
        check_member(conn, &member, year, &input)?;
        diesel::update(
            mr::table
                .filter(mr::member_id.eq(member.id))
                .filter(mr::year.eq(year)),
        )
        .set((
            mr::level.eq(input.level.as_str()),
            mr::score.eq(input.score),
            mr::reason.eq(&input.reason),
            mr::self_corrected.eq(input.self_corrected),
            mr::decided_on.eq(input.decided_on),
            mr::override_reason.eq(&input.override_reason),
            mr::version.eq(current.version + 1),
            mr::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
        summaries::ratings_changed(conn, &[(member.id, year, Some(current.level), input.level)])?;
        let mut rating = load_member_rating(conn, member.id, year)?.expect("just written");
        rating.warnings = member_quota(conn, member.id, year)?;
        Ok(rating)
    })
}

#[derive(Debug, Clone, Default)]
pub struct RatingFilter {
    pub year: Option<i32>,
    pub under: Option<String>,
    pub level: Option<Level>,
    pub kind: Option<OrgKind>,
    pub limit: usize,
    pub cursor: Option<String>,
}

fn year_cursor(cursor: &Option<String>) -> Result<Option<(i32, String)>> {
    match cursor {
        None => Ok(None),
        Some(c) => {
            let raw = decode_cursor(c)?;
            serde_json::from_str(&raw)
                .map(Some)
                .map_err(|_| decode_cursor("!").unwrap_err())
        }
    }
}

pub fn list_member_ratings(
    conn: &mut DbConn,
    vis: Visibility,
    filter: RatingFilter,
) -> Result<Page<MemberRating>> {
    let mut query = mr::table
        .inner_join(members::table)
        .select(member_rating_columns!())
        .into_boxed::<MultiBackend>();
    if let Visibility::Subtree(scope) = vis {
        query = query.filter(members::organization_id.eq_any(descendants!(
            scope,
            0,
            i32::MAX,
            far_future()
        )));
    }
    if let Some(year) = filter.year {
        query = query.filter(mr::year.eq(year));
    }
    if let Some(level) = filter.level {
        query = query.filter(mr::level.eq(level.as_str()));
    }
    if let Some(code) = &filter.under {
        let root = find_org(conn, vis, code)?;
        // Where the member was at the rating year's end (today without a year).
        let day = filter.year.map(year_end).unwrap_or_else(far_future);
        let on_roll = memberships::table
            .select(memberships::member_id)
            .filter(memberships::kind.eq("official"))
            .filter(memberships::valid_from.le(day))
            .filter(
                memberships::valid_to
                    .is_null()
                    .or(memberships::valid_to.gt(day)),
            )
            .filter(memberships::organization_id.eq_any(descendants!(root.id, 0, i32::MAX, day)));
        query = query.filter(mr::member_id.eq_any(on_roll));
    }
    if let Some((year, key)) = year_cursor(&filter.cursor)? {
        query = query.filter(
            mr::year
                .gt(year)
                .or(mr::year.eq(year).and(members::profile_number.gt(key))),
        );
    }
    let rows: Vec<MemberRatingRow> = query
        .order((mr::year.asc(), members::profile_number.asc()))
        .limit(filter.limit as i64 + 1)
        .load(conn)?;
    let page = Page::from_rows(
        rows.into_iter().map(member_view).collect(),
        filter.limit,
        |r: &MemberRating| serde_json::to_string(&(r.year, &r.profile_number)).expect("serialises"),
    );
    Ok(page)
}

type OrgRatingRow = (
    i64,
    String,
    String,
    String,
    i32,
    String,
    Option<i32>,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    i64,
    NaiveDateTime,
    NaiveDateTime,
);

macro_rules! org_rating_columns {
    () => {
        (
            orr::id,
            orgs::code,
            orgs::name,
            orgs::kind,
            orr::year,
            orr::level,
            orr::score,
            orr::reason,
            orr::decided_on,
            orr::override_reason,
            orr::version,
            orr::created_at,
            orr::updated_at,
        )
    };
}

fn org_view(row: OrgRatingRow) -> OrganizationRating {
    let (
        _,
        organization_code,
        name,
        kind,
        year,
        level,
        score,
        reason,
        decided_on,
        override_reason,
        version,
        created_at,
        updated_at,
    ) = row;
    OrganizationRating {
        organization_code,
        name,
        kind: OrgKind::parse(&kind).expect("CHECK-constrained"),
        year,
        level: Level::parse(&level).expect("CHECK-constrained"),
        score,
        reason,
        decided_on,
        override_reason,
        version,
        created_at,
        updated_at,
        warnings: Vec::new(),
    }
}

fn load_org_rating(
    conn: &mut DbConn,
    org_id: i64,
    year: i32,
) -> Result<Option<OrganizationRating>> {
    Ok(orr::table
        .inner_join(orgs::table)
        .filter(orr::organization_id.eq(org_id))
        .filter(orr::year.eq(year))
        .select(org_rating_columns!())
        .first::<OrgRatingRow>(conn)
        .optional()?
        .map(org_view))
}

fn org_reference(conn: &mut DbConn, vis: Visibility, code: &str) -> Result<OrgRow> {
    find_org(conn, vis, code).map_err(crate::error::missing_reference(
        "organization_code",
        "rating.organization_not_found",
        format!("There is no organisation with code {code}."),
    ))
}

fn check_org(conn: &mut DbConn, org: &OrgRow, year: i32, input: &RatingInput) -> Result<()> {
    check_common(year, input)?;
    if input.override_reason.is_none() {
        let facts = organization_facts(conn, org, year)?;
        rules::check_organization_rating(year, input.level, &facts)?;
    }
    Ok(())
}

fn insert_org_rating(
    conn: &mut DbConn,
    org: &OrgRow,
    year: i32,
    input: &RatingInput,
) -> Result<()> {
    if load_org_rating(conn, org.id, year)?.is_some() {
        return Err(Error::invalid(
            "year",
            "rating.exists",
            format!("{} has a rating for {year}; correct it instead.", org.code),
        ));
    }
    check_org(conn, org, year, input)?;
    let now = crate::time::now();
    diesel::insert_into(orr::table)
        .values((
            orr::organization_id.eq(org.id),
            orr::year.eq(year),
            orr::level.eq(input.level.as_str()),
            orr::score.eq(input.score),
            orr::reason.eq(&input.reason),
            orr::decided_on.eq(input.decided_on),
            orr::override_reason.eq(&input.override_reason),
            orr::version.eq(1i64),
            orr::created_at.eq(now),
            orr::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = orr, treat_none_as_default_value = false)]
struct OrgRatingInsert<'a> {
    organization_id: i64,
    year: i32,
    level: &'static str,
    score: Option<i32>,
    reason: Option<&'a str>,
    decided_on: Option<Day>,
    override_reason: Option<&'a str>,
    version: i64,
    created_at: Stamp,
    updated_at: Stamp,
}

/// Ratings of many organisations entered together (the bulk import, which found the
/// organisations in the caller's scope): the checks of `create_org_rating`, with the recorded
/// ratings and each year's facts looked up once for the batch, and one multi-row insert. One
/// result per item, in order; `rating.exists` for an organisation rated already in that year
/// (the import updates those one by one). No quota warnings: nothing reads them here.
pub fn create_org_ratings_many(
    conn: &mut DbConn,
    items: &[(&OrgRow, i32, RatingInput)],
) -> Result<Vec<Result<()>>> {
    crate::db::write_transaction(conn, |conn| {
        let ids: Vec<i64> = items.iter().map(|(o, _, _)| o.id).collect();
        let rated: HashSet<(i64, i32)> = orr::table
            .filter(orr::organization_id.eq_any(&ids))
            .select((orr::organization_id, orr::year))
            .load::<(i64, i32)>(conn)?
            .into_iter()
            .collect();
        let mut years: Vec<i32> = items.iter().map(|(_, y, _)| *y).collect();
        years.sort_unstable();
        years.dedup();
        let mut facts: HashMap<(i64, i32), OrganizationFacts> = HashMap::new();
        for year in years {
            let of_year: Vec<&OrgRow> = items
                .iter()
                .filter(|(_, y, input)| *y == year && input.override_reason.is_none())
                .map(|(o, _, _)| *o)
                .collect();
            if of_year.is_empty() {
                continue;
            }
            for (id, f) in organization_facts_many(conn, &of_year, year)? {
                facts.insert((id, year), f);
            }
        }

        let mut results = Vec::with_capacity(items.len());
        let mut rows = Vec::new();
        let now = crate::time::now();
        for (org, year, input) in items {
            let check = || -> Result<()> {
                if rated.contains(&(org.id, *year)) {
                    return Err(Error::invalid(
                        "year",
                        "rating.exists",
                        format!("{} has a rating for {year}; correct it instead.", org.code),
                    ));
                }
                check_common(*year, input)?;
                if let Some(facts) = facts.get(&(org.id, *year)) {
                    rules::check_organization_rating(*year, input.level, facts)?;
                }
                Ok(())
            };
            match check() {
                Ok(()) => {
                    rows.push(OrgRatingInsert {
                        organization_id: org.id,
                        year: *year,
                        level: input.level.as_str(),
                        score: input.score,
                        reason: input.reason.as_deref(),
                        decided_on: input.decided_on.map(Day),
                        override_reason: input.override_reason.as_deref(),
                        version: 1,
                        created_at: Stamp(now),
                        updated_at: Stamp(now),
                    });
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if !rows.is_empty() {
            crate::bulk_insert!(conn, orr::table, &rows)?;
        }
        Ok(results)
    })
}

pub fn create_org_rating(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    year: i32,
    input: RatingInput,
) -> Result<OrganizationRating> {
    crate::db::write_transaction(conn, |conn| {
        let org = org_reference(conn, vis, code)?;
        crate::db::lock_row(conn, "organizations", org.id)?;
        insert_org_rating(conn, &org, year, &input)?;
        let mut rating = load_org_rating(conn, org.id, year)?.expect("just written");
        rating.warnings = organization_quota(conn, &org, year)?;
        Ok(rating)
    })
}

pub fn create_org_ratings(
    conn: &mut DbConn,
    vis: Visibility,
    year: i32,
    items: Vec<(String, RatingInput)>,
) -> Result<(usize, Vec<Warning>)> {
    crate::db::write_transaction(conn, |conn| {
        let mut rated = Vec::new();
        let count = batch(items, |i, (code, input)| {
            let org = org_reference(conn, vis, &code).map_err(|e| in_batch(i, e))?;
            crate::db::lock_row(conn, "organizations", org.id)?;
            insert_org_rating(conn, &org, year, &input).map_err(|e| in_batch(i, e))?;
            rated.push(org);
            Ok(())
        })?;
        let mut warnings: Vec<Warning> = Vec::new();
        for org in rated {
            for w in organization_quota(conn, &org, year)? {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        Ok((count, warnings))
    })
}

pub fn get_org_rating(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    year: i32,
) -> Result<OrganizationRating> {
    let org = find_org(conn, vis, code)?;
    load_org_rating(conn, org.id, year)?
        .ok_or_else(|| Error::not_found(format!("{code} has no rating for {year}.")))
}

pub fn update_org_rating(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    year: i32,
    expected_version: i64,
    patch: RatingPatch,
) -> Result<OrganizationRating> {
    crate::db::write_transaction(conn, |conn| {
        let org = find_org(conn, vis, code)?;
        crate::db::lock_row(conn, "organizations", org.id)?;
        let current = load_org_rating(conn, org.id, year)?
            .ok_or_else(|| Error::not_found(format!("{code} has no rating for {year}.")))?;
        check_version(expected_version, current.version)?;
        let input = RatingInput {
            level: patch.level.unwrap_or(current.level),
            score: patch.score.unwrap_or(current.score),
            reason: patch.reason.unwrap_or(current.reason),
            self_corrected: false,
            decided_on: patch.decided_on.unwrap_or(current.decided_on),
            override_reason: patch.override_reason,
        };
        check_org(conn, &org, year, &input)?;
        diesel::update(
            orr::table
                .filter(orr::organization_id.eq(org.id))
                .filter(orr::year.eq(year)),
        )
        .set((
            orr::level.eq(input.level.as_str()),
            orr::score.eq(input.score),
            orr::reason.eq(&input.reason),
            orr::decided_on.eq(input.decided_on),
            orr::override_reason.eq(&input.override_reason),
            orr::version.eq(current.version + 1),
            orr::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
        let mut rating = load_org_rating(conn, org.id, year)?.expect("just written");
        rating.warnings = organization_quota(conn, &org, year)?;
        Ok(rating)
    })
}

pub fn list_org_ratings(
    conn: &mut DbConn,
    vis: Visibility,
    filter: RatingFilter,
) -> Result<Page<OrganizationRating>> {
    let mut query = orr::table
        .inner_join(orgs::table)
        .select(org_rating_columns!())
        .into_boxed::<MultiBackend>();
    if let Visibility::Subtree(scope) = vis {
        query = query.filter(orr::organization_id.eq_any(descendants!(
            scope,
            0,
            i32::MAX,
            far_future()
        )));
    }
    if let Some(year) = filter.year {
        query = query.filter(orr::year.eq(year));
    }
    if let Some(level) = filter.level {
        query = query.filter(orr::level.eq(level.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(orgs::kind.eq(kind.as_str()));
    }
    if let Some(code) = &filter.under {
        let root = find_org(conn, vis, code)?;
        let day = filter.year.map(year_end).unwrap_or_else(far_future);
        query = query.filter(orr::organization_id.eq_any(descendants!(root.id, 0, i32::MAX, day)));
    }
    if let Some((year, key)) = year_cursor(&filter.cursor)? {
        query = query.filter(
            orr::year
                .gt(year)
                .or(orr::year.eq(year).and(orgs::code.gt(key))),
        );
    }
    let rows: Vec<OrgRatingRow> = query
        .order((orr::year.asc(), orgs::code.asc()))
        .limit(filter.limit as i64 + 1)
        .load(conn)?;
    Ok(Page::from_rows(
        rows.into_iter().map(org_view).collect(),
        filter.limit,
        |r: &OrganizationRating| {
            serde_json::to_string(&(r.year, &r.organization_code)).expect("serialises")
        },
    ))
}

/// For a new disciplinary decision: the ratings it would contradict (written second, the
/// discipline is refused with the rating's rule). `member` or `org` is the subject.
pub fn check_discipline_against_ratings(
    conn: &mut DbConn,
    member: Option<&MemberRow>,
    org: Option<&OrgRow>,
    decided_on: NaiveDate,
) -> Result<()> {
    use chrono::Datelike;
    let year = decided_on.year();
    let to_decided = |v: RuleViolation| {
        Error::from(RuleViolation {
            field: "decided_on",
            ..v
        })
    };
    if let Some(member) = member {
        if let Some(rating) = load_member_rating(conn, member.id, year)? {
            if rating.override_reason.is_none() {
                let mut facts = member_facts(conn, member, year)?;
                facts.disciplined_in_year = true;
                rules::check_member_rating(year, rating.level, rating.self_corrected, &facts)
                    .map_err(to_decided)?;
            }
        }
    }
    if let Some(org) = org {
        if let Some(rating) = load_org_rating(conn, org.id, year)? {
            if rating.override_reason.is_none() {
                let mut facts = organization_facts(conn, org, year)?;
                facts.disciplined_in_year = true;
                rules::check_organization_rating(year, rating.level, &facts).map_err(to_decided)?;
            }
        }
        // The parent's rating counts its disciplined subordinates.
        let parent: Option<OrgRow> = tree::table
            .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
            .filter(tree::descendant_id.eq(org.id))
            .filter(tree::depth.eq(1))
            .filter(tree::valid_from.le(decided_on))
            .filter(tree::valid_to.is_null().or(tree::valid_to.gt(decided_on)))
            .select(OrgRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(parent) = parent {
            if let Some(rating) = load_org_rating(conn, parent.id, year)? {
                if rating.override_reason.is_none() {
                    let mut facts = organization_facts(conn, &parent, year)?;
                    let already: i64 = disciplined_in!(year)
                        .filter(actions::organization_id.eq(org.id))
                        .count()
                        .get_result(conn)?;
                    if already == 0 {
                        facts.subordinates_disciplined += 1;
                    }
                    rules::check_organization_rating(year, rating.level, &facts)
                        .map_err(to_decided)?;
                }
            }
        }
    }
    Ok(())
}

/// After a change to a member's record (an exemption, a new admission date), the ratings
/// already entered must still hold: written second, the change is refused with the rating's
/// rule, on `field`. Ratings recorded with an override are left as decided.
pub fn recheck_member_ratings(
    conn: &mut DbConn,
    member: &MemberRow,
    from_year: i32,
    field: &'static str,
) -> Result<()> {
    let entered: Vec<(i32, String, bool)> = mr::table
        .filter(mr::member_id.eq(member.id))
        .filter(mr::year.ge(from_year))
        .filter(mr::override_reason.is_null())
        .select((mr::year, mr::level, mr::self_corrected))
        .load(conn)?;
    for (year, level, self_corrected) in entered {
        let level = Level::parse(&level).expect("CHECK-constrained");
        let facts = member_facts(conn, member, year)?;
        rules::check_member_rating(year, level, self_corrected, &facts)
            .map_err(|v| Error::from(RuleViolation { field, ..v }))?;
    }
    Ok(())
}
