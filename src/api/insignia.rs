//! Party insignia awards and the list of members due one.

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use crate::api::fields::{clean, query_year};
use crate::api::{allow_override, created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::insignia as store;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AwardCreate {
    profile_number: String,
    tier: i32,
    awarded_on: NaiveDate,
    #[validate(length(min = 1, max = 64))]
    decision_number: Option<String>,
    posthumous: Option<bool>,
    early: Option<bool>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

impl AwardCreate {
    pub(crate) fn prepare(self, caller: &Caller) -> Result<store::NewAward> {
        let b = self;
        b.validate()?;
        allow_override(caller, &b.override_reason)?;
        Ok(store::NewAward {
            profile_number: text::normalize(&b.profile_number),
            tier: b.tier,
            awarded_on: b.awarded_on,
            decision_number: clean(b.decision_number),
            posthumous: b.posthumous.unwrap_or(false),
            early: b.early.unwrap_or(false),
            override_reason: clean(b.override_reason),
        })
    }
}

pub async fn create_award(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AwardCreate>,
) -> Result<HttpResponse> {
    let new = body.into_inner().prepare(&caller)?;
    let vis = caller.visibility();
    let award = state
        .write(caller.actor(), move |conn| {
            let award = store::create(conn, vis, new)?;
            let reason = award.override_reason.clone();
            let (award, change) = audit::created("insignia_award", award.id, award);
            Ok((award, change.reason(reason)))
        })
        .await?;
    Ok(created(
        format!("/api/v1/insignia-awards/{}", award.id),
        Some(award.version),
        &award,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardListQuery {
    year: Option<i32>,
    under: Option<String>,
    tier: Option<i32>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_awards(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AwardListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = store::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        tier: query_tier(q.tier)?,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_award(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let vis = caller.visibility();
    let award = state.db(move |conn| store::get(conn, vis, id)).await?;
    Ok(ok_with_etag(award.version, &award))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibleQuery {
    on: NaiveDate,
    under: Option<String>,
    tier: Option<i32>,
}

pub async fn eligible(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EligibleQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    query_tier(q.tier)?;
    let under = clean(q.under);
    let vis = caller.visibility();
    let list = state
        .db(move |conn| store::eligible(conn, vis, q.on, under.as_deref(), q.tier))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A `tier` filter names one of the tiers (400 otherwise, as any malformed query).
fn query_tier(tier: Option<i32>) -> Result<Option<i32>> {
    if let Some(tier) = tier {
        crate::domain::insignia::check_tier(tier).map_err(|v| Error::BadRequest {
            detail: v.message.clone(),
            errors: vec![v.into()],
        })?;
    }
    Ok(tier)
}
