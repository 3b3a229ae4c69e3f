//! The member register: create, read, list, update, and the lifecycle operations.
//! Auditors get members with personal identifiers masked.

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use crate::api::extract::{Credentials, IfMatch};
use crate::api::fields::{clean, double_option};
use crate::api::{allow_override, created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::member::{GapReason, Gender, LeaveReason, MembershipKind};
use crate::domain::{text, Role};
use crate::error::{Error, FieldError, Result};
use crate::store::audit;
use crate::store::members::{self as store, ListFilter, Member, MemberPatch, NewMember, Status};

fn clean_opt(value: Option<Option<String>>) -> Option<Option<String>> {
    value.map(clean)
}

/// The member as this caller may see it.
fn shown(caller: &Caller, member: Member) -> Member {
    if caller.role == Role::Auditor {
        member.masked()
    } else {
        member
    }
}

fn answer(caller: &Caller, member: Member) -> HttpResponse {
    let member = shown(caller, member);
    ok_with_etag(member.version, &member)
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberCreate {
    #[validate(custom(function = "crate::api::fields::profile_number"))]
    profile_number: String,
    #[validate(length(min = 1, max = 32))]
    card_number: Option<String>,
    #[validate(length(min = 1, max = 255))]
    full_name: String,
    gender: Gender,
    born_on: NaiveDate,
    #[validate(length(max = 64))]
    ethnicity: Option<String>,
    #[validate(length(max = 64))]
    religion: Option<String>,
    #[validate(custom(function = "crate::api::fields::national_id"))]
    national_id: Option<String>,
    #[validate(custom(function = "crate::api::fields::org_code"))]
    organization_code: String,
    organization_since: Option<NaiveDate>,
    admitted_on: NaiveDate,
    ceremony_on: Option<NaiveDate>,
    official_on: Option<NaiveDate>,
    exempt_since: Option<NaiveDate>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    #[serde(default, deserialize_with = "double_option")]
    card_number: Option<Option<String>>,
    #[validate(length(min = 1, max = 255))]
    full_name: Option<String>,
    gender: Option<Gender>,
    born_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    ethnicity: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    religion: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    national_id: Option<Option<String>>,
    admitted_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    ceremony_on: Option<Option<NaiveDate>>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    under: Option<String>,
    on: Option<NaiveDate>,
    status: Option<String>,
    exempt: Option<bool>,
    admitted_year: Option<i32>,
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn bad_query(field: &str, message: &str) -> Error {
    Error::BadRequest {
        detail: message.to_string(),
        errors: vec![FieldError::new(field, "invalid", message)],
    }
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let status =
        match q.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                bad_query("status", "status is one of: probationary, full, left.")
            })?),
        };
    if q.admitted_year.is_some_and(|y| !(1900..=2100).contains(&y)) {
        return Err(bad_query(
            "admitted_year",
            "admitted_year is a year between 1900 and 2100.",
        ));
    }
    let filter = ListFilter {
        under: clean(q.under),
        on: q.on,
        status,
        exempt: q.exempt,
        admitted_year: q.admitted_year,
        q: q.q,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
    let page = crate::store::Page {
        items: page.items.into_iter().map(|m| shown(&caller, m)).collect(),
        next_cursor: page.next_cursor,
    };
    Ok(HttpResponse::Ok().json(page))
}

