//! Party discipline: decisions about members and organisations, their effects on the roll and
//! the tree (applied in the same transaction), appeals, and what is in force on a day.

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::{
    disciplinary_actions as actions, insignia_awards as awards, member_exemptions as exemptions,
    members, memberships, organizations as orgs, party_age_gaps as gaps, positions,
};
use crate::db::{DbConn, MultiBackend};
use crate::domain::discipline::{self as rules, AppealOutcome, Form, SubjectType};
use crate::domain::member::LeaveReason;
use crate::domain::summary::Award;
use crate::error::{Error, Result};
use crate::store::members::{self as member_store, MemberRow};
use crate::store::organizations as org_store;
use crate::store::{decode_cursor, far_future, ratings, summaries, Page};

#[derive(Debug, Clone, Serialize)]
pub struct Appeal {
    pub filed_on: NaiveDate,
    pub outcome: Option<AppealOutcome>,
    pub decided_on: Option<NaiveDate>,
    pub reduced_form: Option<Form>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DisciplinaryAction {
    pub id: i64,
    pub subject_type: SubjectType,
    pub subject: String,
    pub subject_name: String,
    pub form: Form,
    pub effective_form: Form,
    pub decision_number: String,
    pub authority_code: String,
    pub decided_on: NaiveDate,
    pub announced_on: Option<NaiveDate>,
    pub violation: Option<String>,
    pub regulation_article: Option<String>,
    pub especially_serious: bool,
    pub expires_on: Option<NaiveDate>,
    pub appeal: Option<Appeal>,
    pub annulled: bool,
    pub override_reason: Option<String>,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = actions)]
