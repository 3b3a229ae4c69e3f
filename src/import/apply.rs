//! One row of an import: read into the single-record API's request struct (`prepare`: the same
//! normalisation, validation and override check), then written through the same store
//! functions. An existing key is compared with what is recorded: equal is `Unchanged`, a change
//! the API would make by an update is made the same way, and a change the API does not allow
//! as an edit (a decision's form, an organisation's kind) is a row error.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::columns::{same, Row};
use super::{Kind, Mode, Outcome};
use crate::api::discipline::{ActionCreate, AppealRequest};
use crate::api::insignia::AwardCreate;
use crate::api::members::{
    ExemptionRequest, GapRequest, MemberCreate, PositionRequest, TransferRequest,
};
use crate::api::organizations::{MoveRequest, OrganizationCreate};
use crate::api::ratings::{MemberRatingCreate, OrgRatingCreate};
use crate::api::targets::TargetCreate;
use crate::auth::{Caller, Visibility};
use crate::db::schema::{
    disciplinary_actions as actions, insignia_awards as awards, member_exemptions as exemptions,
    memberships, organizations as orgs, positions,
};
use crate::db::DbConn;
use crate::domain::discipline::SubjectType;
use crate::domain::member::LeaveReason;
use crate::error::{Error, Result};
use crate::store::members::{self as member_store, MemberPatch, MemberRow};
use crate::store::organizations::{self as org_store, OrganizationPatch};
use crate::store::{discipline as discipline_store, insignia as insignia_store};
use crate::store::{ratings as rating_store, targets as target_store};

pub struct Context<'a> {
    pub caller: &'a Caller,
    pub vis: Visibility,
    pub mode: Mode,
    pub by: String,
    /// The summary changes of the whole import, added before it commits: new members,
    /// ratings, decisions and insignia (a row that fails may leave its changes here, but a
    /// failed row rejects the whole import, which then rolls back without adding them).
    pub summaries: std::sync::Mutex<crate::store::summaries::Batch>,
}

pub fn row(conn: &mut DbConn, ctx: &Context, kind: Kind, row: &Row) -> Result<Outcome> {
    match kind {
        Kind::Organizations | Kind::Members | Kind::MemberRatings | Kind::OrganizationRatings => {
            unreachable!("{kind} rows are written in batches")
        }
        Kind::OrganizationMoves => organization_move(conn, ctx, row),
        Kind::Exemptions => exemption(conn, ctx, row),
        Kind::PartyAgeGaps => party_age_gap(conn, ctx, row),
        Kind::Positions => position(conn, ctx, row),
        Kind::Transfers => transfer(conn, ctx, row),
        Kind::DisciplinaryActions => action(conn, ctx, row),
        Kind::InsigniaAwards => award(conn, ctx, row),
        Kind::AdmissionTargets => target(conn, ctx, row),
    }
}

/// `mode=insert` refuses a key that exists.
fn may_update(ctx: &Context, field: &str) -> Result<()> {
    match ctx.mode {
        Mode::Upsert => Ok(()),
        Mode::Insert => Err(Error::invalid(
            field,
            "import.exists",
            "This record exists already; import with mode=upsert to update it.",
        )),
    }
}

fn conflict(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(field, "import.conflicts_with_record", message)
}

/// Whether the row states a value (`Some`) other than the recorded one: a cell left empty
/// states nothing.
fn states_otherwise<T: PartialEq>(given: &Option<T>, recorded: &Option<T>) -> bool {
    given.is_some() && given != recorded
}

/// Refuses the first of `checks` (column, whether the row differs from the record) that
/// differs, with `message` for its column: what no API edits is not reported unchanged.
fn refuse_differences(checks: &[(&str, bool)], message: impl Fn(&str) -> String) -> Result<()> {
    match checks.iter().find(|(_, differs)| *differs) {
        Some((column, _)) => Err(conflict(column, message(column))),
        None => Ok(()),
    }
}

fn updated_if(changed: bool) -> Outcome {
    if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    }
}

/// The text of a required column (checked present by `columns::typed`).
fn required<'r>(row: &'r Row, column: &str) -> &'r str {
    row.text(column).unwrap_or_default()
}

fn member_reference(conn: &mut DbConn, ctx: &Context, profile_number: &str) -> Result<MemberRow> {
    member_store::find_visible(conn, ctx.vis, profile_number).map_err(|e| match e {
        Error::NotFound(_) => member_missing(profile_number),
        other => other,
    })
}

fn member_missing(profile_number: &str) -> Error {
    Error::invalid(
        "profile_number",
        "member.not_found",
        format!("There is no member with profile number {profile_number}."),
    )
}

/// An organisation row read into the single-record API's creation.
fn prepare_organization(ctx: &Context, row: &Row) -> Result<org_store::NewOrganization> {
    row.request::<OrganizationCreate>(&same(&[
        "code",
        "name",
        "kind",
        "parent_code",
        "established_on",
        "dissolved_on",
        "has_branch_committee",
    ]))?
    .prepare(ctx.caller)
}