impl MemberCreate {
    /// Normalises, validates and checks an override: the one way in for a new member, from
    /// this API and from the bulk import.
    pub(crate) fn prepare(self, caller: &Caller) -> Result<NewMember> {
        let mut b = self;
        b.profile_number = text::normalize(&b.profile_number);
        b.full_name = text::normalize(&b.full_name);
        b.organization_code = text::normalize(&b.organization_code);
        b.card_number = clean(b.card_number);
        b.national_id = clean(b.national_id);
        b.ethnicity = clean(b.ethnicity);
        b.religion = clean(b.religion);
        b.override_reason = clean(b.override_reason);
        b.validate()?;
        allow_override(caller, &b.override_reason)?;
        Ok(NewMember {
            profile_number: b.profile_number,
            card_number: b.card_number,
            full_name: b.full_name,
            gender: b.gender,
            born_on: b.born_on,
            ethnicity: b.ethnicity,
            religion: b.religion,
            national_id: b.national_id,
            organization_code: b.organization_code,
            organization_since: b.organization_since,
            admitted_on: b.admitted_on,
            ceremony_on: b.ceremony_on,
            official_on: b.official_on,
            exempt_since: b.exempt_since,
            override_reason: b.override_reason,
        })
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<MemberCreate>,
) -> Result<HttpResponse> {
    let new = body.into_inner().prepare(&caller)?;
    let vis = caller.visibility();
    let by = caller.username.clone();
    let reason = new.override_reason.clone();
    let member = state
        .write(caller.actor(), move |conn| {
            let member = store::create(conn, vis, new, &by)?;
            let (member, change) = audit::created("member", member.profile_number.clone(), member);
            Ok((member, change.reason(reason)))
        })
        .await?;
    let member = shown(&caller, member);
    Ok(created(
        format!("/api/v1/members/{}", member.profile_number),
        Some(member.version),
        &member,
    ))
}

/// The API's most frequent request: the caller is checked and the member read on one pooled
/// connection, in one trip to the blocking pool.
pub async fn get(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let profile_number = text::normalize(&path.into_inner());
    let (caller, member) = state
        .db(move |conn| {
            let caller = credentials.caller(conn)?;
            let member = store::get(conn, caller.visibility(), &profile_number)?;
            Ok((caller, member))
        })
        .await?;
    Ok(answer(&caller, member))
}

pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    if_match: IfMatch,
    body: web::Json<MemberUpdate>,
) -> Result<HttpResponse> {
    let profile_number = text::normalize(&path.into_inner());
    let mut b = body.into_inner();
    b.full_name = b.full_name.map(|n| text::normalize(&n));
    b.validate()?;
    allow_override(&caller, &b.override_reason)?;
    let national_id = clean_opt(b.national_id);
    if let Some(Some(id)) = &national_id {
        crate::api::fields::national_id(id).map_err(|e| {
            Error::invalid(
                "national_id",
                "pattern",
                e.message.map(|m| m.to_string()).unwrap_or_default(),
            )
        })?;
    }
    let card_number = clean_opt(b.card_number);
    if card_number
        .as_ref()
        .and_then(|c| c.as_ref())
        .is_some_and(|c| c.chars().count() > 32)
    {
        return Err(Error::invalid(
            "card_number",
            "length",
            "Must be at most 32 characters long.",
        ));
    }
    let patch = MemberPatch {
        card_number,
        full_name: b.full_name,
        gender: b.gender,
        born_on: b.born_on,
        ethnicity: clean_opt(b.ethnicity),
        religion: clean_opt(b.religion),
        national_id,
        admitted_on: b.admitted_on,
        ceremony_on: b.ceremony_on,
        override_reason: clean(b.override_reason),
    };
    let vis = caller.visibility();
    let by = caller.username.clone();
    let reason = patch.override_reason.clone();
    let member = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, &profile_number)?;
            let after = store::update(conn, vis, &profile_number, if_match.0, patch, &by)?;
            let (after, change) =
                audit::changed("member", profile_number, "update", &before, after);
            Ok((after, change.reason(reason)))
        })
        .await?;
    Ok(answer(&caller, member))
}

/// Runs one lifecycle write on the member named in the path, as the caller, and answers with
/// the member as the caller may see them.
async fn write<F>(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    action: &'static str,
    write: F,
) -> Result<HttpResponse>
where
    F: FnOnce(&mut crate::db::DbConn, crate::auth::Visibility, &str, &str) -> Result<Member>
        + Send
        + 'static,
{
    let profile_number = text::normalize(&path.into_inner());
    let (vis, by) = (caller.visibility(), caller.username.clone());
    let member = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, &profile_number)?;
            let after = write(conn, vis, &profile_number, &by)?;
            Ok(audit::changed(
                "member",
                profile_number,
                action,
                &before,
                after,
            ))
        })
        .await?;
    Ok(answer(&caller, member))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognitionRequest {
    official_on: Option<NaiveDate>,
}