pub struct ActionRow {
    pub id: i64,
    pub subject_type: String,
    pub member_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub subject_key: String,
    pub form: String,
    pub decision_number: String,
    pub authority_id: i64,
    pub decided_on: NaiveDate,
    pub announced_on: Option<NaiveDate>,
    pub violation: Option<String>,
    pub regulation_article: Option<String>,
    pub especially_serious: bool,
    pub appeal_filed_on: Option<NaiveDate>,
    pub appeal_outcome: Option<String>,
    pub appeal_decided_on: Option<NaiveDate>,
    pub reduced_form: Option<String>,
    pub expires_on: Option<NaiveDate>,
    pub override_reason: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ActionRow {
    pub fn form(&self) -> Form {
        Form::parse(&self.form).expect("CHECK-constrained")
    }

    /// The form after a reduced appeal.
    pub fn effective_form(&self) -> Form {
        self.reduced_form
            .as_deref()
            .and_then(Form::parse)
            .unwrap_or(self.form())
    }

    pub fn annulled(&self) -> bool {
        self.appeal_outcome.as_deref() == Some("annulled")
    }
}

fn view(conn: &mut DbConn, row: ActionRow) -> Result<DisciplinaryAction> {
    let authority_code: String = orgs::table
        .find(row.authority_id)
        .select(orgs::code)
        .first(conn)?;
    let subject_name: String = match (row.member_id, row.organization_id) {
        (Some(id), _) => members::table
            .find(id)
            .select(members::full_name)
            .first(conn)?,
        (_, Some(id)) => orgs::table.find(id).select(orgs::name).first(conn)?,
        _ => String::new(),
    };
    let subject = row
        .subject_key
        .split_once(':')
        .map(|(_, key)| key.to_string())
        .unwrap_or_default();
    Ok(DisciplinaryAction {
        id: row.id,
        subject_type: SubjectType::parse(&row.subject_type).expect("CHECK-constrained"),
        subject,
        subject_name,
        form: row.form(),
        effective_form: row.effective_form(),
        annulled: row.annulled(),
        appeal: row.appeal_filed_on.map(|filed_on| Appeal {
            filed_on,
            outcome: row.appeal_outcome.as_deref().and_then(AppealOutcome::parse),
            decided_on: row.appeal_decided_on,
            reduced_form: row.reduced_form.as_deref().and_then(Form::parse),
        }),
        decision_number: row.decision_number,
        authority_code,
        decided_on: row.decided_on,
        announced_on: row.announced_on,
        violation: row.violation,
        regulation_article: row.regulation_article,
        especially_serious: row.especially_serious,
        expires_on: row.expires_on,
        override_reason: row.override_reason,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

type Boxed = actions::BoxedQuery<'static, MultiBackend>;

/// Actions whose subject the caller may see: a member whose organisation, or an organisation
/// that, lies in the scope.
fn restrict(query: Boxed, vis: Visibility) -> Boxed {
    match vis {
        Visibility::All => query,
        Visibility::Subtree(scope) => query.filter(
            actions::member_id
                .eq_any(members::table.select(members::id.nullable()).filter(
                    members::organization_id.eq_any(descendants!(scope, 0, i32::MAX, far_future())),
                ))
                .or(actions::organization_id.eq_any(
                    descendants!(scope, 0, i32::MAX, far_future())
                        .select(crate::db::schema::organization_tree::descendant_id.nullable()),
                )),
        ),
    }
}

fn find_visible(conn: &mut DbConn, vis: Visibility, id: i64) -> Result<ActionRow> {
    restrict(actions::table.into_boxed(), vis)
        .filter(actions::id.eq(id))
        .select(ActionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Disciplinary action {id} was not found.")))
}

/// A decision just written, read back for the answer (the caller could see it to write it).
fn read_back(conn: &mut DbConn, id: i64) -> Result<DisciplinaryAction> {
    let row = actions::table
        .find(id)
        .select(ActionRow::as_select())
        .first(conn)?;
    view(conn, row)
}

pub fn get(conn: &mut DbConn, vis: Visibility, id: i64) -> Result<DisciplinaryAction> {
    let row = find_visible(conn, vis, id)?;
    view(conn, row)
}

/// A decision as recorded.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub subject_type: SubjectType,
    pub subject: String,
    pub form: Form,
    pub decision_number: String,
    pub authority_code: String,
    pub decided_on: NaiveDate,
    pub announced_on: Option<NaiveDate>,
    pub violation: Option<String>,
    pub regulation_article: Option<String>,
    pub especially_serious: bool,
    pub override_reason: Option<String>,
}

fn holds_position(conn: &mut DbConn, member_id: i64, day: NaiveDate) -> Result<bool> {
    let held: i64 = positions::table
        .filter(positions::member_id.eq(member_id))
        .filter(positions::starts_on.le(day))
        .filter(positions::ends_on.is_null().or(positions::ends_on.gt(day)))
        .count()
        .get_result(conn)?;
    Ok(held > 0)
}

pub fn create(
    conn: &mut DbConn,
    vis: Visibility,
    new: NewAction,
    by: &str,
) -> Result<DisciplinaryAction> {
    crate::db::write_transaction(conn, |conn| {
        let id = summaries::now(conn, |conn, changes| record(conn, vis, new, by, changes))?;
        read_back(conn, id)
    })
}

/// Records a decision with its effects, as `create` does, without reading it back: the bulk
/// import needs only its id (three statements a row fewer). What the decision changes in the
/// summaries (with an expulsion, the member's roll and the insignia returned) goes into
/// `changes`, which the caller flushes before its transaction commits (`create` at once; the
/// bulk import once for the file). The increments commute, and nothing in a write reads the
/// summary tables, so deferring them changes nothing but when they are written.
pub fn record(
    conn: &mut DbConn,
    vis: Visibility,
    new: NewAction,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<i64> {
    crate::db::write_transaction(conn, |conn| {
        rules::check_form(new.subject_type, new.form)?;
        rules::check_dates(new.decided_on, new.announced_on, None, None)?;
        let authority = org_store::find_visible(conn, Visibility::All, &new.authority_code)
            .map_err(crate::error::missing_reference(
                "authority_code",
                "discipline.authority_not_found",
                format!("There is no organisation with code {}.", new.authority_code),
            ))?;
        let (member, org) = match new.subject_type {
            SubjectType::Member => {
                let m = member_store::find_visible(conn, vis, &new.subject).map_err(
                    crate::error::missing_reference(
                        "subject",
                        "discipline.subject_not_found",
                        format!("There is no member with profile number {}.", new.subject),
                    ),
                )?;
                (Some(m), None)
            }
            SubjectType::Organization => {
                // Dissolved and merged organisations can still be disciplined (QĐ 69).
                let o = org_store::find_visible(conn, vis, &new.subject).map_err(
                    crate::error::missing_reference(
                        "subject",
                        "discipline.subject_not_found",
                        format!("There is no organisation with code {}.", new.subject),
                    ),
                )?;
                (None, Some(o))
            }
        };
        // One decision at a time per subject: the rules read what the other wrote.
        match (&member, &org) {
            (Some(m), _) => crate::db::lock_row(conn, "members", m.id)?,
            (_, Some(o)) => crate::db::lock_row(conn, "organizations", o.id)?,
            _ => {}
        }
        let subject_key = format!("{}:{}", new.subject_type, new.subject);
        let duplicate: i64 = actions::table
            .filter(actions::authority_id.eq(authority.id))
            .filter(actions::decision_number.eq(&new.decision_number))
            .filter(actions::subject_key.eq(&subject_key))
            .count()
            .get_result(conn)?;
        if duplicate > 0 {
            return Err(Error::invalid(
                "decision_number",
                "discipline.duplicate",
                "This decision is recorded already for this subject.",
            ));
        }
        // The decision behind an expulsion the register already records (an imported legacy
        // row said "expelled" on this day): it agrees with history, so it is recorded without
        // taking the member off the roll a second time.
        let recorded_expulsion = new.form == Form::Expulsion
            && member.as_ref().is_some_and(|m| {
                m.left_on == Some(new.decided_on)
                    && m.leave_reason.as_deref() == Some(LeaveReason::Expelled.as_str())
            });
        if new.override_reason.is_none() && !recorded_expulsion {
            if let Some(m) = &member {
                let left = m
                    .left_on
                    .zip(m.leave_reason.as_deref().and_then(LeaveReason::parse));
                rules::check_member_subject(left, new.decided_on, new.especially_serious)?;
                let probationary = m
                    .official_on
                    .is_none_or(|official| official > new.decided_on);
                rules::check_member_form(
                    new.form,
                    probationary,
                    holds_position(conn, m.id, new.decided_on)?,
                )?;
            }
            ratings::check_discipline_against_ratings(
                conn,
                member.as_ref(),
                org.as_ref(),
                new.decided_on,
            )?;
        }
        let now = crate::time::now();
        let id: i64 = diesel::insert_into(actions::table)
            .values((
                actions::subject_type.eq(new.subject_type.as_str()),
                actions::member_id.eq(member.as_ref().map(|m| m.id)),
                actions::organization_id.eq(org.as_ref().map(|o| o.id)),
                actions::subject_key.eq(&subject_key),
                actions::form.eq(new.form.as_str()),
                actions::decision_number.eq(&new.decision_number),
                actions::authority_id.eq(authority.id),
                actions::decided_on.eq(new.decided_on),
                actions::announced_on.eq(new.announced_on),
                actions::violation.eq(&new.violation),
                actions::regulation_article.eq(&new.regulation_article),
                actions::especially_serious.eq(new.especially_serious),
                actions::expires_on.eq(rules::expires_on(
                    new.form,
                    new.decided_on,
                    new.announced_on,
                )),
                actions::override_reason.eq(&new.override_reason),
                actions::version.eq(1i64),
                actions::created_at.eq(now),
                actions::updated_at.eq(now),
            ))
            .returning(actions::id)
            .get_result(conn)?;
        if let Some(m) = &member {
            changes.decision_changed(conn, m.id, new.decided_on, None, Some(new.form))?;
        }
        match (new.form, &member, &org) {
            (Form::Expulsion, Some(m), _) if recorded_expulsion => {
                expulsion_effects(conn, m, new.decided_on, changes)?
            }
            (Form::Expulsion, Some(m), _) => expel(conn, m, new.decided_on, by, changes)?,
            // Cách chức: the positions held that day end with the decision.
            (Form::Dismissal, Some(m), _) => {
                diesel::update(
                    positions::table
                        .filter(positions::member_id.eq(m.id))
                        .filter(positions::starts_on.lt(new.decided_on))
                        .filter(
                            positions::ends_on
                                .is_null()
                                .or(positions::ends_on.gt(new.decided_on)),
                        ),
                )
                .set(positions::ends_on.eq(Some(new.decided_on)))
                .execute(conn)?;
                member_store::record(
                    conn,
                    m.id,
                    new.decided_on,
                    "dismissed",
                    serde_json::json!({"decision_number": new.decision_number}),
                    by,
                )?;
            }
            // The decision behind a dissolution the tree already records on its day (an
            // organisations file, or an export, said dissolved_on): it agrees with history,
            // so the organisation is not dissolved a second time.
            (Form::Dissolution, _, Some(o)) if o.dissolved_on == Some(new.decided_on) => {}
            (Form::Dissolution, _, Some(o)) => {
                org_store::dissolve(conn, Visibility::All, &o.code, new.decided_on)?;
            }
            _ => {}
        }
        Ok(id)
    })
}

/// Khai trừ: off the roll on the decision's day, a party-age gap from then, insignia returned
/// ("Đảng viên bị đưa ra khỏi Đảng phải giao lại Huy hiệu Đảng", HD 01-2021 mục 18).
fn expel(
    conn: &mut DbConn,
    member: &MemberRow,
    on: NaiveDate,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<()> {
    member_store::leave_roll(conn, member, LeaveReason::Expelled, on, true, by, changes)?;
    expulsion_effects(conn, member, on, changes)
}

/// What an expulsion does besides ending the membership: a party-age gap from that day, and
/// the insignia returned (taken out of the summaries through `changes`).
fn expulsion_effects(
    conn: &mut DbConn,
    member: &MemberRow,
    on: NaiveDate,
    changes: &mut summaries::Batch,
) -> Result<()> {
    diesel::insert_into(gaps::table)
        .values((
            gaps::member_id.eq(member.id),
            gaps::reason.eq("expelled"),
            gaps::starts_on.eq(on),
            gaps::note.eq(Some("khai trừ")),
        ))
        .execute(conn)?;
    let held = || {
        awards::table
            .filter(awards::member_id.eq(member.id))
            .filter(awards::revoked_on.is_null())
    };
    let returned: Vec<Award> = held()
        .select((
            awards::awarded_on,
            awards::tier,
            awards::posthumous,
            awards::early,
        ))
        .load::<(NaiveDate, i32, bool, bool)>(conn)?
        .into_iter()
        .map(|(awarded_on, tier, posthumous, early)| Award {
            awarded_on,
            tier,
            posthumous,
            early,
        })
        .collect();
    diesel::update(held())
        .set(awards::revoked_on.eq(Some(on)))
        .execute(conn)?;
    changes.awards_changed(conn, member.id, &returned, -1)
}

/// Undoes an expulsion annulled (or reduced) on appeal: back on the roll in the same branch,
/// with the exemption, temporary activity and positions that the expulsion ended; no gap
/// (wrongful expulsion: "tuổi đảng được tính liên tục"); insignia restored.
fn reinstate(
    conn: &mut DbConn,
    member_id: i64,
    expelled_on: NaiveDate,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<()> {
    changes.tracking(conn, member_id, |conn| {
        diesel::update(members::table.find(member_id))
            .set((
                members::left_on.eq(None::<NaiveDate>),
                members::leave_reason.eq(None::<String>),
                members::version.eq(members::version + 1),
                members::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        diesel::update(
            memberships::table
                .filter(memberships::member_id.eq(member_id))
                .filter(memberships::valid_to.eq(expelled_on)),
        )
        .set(memberships::valid_to.eq(None::<NaiveDate>))
        .execute(conn)?;
        diesel::update(
            exemptions::table
                .filter(exemptions::member_id.eq(member_id))
                .filter(exemptions::ends_on.eq(expelled_on)),
        )
        .set(exemptions::ends_on.eq(None::<NaiveDate>))
        .execute(conn)?;
        reopen_positions(conn, member_id, expelled_on)?;
        diesel::delete(
            gaps::table
                .filter(gaps::member_id.eq(member_id))
                .filter(gaps::reason.eq("expelled"))
                .filter(gaps::starts_on.eq(expelled_on)),
        )
        .execute(conn)?;
        diesel::update(
            awards::table
                .filter(awards::member_id.eq(member_id))
                .filter(awards::revoked_on.eq(expelled_on)),
        )
        .set(awards::revoked_on.eq(None::<NaiveDate>))
        .execute(conn)?;
        member_store::record(
            conn,
            member_id,
            expelled_on,
            "reinstated",
            serde_json::json!({}),
            by,
        )
    })
}

fn reopen_positions(conn: &mut DbConn, member_id: i64, ended_on: NaiveDate) -> Result<()> {
    diesel::update(
        positions::table
            .filter(positions::member_id.eq(member_id))
            .filter(positions::ends_on.eq(ended_on)),
    )
    .set(positions::ends_on.eq(None::<NaiveDate>))
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AppealInput {
    pub filed_on: NaiveDate,
    pub outcome: Option<AppealOutcome>,
    pub decided_on: Option<NaiveDate>,
    pub reduced_form: Option<Form>,
}

/// Records an appeal (khiếu nại kỷ luật) and, once decided, its outcome. An annulled decision
/// reverses its effects and leaves the statistics; a reduced one keeps the lighter form, and
/// reverses an expulsion or dissolution it replaced.
pub fn appeal(
    conn: &mut DbConn,
    vis: Visibility,
    id: i64,
    input: AppealInput,
    by: &str,
) -> Result<DisciplinaryAction> {
    crate::db::write_transaction(conn, |conn| {
        summaries::now(conn, |conn, changes| {
            record_appeal(conn, vis, id, input, by, changes)
        })?;
        read_back(conn, id)
    })
}

/// Records an appeal, as `appeal` does, without reading the decision back; what the decision
/// (and a reinstatement) changes in the summaries goes into `changes`, as in `record`.
pub fn record_appeal(
    conn: &mut DbConn,
    vis: Visibility,
    id: i64,
    input: AppealInput,
    by: &str,
    changes: &mut summaries::Batch,
) -> Result<()> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, id)?;
        crate::db::lock_row(conn, "disciplinary_actions", row.id)?;
        if row.appeal_outcome.is_some() {
            return Err(Error::invalid(
                "outcome",
                "discipline.appeal_decided",
                "The appeal's outcome is recorded already.",
            ));
        }
        rules::check_dates(
            row.decided_on,
            row.announced_on,
            Some(input.filed_on),
            input.decided_on,
        )?;
        if let (Some(AppealOutcome::Reduced), Some(reduced)) = (input.outcome, input.reduced_form) {
            rules::check_reduced_form(row.form(), reduced)?;
        }
        let effective = match (input.outcome, input.reduced_form) {
            (Some(AppealOutcome::Reduced), Some(reduced)) => reduced,
            _ => row.form(),
        };
        // After an appeal decision the 12 months run from it (QĐ 69, Điều 2 khoản 5).
        let expires_on = match (input.outcome, input.decided_on) {
            (Some(AppealOutcome::Annulled), _) => row.expires_on,
            (Some(_), Some(decided)) if !effective.is_permanent() => {
                decided.checked_add_months(Months::new(12))
            }
            (Some(_), Some(_)) => None,
            _ => row.expires_on,
        };
        diesel::update(actions::table.find(row.id))
            .set((
                actions::appeal_filed_on.eq(Some(input.filed_on)),
                actions::appeal_outcome.eq(input.outcome.map(AppealOutcome::as_str)),
                actions::appeal_decided_on.eq(input.decided_on),
                actions::reduced_form.eq(input.reduced_form.map(Form::as_str)),
                actions::expires_on.eq(expires_on),
                actions::version.eq(row.version + 1),
                actions::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        if let Some(member) = row.member_id {
            changes.decision_changed(
                conn,
                member,
                row.decided_on,
                rules::counted_form(
                    row.form(),
                    row.reduced_form.as_deref().and_then(Form::parse),
                    row.appeal_outcome.as_deref().and_then(AppealOutcome::parse),
                ),
                rules::counted_form(row.form(), input.reduced_form, input.outcome),
            )?;
        }
        let lifted = matches!(input.outcome, Some(AppealOutcome::Annulled))
            || (input.outcome == Some(AppealOutcome::Reduced) && effective != row.form());
        if lifted {
            match (row.form(), row.member_id, row.organization_id) {
                (Form::Expulsion, Some(member), _) => {
                    reinstate(conn, member, row.decided_on, by, changes)?
                }
                (Form::Dismissal, Some(member), _) => {
                    reopen_positions(conn, member, row.decided_on)?
                }
                (Form::Dissolution, _, Some(org)) => {
                    diesel::update(
                        orgs::table
                            .find(org)
                            .filter(orgs::dissolved_on.eq(row.decided_on)),
                    )
                    .set((
                        orgs::dissolved_on.eq(None::<NaiveDate>),
                        orgs::version.eq(orgs::version + 1),
                    ))
                    .execute(conn)?;
                }
                _ => {}
            }
        }
        Ok(())
    })
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub year: Option<i32>,
    pub under: Option<String>,
    pub subject_type: Option<SubjectType>,
    pub form: Option<Form>,
    pub in_force_on: Option<NaiveDate>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub fn list(
    conn: &mut DbConn,
    vis: Visibility,
    filter: ListFilter,
) -> Result<Page<DisciplinaryAction>> {
    let mut query = restrict(actions::table.into_boxed(), vis);
    if let Some(year) = filter.year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| Error::bad_request("year is out of range"))?;
        let next = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .ok_or_else(|| Error::bad_request("year is out of range"))?;
        query = query
            .filter(actions::decided_on.ge(first))
            .filter(actions::decided_on.lt(next));
    }
    if let Some(kind) = filter.subject_type {
        query = query.filter(actions::subject_type.eq(kind.as_str()));
    }
    if let Some(form) = filter.form {
        query = query.filter(actions::form.eq(form.as_str()));
    }
    if let Some(day) = filter.in_force_on {
        query = query
            .filter(
                actions::appeal_outcome
                    .is_null()
                    .or(actions::appeal_outcome.ne("annulled")),
            )
            .filter(actions::decided_on.le(day))
            .filter(
                actions::expires_on
                    .is_null()
                    .or(actions::expires_on.gt(day)),
            );
    }
    if let Some(code) = &filter.under {
        let root = org_store::find_visible(conn, vis, code)?;
        query = query.filter(
            actions::member_id
                .eq_any(members::table.select(members::id.nullable()).filter(
                    members::organization_id.eq_any(descendants!(
                        root.id,
                        0,
                        i32::MAX,
                        far_future()
                    )),
                ))
                .or(actions::organization_id.eq_any(
                    descendants!(root.id, 0, i32::MAX, far_future())
                        .select(crate::db::schema::organization_tree::descendant_id.nullable()),
                )),
        );
    }
    if let Some(cursor) = &filter.cursor {
        let raw = decode_cursor(cursor)?;
        let (day, id): (NaiveDate, i64) =
            serde_json::from_str(&raw).map_err(|_| decode_cursor("!").unwrap_err())?;
        query = query.filter(
            actions::decided_on
                .gt(day)
                .or(actions::decided_on.eq(day).and(actions::id.gt(id))),
        );
    }
    let rows: Vec<ActionRow> = query
        .order((actions::decided_on.asc(), actions::id.asc()))
        .limit(filter.limit as i64 + 1)
        .select(ActionRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| {
        serde_json::to_string(&(r.decided_on, r.id)).expect("serialises")
    });
    let items = page
        .items
        .into_iter()
        .map(|r| view(conn, r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The member's decisions that are not annulled, for the insignia rules.
pub fn member_actions(conn: &mut DbConn, member_ids: &[i64]) -> Result<Vec<ActionRow>> {
    Ok(actions::table
        .filter(
            actions::member_id.eq_any(member_ids.iter().map(|id| Some(*id)).collect::<Vec<_>>()),
        )
        .filter(
            actions::appeal_outcome
                .is_null()
                .or(actions::appeal_outcome.ne("annulled")),
        )
        .select(ActionRow::as_select())
        .load(conn)?)
}