/// A batch of rows on its way to a store's `*_many` writer: each row's answer so far (`None`:
/// the writer's to give) and, for those, which row each of the writer's items came from.
struct Pending {
    rows: Vec<Row>,
    results: Vec<Option<Result<Outcome>>>,
    slots: Vec<usize>,
}

/// Splits the rows' prepared items into the writer's items and the rows refused already.
fn pending<T>(rows: Vec<Row>, prepared: impl IntoIterator<Item = Result<T>>) -> (Pending, Vec<T>) {
    let mut batch = Pending {
        results: Vec::with_capacity(rows.len()),
        slots: Vec::new(),
        rows,
    };
    let mut items = Vec::new();
    for (i, p) in prepared.into_iter().enumerate() {
        match p {
            Err(e) => batch.results.push(Some(Err(e))),
            Ok(item) => {
                batch.results.push(None);
                batch.slots.push(i);
                items.push(item);
            }
        }
    }
    (batch, items)
}

impl Pending {
    /// Takes the writer's answers, one per item: written is `Inserted`; a key recorded already
    /// (`recorded`: the writer's error code for it) goes to `one_by_one`, which compares the row
    /// with the record and updates it the way the API would, in a savepoint of its own. One
    /// result per row, in order.
    fn settle<W>(
        mut self,
        conn: &mut DbConn,
        written: Vec<Result<W>>,
        recorded: &str,
        mut one_by_one: impl FnMut(&mut DbConn, &Row) -> Result<Outcome>,
    ) -> Vec<(Row, Result<Outcome>)> {
        for (i, result) in self.slots.into_iter().zip(written) {
            self.results[i] = match result {
                Ok(_) => Some(Ok(Outcome::Inserted)),
                Err(e) if has_code(&e, recorded) => None,
                Err(e) => Some(Err(e)),
            };
        }
        self.rows
            .into_iter()
            .zip(self.results)
            .map(|(row, result)| {
                let result = match result {
                    Some(r) => r,
                    None => crate::db::savepoint(conn, |conn| one_by_one(conn, &row)),
                };
                (row, result)
            })
            .collect()
    }
}

/// Organisation rows, a batch at a time: new organisations are created together
/// (`store::organizations::create_many`: the checks of one creation, a parent may be an earlier
/// row of the batch); rows of recorded organisations are compared and updated one by one
/// after the batch's creations. One result per row, in order.
pub fn organization_batch(
    conn: &mut DbConn,
    ctx: &Context,
    rows: Vec<Row>,
) -> Result<Vec<(Row, Result<Outcome>)>> {
    let prepared: Vec<_> = rows
        .iter()
        .map(|row| prepare_organization(ctx, row))
        .collect();
    let (batch, news) = pending(rows, prepared);
    let created = org_store::create_many(conn, ctx.vis, news)?;
    Ok(
        batch.settle(conn, created, "organization.code_taken", |conn, row| {
            update_organization(conn, ctx, row)
        }),
    )
}

/// Whether a refusal carries `code`.
fn has_code(e: &Error, code: &str) -> bool {
    matches!(e, Error::Unprocessable(list) if list.iter().any(|f| f.code == code))
}

/// The row of a recorded organisation (`organization_batch` found its code taken): compared
/// with the record and updated the way the API would.
fn update_organization(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let new = prepare_organization(ctx, row)?;
    // Found first: a code recorded outside the caller's scope is `scope`, in either mode.
    let current = org_store::get(conn, ctx.vis, &new.code)?;
    may_update(ctx, "code")?;
    if current.kind != new.kind {
        return Err(conflict(
            "kind",
            format!("{} is recorded as {}.", current.code, current.kind),
        ));
    }
    if current.established_on != new.established_on {
        return Err(conflict(
            "established_on",
            format!(
                "{} is recorded as established on {}.",
                current.code, current.established_on
            ),
        ));
    }
    // The row's parent is one the organisation has been recorded under: the first, as exports
    // write it (its moves are `organization-moves` rows), or a later one.
    let parents = recorded_parents(conn, &current.code)?;
    if new
        .parent_code
        .as_ref()
        .is_some_and(|p| !parents.iter().any(|(recorded, _)| recorded == p))
    {
        return Err(conflict(
            "parent_code",
            format!(
                "{} sits under {}; a move is recorded with POST /api/v1/organizations/{}/move.",
                current.code,
                current.parent_code.as_deref().unwrap_or("no parent"),
                current.code
            ),
        ));
    }
    let patch = OrganizationPatch {
        name: (new.name != current.name).then(|| new.name.clone()),
        has_branch_committee: row
            .bool("has_branch_committee")
            .filter(|b| *b != current.has_branch_committee),
    };
    let mut changed = false;
    if patch.name.is_some() || patch.has_branch_committee.is_some() {
        org_store::update(conn, ctx.vis, &current.code, current.version, patch)?;
        changed = true;
    }
    match (new.dissolved_on, current.dissolved_on) {
        (Some(on), None) => {
            org_store::dissolve(conn, ctx.vis, &current.code, on)?;
            changed = true;
        }
        (Some(on), Some(recorded)) if on != recorded => {
            return Err(conflict(
                "dissolved_on",
                format!("{} is recorded as dissolved on {recorded}.", current.code),
            ))
        }
        _ => {}
    }
    Ok(updated_if(changed))
}

