//! Writes to the member register: admission, updates, recognition, transfers, exemptions,
//! leaving the roll, party-age gaps, positions; each recorded in the member's history.

use super::*;

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
    let org = find_org(conn, vis, code).map_err(crate::error::missing_reference(
        field,
        "member.organization_not_found",
        format!("There is no organisation with code {code}."),
    ))?;
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
        let id = summaries::now(conn, |conn, batch| {
            let mut orgs = Known::default();
            create_many(
                conn,
                vis,
                vec![Admission::new(new, None)],
                &mut orgs,
                by,
                batch,
            )?
            .remove(0)
        })?;
        reload(conn, id)
    })
}

/// Rows per multi-row INSERT: 17 columns × 500 stays far below either engine's limit of
/// bound parameters.
const INSERT_CHUNK: usize = 500;

/// A departure stated with an admission: an imported register row of a member who has left
/// the roll. Legacy registers give the reason (even an expulsion) without the decision behind
/// it, so the reason is taken as recorded; the decision, if imported later, agrees with it
/// (`discipline::create`).
pub type Departure = (LeaveReason, NaiveDate);

/// An admission as [`create_many`] takes it: the new member, the departure a register row
/// states, and the keys the name is searched and sorted by (`members.search_name`,
/// `members.sort_key`). Computed in the writing transaction, the keys were about 8% of the
/// members import's writer (perf, BENCHMARKS.md, twelfth pass), so the import computes them
/// on its reading thread, beside the transaction, by making the admission there
/// ([`Admission::new`]).
pub struct Admission {
    pub new: NewMember,
    pub left: Option<Departure>,
    search_name: String,
    sort_key: String,
}

impl Admission {
    pub fn new(new: NewMember, left: Option<Departure>) -> Admission {
        Admission {
            search_name: text::search_key(&new.full_name),
            sort_key: text::vietnamese_name_key(&new.full_name),
            new,
            left,
        }
    }
}

/// A new member who passed every check, with what was looked up for them.
struct Admitted {
    new: NewMember,
    search_name: String,
    sort_key: String,
    org: (i64, String),
    since: NaiveDate,
    official_on: Option<NaiveDate>,
    left: Option<Departure>,
}