pub async fn recognise(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RecognitionRequest>,
) -> Result<HttpResponse> {
    let requested = body.into_inner().official_on;
    write(
        state,
        caller,
        path,
        "recognise",
        move |conn, vis, profile_number, by| {
            store::recognise(conn, vis, profile_number, requested, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    organization_code: String,
    on: NaiveDate,
    kind: Option<MembershipKind>,
    until: Option<NaiveDate>,
}

impl TransferRequest {
    pub(crate) fn prepare(self) -> store::Transfer {
        store::Transfer {
            organization_code: text::normalize(&self.organization_code),
            on: self.on,
            kind: self.kind.unwrap_or(MembershipKind::Official),
            until: self.until,
        }
    }
}

pub async fn transfer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<TransferRequest>,
) -> Result<HttpResponse> {
    let transfer = body.into_inner().prepare();
    write(
        state,
        caller,
        path,
        "transfer",
        move |conn, vis, profile_number, by| {
            store::transfer(conn, vis, profile_number, transfer, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExemptionRequest {
    starts_on: NaiveDate,
    /// A past exemption, recorded with its end (an open one is ended by `/exemptions/end`).
    ends_on: Option<NaiveDate>,
    #[validate(length(max = 500))]
    reason: Option<String>,
}

/// An exemption's first day and, for a past one, its end.
pub(crate) type ExemptionPeriod = (NaiveDate, Option<NaiveDate>);

impl ExemptionRequest {
    /// The period and the reason, validated and cleaned as every exemption is.
    pub(crate) fn prepare(self) -> Result<(ExemptionPeriod, Option<String>)> {
        self.validate()?;
        Ok(((self.starts_on, self.ends_on), clean(self.reason)))
    }
}

pub async fn exempt(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ExemptionRequest>,
) -> Result<HttpResponse> {
    let (period, reason) = body.into_inner().prepare()?;
    write(
        state,
        caller,
        path,
        "exempt",
        move |conn, vis, profile_number, by| {
            store::record_exemption(conn, vis, profile_number, period, reason, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    on: NaiveDate,
}

pub async fn end_exemption(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<EndRequest>,
) -> Result<HttpResponse> {
    let on = body.into_inner().on;
    write(
        state,
        caller,
        path,
        "end_exemption",
        move |conn, vis, profile_number, by| {
            store::end_exemption(conn, vis, profile_number, on, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    reason: LeaveReason,
    on: NaiveDate,
}

pub async fn leave(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<LeaveRequest>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    write(
        state,
        caller,
        path,
        "leave",
        move |conn, vis, profile_number, by| {
            store::leave(conn, vis, profile_number, b.reason, b.on, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct GapRequest {
    reason: GapReason,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    #[validate(length(max = 500))]
    note: Option<String>,
}

impl GapRequest {
    /// The gap, validated and cleaned as every gap entered by hand is.
    pub(crate) fn prepare(self) -> Result<store::Gap> {
        self.validate()?;
        Ok(store::Gap {
            reason: self.reason,
            starts_on: self.starts_on,
            ends_on: Some(self.ends_on),
            note: clean(self.note),
        })
    }
}

pub async fn add_gap(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<GapRequest>,
) -> Result<HttpResponse> {
    let gap = body.into_inner().prepare()?;
    write(
        state,
        caller,
        path,
        "add_party_age_gap",
        move |conn, vis, profile_number, by| store::add_gap(conn, vis, profile_number, gap, by),
    )
    .await
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PositionRequest {
    #[validate(length(min = 1, max = 200))]
    title: String,
    organization_code: Option<String>,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
}

impl PositionRequest {
    pub(crate) fn prepare(mut self) -> Result<store::Position> {
        self.title = text::normalize(&self.title);
        self.validate()?;
        Ok(store::Position {
            title: self.title,
            organization_code: clean(self.organization_code),
            starts_on: self.starts_on,
            ends_on: self.ends_on,
        })
    }
}

pub async fn add_position(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<PositionRequest>,
) -> Result<HttpResponse> {
    let position = body.into_inner().prepare()?;
    write(
        state,
        caller,
        path,
        "add_position",
        move |conn, vis, profile_number, by| {
            store::add_position(conn, vis, profile_number, position, by)
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionEndRequest {
    title: String,
    on: NaiveDate,
}

pub async fn end_position(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<PositionEndRequest>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    let title = text::normalize(&b.title);
    write(
        state,
        caller,
        path,
        "end_position",
        move |conn, vis, profile_number, by| {
            store::end_position(conn, vis, profile_number, &title, b.on, by)
        },
    )
    .await
}

pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let profile_number = text::normalize(&path.into_inner());
    let vis = caller.visibility();
    let history = state
        .db(move |conn| store::history(conn, vis, &profile_number))
        .await?;
    Ok(HttpResponse::Ok().json(history))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyAgeQuery {
    on: Option<NaiveDate>,
}

pub async fn party_age(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PartyAgeQuery>,
) -> Result<HttpResponse> {
    let profile_number = text::normalize(&path.into_inner());
    let on = query.into_inner().on.unwrap_or_else(crate::time::today);
    let vis = caller.visibility();
    let age = state
        .db(move |conn| store::party_age(conn, vis, &profile_number, on))
        .await?;
    Ok(HttpResponse::Ok().json(age))
}
