//! Party discipline: decisions, appeals, lists (what is in force on a day).

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use crate::api::fields::{clean, query_year};
use crate::api::{allow_override, created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::discipline::{AppealOutcome, Form, SubjectType};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::discipline as store;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ActionCreate {
    subject_type: SubjectType,
    #[validate(length(min = 1, max = 64))]
    subject: String,
    form: Form,
    #[validate(length(min = 1, max = 64))]
    decision_number: String,
    #[validate(length(min = 1, max = 32))]
    authority_code: String,
    decided_on: NaiveDate,
    announced_on: Option<NaiveDate>,
    #[validate(length(max = 2000))]
    violation: Option<String>,
    #[validate(length(max = 200))]
    regulation_article: Option<String>,
    especially_serious: Option<bool>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

impl ActionCreate {
    /// Normalises, validates and checks an override: the one way in for a decision.
    pub(crate) fn prepare(self, caller: &Caller) -> Result<store::NewAction> {
        let mut b = self;
        b.subject = text::normalize(&b.subject);
        b.decision_number = text::normalize(&b.decision_number);
        b.authority_code = text::normalize(&b.authority_code);
        b.validate()?;
        allow_override(caller, &b.override_reason)?;
        Ok(store::NewAction {
            subject_type: b.subject_type,
            subject: b.subject,
            form: b.form,
            decision_number: b.decision_number,
            authority_code: b.authority_code,
            decided_on: b.decided_on,
            announced_on: b.announced_on,
            violation: clean(b.violation),
            regulation_article: clean(b.regulation_article),
            especially_serious: b.especially_serious.unwrap_or(false),
            override_reason: clean(b.override_reason),
        })
    }
}

pub async fn create_action(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ActionCreate>,
) -> Result<HttpResponse> {
    let new = body.into_inner().prepare(&caller)?;
    let (vis, by) = (caller.visibility(), caller.username.clone());
    let action = state
        .write(caller.actor(), move |conn| {
            let action = store::create(conn, vis, new, &by)?;
            let reason = action.override_reason.clone();
            let (action, change) = audit::created("disciplinary_action", action.id, action);
            Ok((action, change.reason(reason)))
        })
        .await?;
    Ok(created(
        format!("/api/v1/disciplinary-actions/{}", action.id),
        Some(action.version),
        &action,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionListQuery {
    year: Option<i32>,
    under: Option<String>,
    subject_type: Option<SubjectType>,
    form: Option<Form>,
    in_force_on: Option<NaiveDate>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_actions(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ActionListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = store::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        subject_type: q.subject_type,
        form: q.form,
        in_force_on: q.in_force_on,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_action(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let vis = caller.visibility();
    let action = state.db(move |conn| store::get(conn, vis, id)).await?;
    Ok(ok_with_etag(action.version, &action))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    filed_on: NaiveDate,
    outcome: Option<AppealOutcome>,
    decided_on: Option<NaiveDate>,
    reduced_form: Option<Form>,
}

pub async fn appeal(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<AppealRequest>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let input = body.into_inner().prepare()?;
    let (vis, by) = (caller.visibility(), caller.username.clone());
    let action = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, id)?;
            let after = store::appeal(conn, vis, id, input, &by)?;
            Ok(audit::changed(
                "disciplinary_action",
                id,
                "appeal",
                &before,
                after,
            ))
        })
        .await?;
    Ok(ok_with_etag(action.version, &action))
}

impl AppealRequest {
    pub(crate) fn prepare(self) -> Result<store::AppealInput> {
        let b = self;
        if b.outcome.is_some() && b.decided_on.is_none() {
            return Err(Error::invalid(
                "decided_on",
                "required",
                "An outcome needs the date of the appeal decision.",
            ));
        }
        match (b.outcome, b.reduced_form) {
            (Some(AppealOutcome::Reduced), None) => {
                return Err(Error::invalid(
                    "reduced_form",
                    "required",
                    "A reduced decision names the lighter form.",
                ))
            }
            (outcome, Some(_)) if outcome != Some(AppealOutcome::Reduced) => {
                return Err(Error::invalid(
                    "reduced_form",
                    "invalid",
                    "Only a reduced decision names a new form.",
                ))
            }
            _ => {}
        }
        Ok(store::AppealInput {
            filed_on: b.filed_on,
            outcome: b.outcome,
            decided_on: b.decided_on,
            reduced_form: b.reduced_form,
        })
    }
}