const MEMBER_FIELDS: &[&str] = &[
    "profile_number",
    "card_number",
    "full_name",
    "gender",
    "born_on",
    "ethnicity",
    "religion",
    "national_id",
    "organization_code",
    "organization_since",
    "admitted_on",
    "ceremony_on",
    "official_on",
    "exempt_since",
    "override_reason",
];

/// A member row read into the single-record API's admission, with the departure it states
/// (made on the reading thread: [`member_store::Admission`]).
pub fn prepare_member(ctx: &Context, row: &Row) -> Result<member_store::Admission> {
    let new = row
        .request::<MemberCreate>(&same(MEMBER_FIELDS))?
        .prepare(ctx.caller)?;
    let leave = match (row.date("left_on"), row.text("leave_reason")) {
        (None, None) => None,
        (Some(on), Some(reason)) => Some((LeaveReason::parse(reason).expect("typed"), on)),
        (Some(_), None) => {
            return Err(Error::invalid(
                "leave_reason",
                "required",
                "A member who left the roll has a leave_reason.",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "left_on",
                "required",
                "A leave_reason needs the day the member left (left_on).",
            ))
        }
    };
    Ok(member_store::Admission::new(new, leave))
}

/// Member rows, a batch at a time: new members are admitted together, with the departure a
/// row states (`store::members::create_many`, the same checks as one admission and one
/// departure, looked up once for the batch); rows of recorded members go one by one. One
/// result per row, in order.
pub fn member_batch(
    conn: &mut DbConn,
    ctx: &Context,
    known_orgs: &mut org_store::Known,
    batch: Vec<(Row, Result<member_store::Admission>)>,
) -> Result<Vec<(Row, Result<Outcome>)>> {
    let (rows, prepared): (Vec<Row>, Vec<_>) = batch.into_iter().unzip();
    let (batch, news) = pending(rows, prepared);
    let admitted = member_store::create_many(
        conn,
        ctx.vis,
        news,
        known_orgs,
        &ctx.by,
        &mut ctx.summaries.lock().expect("one writer"),
    )?;
    Ok(batch.settle(
        conn,
        admitted,
        "member.profile_number_taken",
        |conn, row| update_member(conn, ctx, row),
    ))
}