/// Admits `news` (kết nạp): the checks of each are those of a single admission, looked up for
/// the whole batch in a few queries, and the good ones are written with multi-row inserts. A
/// member given with a departure is written as admitted and then off the roll, with the
/// checks and effects of `leave_recorded` (nothing else is recorded of a new member, so they
/// need no lookup).
/// The answer has one result per member, in order: the new id, or why that member was
/// refused (the others are written all the same; callers that need all or nothing roll back).
/// The single-record API admits a batch of one, so there is one way in. `orgs` keeps the
/// organisations looked up from batch to batch (a members import keeps one for its file).
pub fn create_many(
    conn: &mut DbConn,
    vis: Visibility,
    news: Vec<Admission>,
    orgs: &mut Known,
    by: &str,
    summaries: &mut summaries::Batch,
) -> Result<Vec<Result<i64>>> {
    crate::db::write_transaction(conn, |conn| {
        let numbers: Vec<&String> = news.iter().map(|a| &a.new.profile_number).collect();
        let taken: HashSet<String> = members::table
            .filter(members::profile_number.eq_any(&numbers))
            .select(members::profile_number)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let cards: Vec<&String> = news
            .iter()
            .filter_map(|a| a.new.card_number.as_ref())
            .collect();
        let mut cards_taken: HashSet<String> = if cards.is_empty() {
            HashSet::new()
        } else {
            members::table
                .filter(members::card_number.eq_any(&cards))
                .select(members::card_number.assume_not_null())
                .load::<String>(conn)?
                .into_iter()
                .collect()
        };
        let codes: Vec<String> = news
            .iter()
            .map(|a| a.new.organization_code.clone())
            .collect();
        orgs.look_up(conn, vis, &codes)?;

        let mut results: Vec<Result<i64>> = Vec::with_capacity(news.len());
        let mut admitted: Vec<(usize, Admitted)> = Vec::new();
        for (i, admission) in news.into_iter().enumerate() {
            match check_new(admission, &taken, &mut cards_taken, orgs) {
                Ok(a) => {
                    admitted.push((i, a));
                    results.push(Ok(0));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        for chunk in admitted.chunks(INSERT_CHUNK) {
            let ids = insert_admitted(conn, chunk, by, summaries)?;
            for ((i, _), id) in chunk.iter().zip(ids) {
                results[*i] = Ok(id);
            }
        }
        Ok(results)
    })
}

/// Every check of one admission, against what the batch looked up.
fn check_new(
    admission: Admission,
    taken: &HashSet<String>,
    cards_taken: &mut HashSet<String>,
    orgs: &Known,
) -> Result<Admitted> {
    let Admission {
        new,
        left,
        search_name,
        sort_key,
    } = admission;
    if taken.contains(&new.profile_number) {
        return Err(Error::invalid(
            "profile_number",
            "member.profile_number_taken",
            format!(
                "A member with profile number {} exists already.",
                new.profile_number
            ),
        ));
    }
    if let Some(card) = &new.card_number {
        // Taken by a recorded member, or by an earlier one of the same batch.
        if !cards_taken.insert(card.clone()) {
            return Err(Error::invalid(
                "card_number",
                "member.card_number_taken",
                "Another member holds this card number.",
            ));
        }
    }
    rules::check_dates(new.born_on, new.admitted_on, new.ceremony_on)?;
    rules::check_admission_age(new.born_on, new.admitted_on, new.override_reason.is_some())?;
    let since = new.organization_since.unwrap_or(new.admitted_on);
    rules::check_after_admission(new.admitted_on, since, "organization_since")?;
    let org = orgs.get(&new.organization_code).ok_or_else(|| {
        Error::invalid(
            "organization_code",
            "member.organization_not_found",
            format!(
                "There is no organisation with code {}.",
                new.organization_code
            ),
        )
    })?;
    rules::check_branch(
        &org.code,
        org.kind().is_branch(),
        org.lifetime().exists_on(since),
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
    if let Some((reason, on)) = left {
        check_departure(&new, since, reason, on)?;
    }
    Ok(Admitted {
        org: (org.id, org.code.clone()),
        since,
        official_on,
        left,
        new,
        search_name,
        sort_key,
    })
}

/// `leave_roll`'s checks for a member admitted in the same batch: their only membership starts
/// on `since` and nothing else is recorded of them but the admission's exemption.
fn check_departure(
    new: &NewMember,
    since: NaiveDate,
    reason: LeaveReason,
    on: NaiveDate,
) -> Result<()> {
    const FIELD: &str = "left_on";
    rules::check_leave_reason(reason, true)?;
    rules::check_after_admission(new.admitted_on, on, FIELD)?;
    rules::check_nothing_begins_after_leaving(
        new.exempt_since.filter(|from| *from >= on),
        on,
        FIELD,
    )?;
    rules::check_leaves_after_membership(Some(since), on, FIELD)?;
    Ok(())
}

/// Writes admitted members, their first memberships, exemptions and history; their ids in
/// order.
#[derive(Insertable)]
#[diesel(table_name = members, treat_none_as_default_value = false)]
struct MemberInsert<'a> {
    profile_number: &'a str,
    card_number: Option<&'a str>,
    full_name: &'a str,
    search_name: &'a str,
    sort_key: &'a str,
    gender: &'static str,
    born_on: Day,
    ethnicity: Option<&'a str>,
    religion: Option<&'a str>,
    national_id: Option<&'a str>,
    organization_id: i64,
    admitted_on: Day,
    ceremony_on: Option<Day>,
    official_on: Option<Day>,
    left_on: Option<Day>,
    leave_reason: Option<&'static str>,
    version: i64,
    created_at: Stamp,
    updated_at: Stamp,
}

#[derive(Insertable)]
#[diesel(table_name = memberships, treat_none_as_default_value = false)]
struct MembershipInsert {
    member_id: i64,
    organization_id: i64,
    kind: &'static str,
    valid_from: Day,
    valid_to: Option<Day>,
}

#[derive(Insertable)]
#[diesel(table_name = exemptions, treat_none_as_default_value = false)]
struct ExemptionInsert {
    member_id: i64,
    starts_on: Day,
    ends_on: Option<Day>,
}

#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct EventInsert<'a> {
    member_id: i64,
    occurred_on: Day,
    kind: &'static str,
    details: String,
    recorded_at: Stamp,
    recorded_by: Option<&'a str>,
}

/// Writes admitted members, their first memberships, exemptions and history; their ids in
/// order. Many rows at once (`db::bulk_insert!`: `COPY` on PostgreSQL).
fn insert_admitted(
    conn: &mut DbConn,
    chunk: &[(usize, Admitted)],
    by: &str,
    summaries: &mut summaries::Batch,
) -> Result<Vec<i64>> {
    let now = crate::time::now();
    let rows: Vec<MemberInsert> = chunk
        .iter()
        .map(|(_, a)| {
            let n = &a.new;
            MemberInsert {
                profile_number: &n.profile_number,
                card_number: n.card_number.as_deref(),
                full_name: &n.full_name,
                search_name: &a.search_name,
                sort_key: &a.sort_key,
                gender: n.gender.as_str(),
                born_on: Day(n.born_on),
                ethnicity: n.ethnicity.as_deref(),
                religion: n.religion.as_deref(),
                national_id: n.national_id.as_deref(),
                organization_id: a.org.0,
                admitted_on: Day(n.admitted_on),
                ceremony_on: n.ceremony_on.map(Day),
                official_on: a.official_on.map(Day),
                left_on: a.left.map(|(_, on)| Day(on)),
                leave_reason: a.left.map(|(reason, _)| reason.as_str()),
                // Admitted, then taken off the roll: the version the two writes would leave.
                version: if a.left.is_some() { 2 } else { 1 },
                created_at: Stamp(now),
                updated_at: Stamp(now),
            }
        })
        .collect();
    crate::bulk_insert!(conn, members::table, &rows)?;
    let numbers: Vec<&str> = rows.iter().map(|r| r.profile_number).collect();
    let ids: HashMap<String, i64> = members::table
        .filter(members::profile_number.eq_any(&numbers))
        .select((members::profile_number, members::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let ids: Vec<i64> = numbers.iter().map(|n| ids[*n]).collect();

    let spans: Vec<MembershipInsert> = chunk
        .iter()
        .zip(&ids)
        .map(|((_, a), id)| MembershipInsert {
            member_id: *id,
            organization_id: a.org.0,
            kind: MembershipKind::Official.as_str(),
            valid_from: Day(a.since),
            valid_to: a.left.map(|(_, on)| Day(on)),
        })
        .collect();
    crate::bulk_insert!(conn, memberships::table, &spans)?;
    let exempt: Vec<ExemptionInsert> = chunk
        .iter()
        .zip(&ids)
        .filter_map(|((_, a), id)| {
            a.new.exempt_since.map(|from| ExemptionInsert {
                member_id: *id,
                starts_on: Day(from),
                ends_on: a.left.map(|(_, on)| Day(on)),
            })
        })
        .collect();
    if !exempt.is_empty() {
        crate::bulk_insert!(conn, exemptions::table, &exempt)?;
    }
    let facts: Vec<MemberFacts> = chunk
        .iter()
        .map(|(_, a)| MemberFacts {
            admitted_on: a.new.admitted_on,
            official_on: a.official_on,
            spans: vec![summary::Span {
                organization_id: a.org.0,
                from: a.since,
                to: a.left.map(|(_, on)| on),
            }],
            exemptions: a
                .new
                .exempt_since
                .map(|from| (from, a.left.map(|(_, on)| on)))
                .into_iter()
                .collect(),
            // A new member has no decisions or insignia yet.
            ratings: Vec::new(),
            decisions: Vec::new(),
            awards: Vec::new(),
        })
        .collect();
    summaries.admitted(conn, &facts)?;
    let mut history: Vec<EventInsert> = Vec::new();
    let event =
        |member_id: i64, occurred_on: NaiveDate, kind: &'static str, details: Value| EventInsert {
            member_id,
            occurred_on: Day(occurred_on),
            kind,
            details: details.to_string(),
            recorded_at: Stamp(now),
            recorded_by: Some(by),
        };
    for ((_, a), id) in chunk.iter().zip(&ids) {
        history.push(event(
            *id,
            a.new.admitted_on,
            "admitted",
            json!({"organization_code": a.org.1, "organization_since": a.since,
                   "ceremony_on": a.new.ceremony_on, "override_reason": a.new.override_reason}),
        ));
        if let Some(official) = a.official_on {
            history.push(event(
                *id,
                official,
                "recognised",
                json!({"official_on": official}),
            ));
        }
        if let Some(from) = a.new.exempt_since {
            history.push(event(*id, from, "exempted", json!({"starts_on": from})));
        }
        if let Some((reason, on)) = a.left {
            history.push(event(*id, on, "left", json!({"reason": reason})));
        }
    }
    for part in history.chunks(INSERT_CHUNK) {
        crate::bulk_insert!(conn, events::table, part)?;
    }
    Ok(ids)
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
        summaries::tracking(conn, row.id, |conn| {
            // Read again under the lock: on PostgreSQL a concurrent update may have committed
            // between the first read and the lock, and its version must be the one compared.
            let row = members::table
                .find(row.id)
                .select(MemberRow::as_select())
                .first(conn)?;
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
                crate::store::ratings::recheck_member_ratings(
                    conn,
                    &changed_row,
                    from,
                    "admitted_on",
                )?;
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
        summaries::tracking(conn, row.id, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        summaries::now(conn, |conn, changes| {
            record_transfer(conn, vis, &row, transfer, by, changes)
        })?;
        reload(conn, row.id)
    })
}

/// Records a transfer of `row` (a member found in the caller's scope), as `transfer` does,
/// without reading the member back: the bulk import has found the member already and needs
/// nothing back. What it changes in the summaries goes into `changes`, which the caller
/// flushes before its transaction commits (`transfer` at once; the bulk import once for the
/// file).
pub fn record_transfer(
    conn: &mut DbConn,
    vis: Visibility,
    row: &MemberRow,
    transfer: Transfer,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<()> {
    let Transfer {
        organization_code,
        on,
        kind,
        until,
    } = transfer;
    crate::db::write_transaction(conn, |conn| {
        crate::db::lock_row(conn, "members", row.id)?;
        changes.tracking(conn, row.id, |conn| {
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
                    // For a member who has left, a transfer dated before the departure (history
                    // entered late, or imported after the register row) splits the last
                    // membership, which ended with the departure.
                    let current = match row.left_on {
                        None => open_membership(conn, row.id, MembershipKind::Official)?,
                        Some(left) => memberships::table
                            .filter(memberships::member_id.eq(row.id))
                            .filter(memberships::kind.eq(MembershipKind::Official.as_str()))
                            .filter(memberships::valid_to.eq(left))
                            .select((
                                memberships::id,
                                memberships::organization_id,
                                memberships::valid_from,
                            ))
                            .first(conn)
                            .optional()?,
                    };
                    let (current_id, current_org, current_from) = current.ok_or_else(|| {
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
            let valid_to = match kind {
                MembershipKind::Official => row.left_on,
                MembershipKind::Temporary => until.or(row.left_on),
            };
            diesel::insert_into(memberships::table)
                .values((
                    memberships::member_id.eq(row.id),
                    memberships::organization_id.eq(org.id),
                    memberships::kind.eq(kind.as_str()),
                    memberships::valid_from.eq(on),
                    memberships::valid_to.eq(valid_to),
                ))
                .execute(conn)?;
            match kind {
                // The member's current organisation moves with the version, in one statement.
                MembershipKind::Official => {
                    diesel::update(members::table.find(row.id))
                        .set((
                            members::organization_id.eq(org.id),
                            members::version.eq(members::version + 1),
                            members::updated_at.eq(crate::time::now()),
                        ))
                        .execute(conn)?;
                }
                MembershipKind::Temporary => bump(conn, row.id)?,
            }
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
            )
        })
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
    record_exemption(conn, vis, profile_number, (starts_on, None), reason, by)
}

/// An exemption from `period.0`, open or already ended on `period.1` (a past exemption
/// recorded afterwards, or an export's history imported back): the same checks as an open one,
/// and the period may not overlap another of the member's.
pub fn record_exemption(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    period: (NaiveDate, Option<NaiveDate>),
    reason: Option<String>,
    by: &str,
) -> Result<Member> {
    let (starts_on, ends_on) = period;
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        summaries::tracking(conn, row.id, |conn| {
            rules::check_after_admission(row.admitted_on, starts_on, "starts_on")?;
            rules::check_on_roll(row.left_on, starts_on, "starts_on")?;
            rules::check_period(starts_on, ends_on, "ends_on")?;
            let existing: Vec<Period> = periods(conn, row.id)?
                .into_iter()
                .map(|p| (p.1, p.2))
                .collect();
            rules::check_no_overlap(period, &existing, "starts_on")?;
            diesel::insert_into(exemptions::table)
                .values((
                    exemptions::member_id.eq(row.id),
                    exemptions::starts_on.eq(starts_on),
                    exemptions::ends_on.eq(ends_on),
                    exemptions::reason.eq(&reason),
                ))
                .execute(conn)?;
            crate::store::ratings::recheck_member_ratings(
                conn,
                &row,
                starts_on.year(),
                "starts_on",
            )?;
            bump(conn, row.id)?;
            record(
                conn,
                row.id,
                starts_on,
                "exempted",
                json!({"reason": reason}),
                by,
            )?;
            if let Some(on) = ends_on {
                record(
                    conn,
                    row.id,
                    on,
                    "exemption_ended",
                    json!({"exempt_since": starts_on}),
                    by,
                )?;
            }
            reload(conn, row.id)
        })
    })
}

/// Gives a recorded exemption the reason it was recorded without (a members file's
/// `exempt_since` carries none; an exemptions file that follows does). A recorded reason is
/// kept.
pub fn give_exemption_reason(
    conn: &mut DbConn,
    member: &MemberRow,
    starts_on: NaiveDate,
    reason: &str,
) -> Result<()> {
    let given = diesel::update(
        exemptions::table
            .filter(exemptions::member_id.eq(member.id))
            .filter(exemptions::starts_on.eq(starts_on))
            .filter(exemptions::reason.is_null()),
    )
    .set(exemptions::reason.eq(Some(reason)))
    .execute(conn)?;
    if given > 0 {
        bump(conn, member.id)?;
    }
    Ok(())
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
        summaries::tracking(conn, row.id, |conn| {
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
    })
}

/// Takes a member off the roll on `on`: their memberships, exemption and positions end that
/// day. `through_discipline` is set only by an expulsion decision (khai trừ). What it changes
/// in the summaries goes into `changes`, which the caller flushes before its transaction
/// commits.
pub fn leave_roll(
    conn: &mut DbConn,
    row: &MemberRow,
    reason: LeaveReason,
    on: NaiveDate,
    through_discipline: bool,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<()> {
    rules::check_leave_reason(reason, through_discipline)?;
    rules::check_after_admission(row.admitted_on, on, "on")?;
    rules::check_on_roll(row.left_on, on, "on")?;
    // Nothing may begin on or after the day the member leaves (it would outlive the roll).
    let later_exemption: Option<NaiveDate> = exemptions::table
        .filter(exemptions::member_id.eq(row.id))
        .filter(exemptions::starts_on.ge(on))
        .select(diesel::dsl::min(exemptions::starts_on))
        .first(conn)?;
    let later_activity: Option<NaiveDate> = memberships::table
        .filter(memberships::member_id.eq(row.id))
        .filter(memberships::kind.eq(MembershipKind::Temporary.as_str()))
        .filter(memberships::valid_from.ge(on))
        .select(diesel::dsl::min(memberships::valid_from))
        .first(conn)?;
    rules::check_nothing_begins_after_leaving(later_exemption.or(later_activity), on, "on")?;
    // The last official membership, open or (for a member who left and leaves again on an
    // earlier day) closed: the departure comes after it began.
    let last_from: Option<NaiveDate> = memberships::table
        .filter(memberships::member_id.eq(row.id))
        .filter(memberships::kind.eq(MembershipKind::Official.as_str()))
        .select(diesel::dsl::max(memberships::valid_from))
        .first(conn)?;
    rules::check_leaves_after_membership(last_from, on, "on")?;
    changes.tracking(conn, row.id, |conn| {
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
    })
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
        summaries::now(conn, |conn, changes| {
            leave_roll(conn, &row, reason, on, false, by, changes)
        })?;
        reload(conn, row.id)
    })
}

/// A departure stated by an imported register row. Legacy registers give the reason (even an
/// expulsion) without the decision behind it, so the reason is taken as recorded; the decision,
/// if it is imported later, agrees with it (`discipline::create`).
pub fn leave_recorded(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    reason: LeaveReason,
    on: NaiveDate,
    by: &str,
) -> Result<()> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, profile_number)?;
        crate::db::lock_row(conn, "members", row.id)?;
        summaries::now(conn, |conn, changes| {
            leave_roll(conn, &row, reason, on, true, by, changes)
        })
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
            Some(code) => Some(find_org(conn, vis, code).map_err(
                crate::error::missing_reference(
                    "organization_code",
                    "member.organization_not_found",
                    format!("There is no organisation with code {code}."),
                ),
            )?),
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