/// The row of a recorded member (`member_batch` found its profile number taken): compared
/// with the record and updated the way the API would.
fn update_member(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let member_store::Admission {
        new, left: leave, ..
    } = prepare_member(ctx, row)?;
    let pn = new.profile_number.clone();
    // Found first: a number recorded outside the caller's scope is `scope`, in either mode.
    let current = member_store::find_visible(conn, ctx.vis, &pn)?;
    may_update(ctx, "profile_number")?;

    // The row's organisation is one of the member's official memberships (the first, as
    // exports write it, or a later one); moves are the transfers import's business.
    let official: Vec<(String, NaiveDate)> = memberships::table
        .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
        .filter(memberships::member_id.eq(current.id))
        .filter(memberships::kind.eq("official"))
        .select((orgs::code, memberships::valid_from))
        .load(conn)?;
    let agrees = official.iter().any(|(code, from)| {
        *code == new.organization_code && new.organization_since.is_none_or(|s| s == *from)
    });
    if !agrees {
        return Err(conflict(
            "organization_code",
            format!(
                "{pn} has no membership of {} from that day; moves are imported as transfers.",
                new.organization_code
            ),
        ));
    }

    // An absent optional cell keeps what is recorded: a spreadsheet without national ids
    // does not erase them.
    fn changed<T: PartialEq + Clone>(new: &Option<T>, current: &Option<T>) -> Option<Option<T>> {
        new.as_ref()
            .filter(|v| Some(*v) != current.as_ref())
            .map(|v| Some(v.clone()))
    }
    let patch = MemberPatch {
        card_number: changed(&new.card_number, &current.card_number),
        full_name: (new.full_name != current.full_name).then(|| new.full_name.clone()),
        gender: (new.gender.as_str() != current.gender).then_some(new.gender),
        born_on: (new.born_on != current.born_on).then_some(new.born_on),
        ethnicity: changed(&new.ethnicity, &current.ethnicity),
        religion: changed(&new.religion, &current.religion),
        national_id: changed(&new.national_id, &current.national_id),
        admitted_on: (new.admitted_on != current.admitted_on).then_some(new.admitted_on),
        ceremony_on: changed(&new.ceremony_on, &current.ceremony_on),
        override_reason: new.override_reason.clone(),
    };
    let mut any = patch.card_number.is_some()
        || patch.full_name.is_some()
        || patch.gender.is_some()
        || patch.born_on.is_some()
        || patch.ethnicity.is_some()
        || patch.religion.is_some()
        || patch.national_id.is_some()
        || patch.admitted_on.is_some()
        || patch.ceremony_on.is_some();
    if any {
        member_store::update(conn, ctx.vis, &pn, current.version, patch, &ctx.by)?;
    }
    match (new.official_on, current.official_on) {
        (Some(on), None) => {
            member_store::recognise(conn, ctx.vis, &pn, Some(on), &ctx.by)?;
            any = true;
        }
        (Some(on), Some(recorded)) if on != recorded => {
            return Err(conflict(
                "official_on",
                format!("{pn} is recorded as a full member from {recorded}."),
            ))
        }
        _ => {}
    }
    if let Some(since) = new.exempt_since {
        let recorded: i64 = exemptions::table
            .filter(exemptions::member_id.eq(current.id))
            .filter(exemptions::starts_on.eq(since))
            .count()
            .get_result(conn)?;
        if recorded == 0 {
            member_store::exempt(conn, ctx.vis, &pn, since, None, &ctx.by)?;
            any = true;
        }
    }
    match (leave, current.left_on) {
        (Some((reason, on)), None) => {
            member_store::leave_recorded(conn, ctx.vis, &pn, reason, on, &ctx.by)?;
            any = true;
        }
        (Some((reason, on)), Some(left)) => {
            if left != on || current.leave_reason.as_deref() != Some(reason.as_str()) {
                return Err(conflict(
                    "left_on",
                    format!(
                        "{pn} is recorded as off the roll on {left} ({}).",
                        current.leave_reason.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
        (None, _) => {}
    }
    Ok(updated_if(any))
}

fn position(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let pn = required(row, "profile_number");
    let new = row
        .request::<PositionRequest>(&[
            ("title", "title"),
            ("organization_code", "organization_code"),
            ("from", "starts_on"),
            ("to", "ends_on"),
        ])?
        .prepare()?;
    let member = member_reference(conn, ctx, pn)?;
    let recorded: Option<(Option<String>, Option<NaiveDate>)> = positions::table
        .left_join(orgs::table.on(orgs::id.nullable().eq(positions::organization_id)))
        .filter(positions::member_id.eq(member.id))
        .filter(positions::title.eq(&new.title))
        .filter(positions::starts_on.eq(new.starts_on))
        .select((orgs::code.nullable(), positions::ends_on))
        .first(conn)
        .optional()?;
    let Some((org, ends_on)) = recorded else {
        member_store::add_position(conn, ctx.vis, pn, new, &ctx.by)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "title")?;
    if states_otherwise(&new.organization_code, &org) {
        return Err(conflict(
            "organization_code",
            "The position is recorded in another organisation.",
        ));
    }
    match (new.ends_on, ends_on) {
        (Some(to), None) => {
            member_store::end_position(conn, ctx.vis, pn, &new.title, to, &ctx.by)?;
            Ok(Outcome::Updated)
        }
        (Some(to), Some(recorded)) if to != recorded => Err(conflict(
            "to",
            format!("The position is recorded as ended on {recorded}."),
        )),
        _ => Ok(Outcome::Unchanged),
    }
}

// The organisation whose parents `recorded_parents` reads, beside the parents themselves.
diesel::alias!(crate::db::schema::organizations as child: ChildOrganization);

/// The parents organisation `code` has been recorded under, from its establishment on:
/// `(parent code, from)`, in date order; one statement.
fn recorded_parents(conn: &mut DbConn, code: &str) -> Result<Vec<(String, NaiveDate)>> {
    use crate::db::schema::organization_tree as tree;
    Ok(tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .inner_join(child.on(child.field(orgs::id).eq(tree::descendant_id)))
        .filter(child.field(orgs::code).eq(code))
        .filter(tree::depth.eq(1))
        .order(tree::valid_from)
        .select((orgs::code, tree::valid_from))
        .load(conn)?)
}

/// A move of an organisation under another parent, as `POST /organizations/{code}/move`
/// records it; a move recorded on that day under the same parent is unchanged.
fn organization_move(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let code = required(row, "code");
    let request = row.request::<MoveRequest>(&same(&["parent_code", "on"]))?;
    let (parent_code, on) = request.prepare();
    let org = org_store::find_visible(conn, ctx.vis, code).map_err(|e| match e {
        Error::NotFound(_) => Error::invalid(
            "code",
            "organization.not_found",
            format!("There is no organisation with code {code}."),
        ),
        other => other,
    })?;
    let recorded = recorded_parents(conn, &org.code)?
        .into_iter()
        .find(|(_, from)| *from == on);
    let Some((recorded, _)) = recorded else {
        org_store::move_to(conn, ctx.vis, &org.code, &parent_code, on)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "on")?;
    if recorded != parent_code {
        return Err(conflict(
            "parent_code",
            format!("{} is recorded under {recorded} from {on}.", org.code),
        ));
    }
    Ok(Outcome::Unchanged)
}

fn exemption(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let pn = required(row, "profile_number");
    let (period, reason) = row
        .request::<ExemptionRequest>(&[
            ("from", "starts_on"),
            ("to", "ends_on"),
            ("reason", "reason"),
        ])?
        .prepare()?;
    let member = member_reference(conn, ctx, pn)?;
    let recorded: Option<(Option<NaiveDate>, Option<String>)> = exemptions::table
        .filter(exemptions::member_id.eq(member.id))
        .filter(exemptions::starts_on.eq(period.0))
        .select((exemptions::ends_on, exemptions::reason))
        .first(conn)
        .optional()?;
    let Some((ends_on, recorded_reason)) = recorded else {
        member_store::record_exemption(conn, ctx.vis, pn, period, reason, &ctx.by)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "from")?;
    // A members file's `exempt_since` records the period without a reason: the exemptions
    // row that follows gives it. A reason recorded already is not edited.
    let mut changed = false;
    match (&reason, &recorded_reason) {
        (Some(reason), None) => {
            member_store::give_exemption_reason(conn, &member, period.0, reason)?;
            changed = true;
        }
        (Some(reason), Some(recorded)) if reason != recorded => {
            return Err(conflict(
                "reason",
                "The exemption is recorded with another reason.",
            ))
        }
        _ => {}
    }
    match (period.1, ends_on) {
        (Some(to), None) => {
            member_store::end_exemption(conn, ctx.vis, pn, to, &ctx.by)?;
            Ok(Outcome::Updated)
        }
        (Some(to), Some(recorded)) if to != recorded => Err(conflict(
            "to",
            format!("The exemption is recorded as ended on {recorded}."),
        )),
        _ => Ok(updated_if(changed)),
    }
}

/// A party-age gap as `POST /members/{profile_number}/party-age-gaps` records it; no API edits
/// one, so a row that states a recorded gap differently is refused.
fn party_age_gap(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    use crate::db::schema::party_age_gaps as gaps;
    let pn = required(row, "profile_number");
    let gap = row
        .request::<GapRequest>(&[
            ("reason", "reason"),
            ("from", "starts_on"),
            ("to", "ends_on"),
            ("note", "note"),
        ])?
        .prepare()?;
    let member = member_reference(conn, ctx, pn)?;
    let recorded: Option<(String, Option<NaiveDate>, Option<String>)> = gaps::table
        .filter(gaps::member_id.eq(member.id))
        .filter(gaps::starts_on.eq(gap.starts_on))
        .select((gaps::reason, gaps::ends_on, gaps::note))
        .first(conn)
        .optional()?;
    let Some((reason, ends_on, note)) = recorded else {
        member_store::add_gap(conn, ctx.vis, pn, gap, &ctx.by)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "from")?;
    refuse_differences(
        &[
            ("reason", reason != gap.reason.as_str()),
            ("to", ends_on != gap.ends_on),
            ("note", states_otherwise(&gap.note, &note)),
        ],
        |column| {
            format!(
                "The gap from {} is recorded with another {column}.",
                gap.starts_on
            )
        },
    )?;
    Ok(Outcome::Unchanged)
}

fn transfer(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let pn = required(row, "profile_number");
    let new = row
        .request::<TransferRequest>(&same(&["organization_code", "on", "kind", "until"]))?
        .prepare();
    let member = member_reference(conn, ctx, pn)?;
    let recorded: Option<(String, Option<NaiveDate>)> = memberships::table
        .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
        .filter(memberships::member_id.eq(member.id))
        .filter(memberships::kind.eq(new.kind.as_str()))
        .filter(memberships::valid_from.eq(new.on))
        .select((orgs::code, memberships::valid_to))
        .first(conn)
        .optional()?;
    let Some((org, valid_to)) = recorded else {
        let changes = &mut ctx.summaries.lock().expect("one writer");
        member_store::record_transfer(conn, ctx.vis, &member, new, &ctx.by, changes)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "on")?;
    if org != new.organization_code {
        return Err(conflict(
            "organization_code",
            format!("{pn} is recorded in {org} from {}.", new.on),
        ));
    }
    if new.until.is_some() && new.until != valid_to {
        return Err(conflict(
            "until",
            "The temporary activity is recorded with another end.",
        ));
    }
    Ok(Outcome::Unchanged)
}

const RATING_FIELDS: &[&str] = &[
    "year",
    "level",
    "score",
    "reason",
    "decided_on",
    "override_reason",
];

fn rating_patch(
    row: &Row,
    input: &rating_store::RatingInput,
    recorded: (
        crate::domain::rating::Level,
        Option<i32>,
        &Option<String>,
        bool,
        Option<NaiveDate>,
    ),
) -> Option<rating_store::RatingPatch> {
    let (level, score, reason, self_corrected, decided_on) = recorded;
    let patch = rating_store::RatingPatch {
        level: (input.level != level).then_some(input.level),
        score: input.score.filter(|s| Some(*s) != score).map(Some),
        reason: input
            .reason
            .clone()
            .filter(|r| Some(r) != reason.as_ref())
            .map(Some),
        self_corrected: row.bool("self_corrected").filter(|s| *s != self_corrected),
        decided_on: input
            .decided_on
            .filter(|d| Some(*d) != decided_on)
            .map(Some),
        override_reason: input.override_reason.clone(),
    };
    let any = patch.level.is_some()
        || patch.score.is_some()
        || patch.reason.is_some()
        || patch.self_corrected.is_some()
        || patch.decided_on.is_some();
    any.then_some(patch)
}

fn member_rating_request(
    ctx: &Context,
    row: &Row,
) -> Result<(String, i32, rating_store::RatingInput)> {
    let mut fields = same(RATING_FIELDS);
    fields.extend([
        ("profile_number", "profile_number"),
        ("self_corrected", "self_corrected"),
    ]);
    row.request::<MemberRatingCreate>(&fields)?
        .prepare(ctx.caller)
}

/// Member rating rows, a batch at a time: new ratings are checked and inserted together
/// (`store::ratings::create_member_ratings_many`, the checks of one rating with the records
/// looked up once for the batch); rows of recorded ratings go one by one (`member_rating`).
/// One result per row, in order.
pub fn member_rating_batch(
    conn: &mut DbConn,
    ctx: &Context,
    rows: Vec<Row>,
) -> Result<Vec<(Row, Result<Outcome>)>> {
    let prepared: Vec<_> = rows
        .iter()
        .map(|row| member_rating_request(ctx, row))
        .collect();
    let numbers: Vec<&str> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(pn, _, _)| pn.as_str()))
        .collect();
    let found: HashMap<String, MemberRow> =
        member_store::find_visible_many(conn, ctx.vis, &numbers)?
            .into_iter()
            .map(|m| (m.profile_number.clone(), m))
            .collect();
    let prepared = prepared.into_iter().map(|p| {
        let (pn, year, input) = p?;
        let member = found.get(&pn).ok_or_else(|| member_missing(&pn))?;
        Ok((member, year, input))
    });
    let (batch, items) = pending(rows, prepared);
    let written = rating_store::create_member_ratings_many(
        conn,
        &items,
        &mut ctx.summaries.lock().expect("one writer"),
    )?;
    Ok(batch.settle(conn, written, "rating.exists", |conn, row| {
        member_rating(conn, ctx, row)
    }))
}

fn member_rating(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let (pn, year, input) = member_rating_request(ctx, row)?;
    member_reference(conn, ctx, &pn)?;
    match rating_store::get_member_rating(conn, ctx.vis, &pn, year) {
        Err(Error::NotFound(_)) => {
            rating_store::create_member_rating(conn, ctx.vis, &pn, year, input)?;
            Ok(Outcome::Inserted)
        }
        Err(e) => Err(e),
        Ok(current) => {
            may_update(ctx, "year")?;
            let recorded = (
                current.level,
                current.score,
                &current.reason,
                current.self_corrected,
                current.decided_on,
            );
            match rating_patch(row, &input, recorded) {
                None => Ok(Outcome::Unchanged),
                Some(patch) => {
                    rating_store::update_member_rating(
                        conn,
                        ctx.vis,
                        &pn,
                        year,
                        current.version,
                        patch,
                    )?;
                    Ok(Outcome::Updated)
                }
            }
        }
    }
}

fn organization_rating_request(
    ctx: &Context,
    row: &Row,
) -> Result<(String, i32, rating_store::RatingInput)> {
    let mut fields = same(RATING_FIELDS);
    fields.push(("organization_code", "organization_code"));
    row.request::<OrgRatingCreate>(&fields)?.prepare(ctx.caller)
}

/// Organisation rating rows, a batch at a time: new ratings are written together
/// (`store::ratings::create_org_ratings_many`, the checks of one rating with the records looked
/// up once for the batch); rows of recorded ratings go one by one (`organization_rating`).
/// One result per row, in order.
pub fn organization_rating_batch(
    conn: &mut DbConn,
    ctx: &Context,
    rows: Vec<Row>,
) -> Result<Vec<(Row, Result<Outcome>)>> {
    let prepared: Vec<_> = rows
        .iter()
        .map(|row| organization_rating_request(ctx, row))
        .collect();
    let mut codes: Vec<String> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(code, _, _)| code.clone()))
        .collect();
    codes.sort();
    codes.dedup();
    let found: HashMap<String, org_store::OrgRow> =
        org_store::find_visible_many(conn, ctx.vis, &codes)?
            .into_iter()
            .map(|o| (o.code.clone(), o))
            .collect();
    let prepared = prepared.into_iter().map(|p| {
        let (code, year, input) = p?;
        let org = found.get(&code).ok_or_else(|| {
            Error::invalid(
                "organization_code",
                "rating.organization_not_found",
                format!("There is no organisation with code {code}."),
            )
        })?;
        Ok((org, year, input))
    });
    let (batch, items) = pending(rows, prepared);
    let written = rating_store::create_org_ratings_many(conn, &items)?;
    Ok(batch.settle(conn, written, "rating.exists", |conn, row| {
        organization_rating(conn, ctx, row)
    }))
}

/// The row of a recorded rating (`organization_rating_batch` found it rated): compared with
/// the record and updated the way the API would.
fn organization_rating(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let (code, year, input) = organization_rating_request(ctx, row)?;
    match rating_store::get_org_rating(conn, ctx.vis, &code, year) {
        Err(Error::NotFound(_)) => {
            rating_store::create_org_rating(conn, ctx.vis, &code, year, input)?;
            Ok(Outcome::Inserted)
        }
        Err(e) => Err(e),
        Ok(current) => {
            may_update(ctx, "year")?;
            let recorded = (
                current.level,
                current.score,
                &current.reason,
                false,
                current.decided_on,
            );
            match rating_patch(row, &input, recorded) {
                None => Ok(Outcome::Unchanged),
                Some(patch) => {
                    rating_store::update_org_rating(
                        conn,
                        ctx.vis,
                        &code,
                        year,
                        current.version,
                        patch,
                    )?;
                    Ok(Outcome::Updated)
                }
            }
        }
    }
}

fn action(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let new = row
        .request::<ActionCreate>(&same(&[
            "subject_type",
            "subject",
            "form",
            "decision_number",
            "authority_code",
            "decided_on",
            "announced_on",
            "violation",
            "regulation_article",
            "especially_serious",
            "override_reason",
        ]))?
        .prepare(ctx.caller)?;
    let subject_key = format!("{}:{}", new.subject_type, new.subject);
    let recorded: Option<i64> = actions::table
        .inner_join(orgs::table.on(orgs::id.eq(actions::authority_id)))
        .filter(orgs::code.eq(&new.authority_code))
        .filter(actions::decision_number.eq(&new.decision_number))
        .filter(actions::subject_key.eq(&subject_key))
        .select(actions::id)
        .first(conn)
        .optional()?;
    let Some(id) = recorded else {
        let appeal = appeal_of(row, new.announced_on.unwrap_or(new.decided_on))?;
        let changes = &mut ctx.summaries.lock().expect("one writer");
        let id = discipline_store::record(conn, ctx.vis, new, &ctx.by, changes)?;
        if let Some(appeal) = appeal {
            discipline_store::record_appeal(conn, ctx.vis, id, appeal, &ctx.by, changes)?;
        }
        return Ok(Outcome::Inserted);
    };
    // Found first: a decision recorded outside the caller's scope is `scope`, in either mode.
    let current = discipline_store::get(conn, ctx.vis, id)?;
    may_update(ctx, "decision_number")?;
    if current.form != new.form || current.decided_on != new.decided_on {
        return Err(conflict(
            "form",
            format!(
                "This decision is recorded as {} on {}; a decision is changed by appeal, not by edit.",
                current.form, current.decided_on
            ),
        ));
    }
    // The other facts of a recorded decision: a row that states one differently is refused,
    // not reported unchanged (no API edits a decision).
    let stated = |column: &str| row.states(column);
    refuse_differences(
        &[
            (
                "announced_on",
                states_otherwise(&new.announced_on, &current.announced_on),
            ),
            (
                "violation",
                states_otherwise(&new.violation, &current.violation),
            ),
            (
                "regulation_article",
                states_otherwise(&new.regulation_article, &current.regulation_article),
            ),
            (
                "especially_serious",
                stated("especially_serious")
                    && new.especially_serious != current.especially_serious,
            ),
        ],
        |column| {
            format!("This decision is recorded with another {column}; a recorded decision is not edited.")
        },
    )?;
    // A pending appeal's filing day stands for a row that gives the outcome alone.
    let filed_default = match &current.appeal {
        Some(recorded) => recorded.filed_on,
        None => current.announced_on.unwrap_or(current.decided_on),
    };
    let Some(appeal) = appeal_of(row, filed_default)? else {
        return Ok(Outcome::Unchanged);
    };
    let Some(recorded) = current.appeal else {
        let changes = &mut ctx.summaries.lock().expect("one writer");
        discipline_store::record_appeal(conn, ctx.vis, id, appeal, &ctx.by, changes)?;
        return Ok(Outcome::Updated);
    };
    refuse_differences(
        &[(
            "appeal_filed_on",
            stated("appeal_filed_on") && appeal.filed_on != recorded.filed_on,
        )],
        |column| format!("The appeal is recorded with another {column}."),
    )?;
    match (appeal.outcome, recorded.outcome) {
        // A row of the appeal still pending, or of a pending appeal the file now decides.
        (None, _) => Ok(Outcome::Unchanged),
        (Some(_), None) => {
            let changes = &mut ctx.summaries.lock().expect("one writer");
            discipline_store::record_appeal(conn, ctx.vis, id, appeal, &ctx.by, changes)?;
            Ok(Outcome::Updated)
        }
        (Some(stated_outcome), Some(outcome)) => {
            if stated_outcome != outcome {
                return Err(conflict(
                    "appeal_outcome",
                    format!("The appeal is recorded as {outcome}."),
                ));
            }
            refuse_differences(
                &[
                    (
                        "reduced_form",
                        stated("reduced_form") && appeal.reduced_form != recorded.reduced_form,
                    ),
                    (
                        "appeal_decided_on",
                        stated("appeal_decided_on") && appeal.decided_on != recorded.decided_on,
                    ),
                ],
                |column| format!("The appeal is recorded with another {column}."),
            )?;
            Ok(Outcome::Unchanged)
        }
    }
}

/// The appeal (khiếu nại) a decision's row states, if any: an outcome, or only the day it was
/// filed (an appeal still pending, as the single-record API records it and exports write it).
/// Legacy files often give only the outcome: the filing day defaults to `filed_default` (the
/// announcement, or a recorded pending appeal's day) and an outcome's day to the filing day.
fn appeal_of(row: &Row, filed_default: NaiveDate) -> Result<Option<discipline_store::AppealInput>> {
    let outcome = row.text("appeal_outcome");
    let filed_on = row.date("appeal_filed_on");
    if outcome.is_none() && filed_on.is_none() {
        return Ok(None);
    }
    let filed_on = filed_on.unwrap_or(filed_default);
    let decided_on = row
        .date("appeal_decided_on")
        .or(outcome.is_some().then_some(filed_on));
    let request: AppealRequest = serde_json::from_value(serde_json::json!({
        "filed_on": filed_on,
        "outcome": outcome,
        "decided_on": decided_on,
        "reduced_form": row.text("reduced_form"),
    }))
    .map_err(|e| Error::invalid("appeal_outcome", "invalid", e.to_string()))?;
    Ok(Some(request.prepare()?))
}

fn award(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let new = row
        .request::<AwardCreate>(&same(&[
            "profile_number",
            "tier",
            "awarded_on",
            "decision_number",
            "posthumous",
            "early",
            "override_reason",
        ]))?
        .prepare(ctx.caller)?;
    let member = member_reference(conn, ctx, &new.profile_number)?;
    let recorded: Option<(NaiveDate, bool, bool, Option<String>)> = awards::table
        .filter(awards::member_id.eq(member.id))
        .filter(awards::tier.eq(new.tier))
        .select((
            awards::awarded_on,
            awards::posthumous,
            awards::early,
            awards::decision_number,
        ))
        .first(conn)
        .optional()?;
    let Some((awarded_on, posthumous, early, decision_number)) = recorded else {
        let changes = &mut ctx.summaries.lock().expect("one writer");
        insignia_store::record_for(conn, &member, new, changes)?;
        return Ok(Outcome::Inserted);
    };
    may_update(ctx, "tier")?;
    // An empty flag keeps what is recorded, as any empty cell does.
    let flag_differs =
        |column: &str, stated: bool, recorded: bool| row.states(column) && stated != recorded;
    if awarded_on != new.awarded_on
        || flag_differs("posthumous", new.posthumous, posthumous)
        || flag_differs("early", new.early, early)
    {
        return Err(conflict(
            "awarded_on",
            format!(
                "The {}-year insignia is recorded as awarded on {awarded_on}.",
                new.tier
            ),
        ));
    }
    // No API edits an award: a row naming another decision is refused, not reported unchanged.
    refuse_differences(
        &[(
            "decision_number",
            states_otherwise(&new.decision_number, &decision_number),
        )],
        |_| {
            format!(
                "The {}-year insignia is recorded under another decision number.",
                new.tier
            )
        },
    )?;
    Ok(Outcome::Unchanged)
}

fn target(conn: &mut DbConn, ctx: &Context, row: &Row) -> Result<Outcome> {
    let (code, year, target) = row
        .request::<TargetCreate>(&same(&["organization_code", "year", "target"]))?
        .prepare()?;
    match target_store::get(conn, ctx.vis, &code, year) {
        Err(Error::NotFound(_)) => {
            target_store::create(conn, ctx.vis, &code, year, target)?;
            Ok(Outcome::Inserted)
        }
        Err(e) => Err(e),
        Ok(current) => {
            // mode=insert refuses the key whether or not the row would change it.
            may_update(ctx, "year")?;
            if current.target == target {
                return Ok(Outcome::Unchanged);
            }
            target_store::update(conn, ctx.vis, &code, year, current.version, target)?;
            Ok(Outcome::Updated)
        }
    }
}

/// The first column of `row` that names a record which exists but lies outside the caller's
/// scope, if any.
pub fn out_of_scope(
    conn: &mut DbConn,
    ctx: &Context,
    kind: Kind,
    row: &Row,
) -> Result<Option<&'static str>> {
    if ctx.vis == Visibility::All {
        return Ok(None);
    }
    let subject_is_member = row.text("subject_type") == Some(SubjectType::Member.as_str());
    let (org_columns, member_columns): (&[&'static str], &[&'static str]) = match kind {
        Kind::Organizations | Kind::OrganizationMoves => (&["code", "parent_code"], &[]),
        Kind::Members => (&["organization_code"], &["profile_number"]),
        Kind::Positions | Kind::Transfers => (&["organization_code"], &["profile_number"]),
        Kind::Exemptions | Kind::PartyAgeGaps => (&[], &["profile_number"]),
        Kind::MemberRatings | Kind::InsigniaAwards => (&[], &["profile_number"]),
        Kind::OrganizationRatings | Kind::AdmissionTargets => (&["organization_code"], &[]),
        Kind::DisciplinaryActions if subject_is_member => (&[], &["subject"]),
        Kind::DisciplinaryActions => (&["subject"], &[]),
    };
    for column in org_columns {
        if let Some(code) = row.text(column) {
            let code = crate::domain::text::normalize(code);
            if org_store::find_visible(conn, Visibility::All, &code).is_ok()
                && org_store::find_visible(conn, ctx.vis, &code).is_err()
            {
                return Ok(Some(column));
            }
        }
    }
    for column in member_columns {
        if let Some(pn) = row.text(column) {
            let pn = crate::domain::text::normalize(pn);
            if member_store::find_visible(conn, Visibility::All, &pn).is_ok()
                && member_store::find_visible(conn, ctx.vis, &pn).is_err()
            {
                return Ok(Some(column));
            }
        }
    }
    Ok(None)
}
