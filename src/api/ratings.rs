//! Quality ratings of members and organisations: one, a batch, corrections, lists.

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::api::extract::IfMatch;
use crate::api::fields::{clean, double_option, query_year};
use crate::api::{allow_override, created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::organization::OrgKind;
use crate::domain::rating::Level;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::ratings as store;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingCreate {
    profile_number: String,
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    level: Level,
    #[validate(range(min = 0, max = 100))]
    score: Option<i32>,
    #[validate(length(max = 500))]
    reason: Option<String>,
    self_corrected: Option<bool>,
    decided_on: Option<NaiveDate>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

impl MemberRatingCreate {
    /// Validates and checks an override: (profile number, year, rating).
    pub(crate) fn prepare(self, caller: &Caller) -> Result<(String, i32, store::RatingInput)> {
        self.validate()?;
        allow_override(caller, &self.override_reason)?;
        let year = self.year;
        let (profile_number, input) = self.input();
        Ok((profile_number, year, input))
    }

    fn input(self) -> (String, store::RatingInput) {
        (
            text::normalize(&self.profile_number),
            store::RatingInput {
                level: self.level,
                score: self.score,
                reason: clean(self.reason),
                self_corrected: self.self_corrected.unwrap_or(false),
                decided_on: self.decided_on,
                override_reason: clean(self.override_reason),
            },
        )
    }
}

pub async fn create_member_rating(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<MemberRatingCreate>,
) -> Result<HttpResponse> {
    let (profile_number, year, input) = body.into_inner().prepare(&caller)?;
    let vis = caller.visibility();
    let reason = input.override_reason.clone();
    let rating = state
        .write(caller.actor(), move |conn| {
            let rating = store::create_member_rating(conn, vis, &profile_number, year, input)?;
            let key = format!("{profile_number}/{year}");
            let (rating, change) = audit::created("member_rating", key, rating);
            Ok((rating, change.reason(reason)))
        })
        .await?;
    Ok(created(
        format!(
            "/api/v1/ratings/members/{}/{}",
            rating.profile_number, rating.year
        ),
        Some(rating.version),
        &rating,
    ))
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingItem {
    profile_number: String,
    level: Level,
    #[validate(range(min = 0, max = 100))]
    score: Option<i32>,
    #[validate(length(max = 500))]
    reason: Option<String>,
    self_corrected: Option<bool>,
    decided_on: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingBatch {
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    #[validate(length(min = 1, max = 5000), nested)]
    ratings: Vec<MemberRatingItem>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

/// One event per rating of a batch, with the rating as sent (the batch answers counts only).
fn batch_changes<T: Serialize>(
    entity: &'static str,
    year: i32,
    items: &[T],
    reason: &Option<String>,
    key: impl Fn(&T) -> String,
) -> Vec<audit::Change> {
    items
        .iter()
        .map(|item| {
            audit::Change::new(entity, format!("{}/{year}", key(item)), "create")
                .after(item)
                .reason(reason.clone())
        })
        .collect()
}

pub async fn create_member_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<MemberRatingBatch>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    body.validate()?;
    allow_override(&caller, &body.override_reason)?;
    let year = body.year;
    let override_reason = clean(body.override_reason);
    let changes = batch_changes(
        "member_rating",
        year,
        &body.ratings,
        &override_reason,
        |i| text::normalize(&i.profile_number),
    );
    let items: Vec<(String, store::RatingInput)> = body
        .ratings
        .into_iter()
        .map(|i| {
            (
                text::normalize(&i.profile_number),
                store::RatingInput {
                    level: i.level,
                    score: i.score,
                    reason: clean(i.reason),
                    self_corrected: i.self_corrected.unwrap_or(false),
                    decided_on: i.decided_on,
                    override_reason: override_reason.clone(),
                },
            )
        })
        .collect();
    let vis = caller.visibility();
    let (count, warnings) = state
        .write(caller.actor(), move |conn| {
            Ok((
                store::create_member_ratings(conn, vis, year, items)?,
                changes,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"year": year, "count": count, "warnings": warnings})))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RatingUpdate {
    level: Option<Level>,
    #[serde(default, deserialize_with = "double_option")]
    score: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    reason: Option<Option<String>>,
    self_corrected: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    decided_on: Option<Option<NaiveDate>>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

impl RatingUpdate {
    fn patch(self) -> Result<store::RatingPatch> {
        if let Some(Some(score)) = self.score {
            if !(0..=100).contains(&score) {
                return Err(Error::invalid(
                    "score",
                    "range",
                    "Must be between 0 and 100.",
                ));
            }
        }
        Ok(store::RatingPatch {
            level: self.level,
            score: self.score,
            reason: self.reason.map(clean),
            self_corrected: self.self_corrected,
            decided_on: self.decided_on,
            override_reason: clean(self.override_reason),
        })
    }
}

pub async fn get_member_rating(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse> {
    let (profile_number, year) = path.into_inner();
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| {
            store::get_member_rating(conn, vis, &text::normalize(&profile_number), year)
        })
        .await?;
    Ok(ok_with_etag(rating.version, &rating))
}

pub async fn update_member_rating(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
    if_match: IfMatch,
    body: web::Json<RatingUpdate>,
) -> Result<HttpResponse> {
    let (profile_number, year) = path.into_inner();
    let body = body.into_inner();
    body.validate()?;
    allow_override(&caller, &body.override_reason)?;
    let reason = clean(body.override_reason.clone());
    let patch = body.patch()?;
    let vis = caller.visibility();
    let rating = state
        .write(caller.actor(), move |conn| {
            let profile_number = text::normalize(&profile_number);
            let before = store::get_member_rating(conn, vis, &profile_number, year)?;
            let after =
                store::update_member_rating(conn, vis, &profile_number, year, if_match.0, patch)?;
            let key = format!("{profile_number}/{year}");
            let (after, change) = audit::changed("member_rating", key, "update", &before, after);
            Ok((after, change.reason(reason)))
        })
        .await?;
    Ok(ok_with_etag(rating.version, &rating))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingListQuery {
    year: Option<i32>,
    under: Option<String>,
    level: Option<Level>,
    kind: Option<OrgKind>,
    limit: Option<i64>,
    cursor: Option<String>,
}

impl RatingListQuery {
    fn filter(self) -> Result<store::RatingFilter> {
        Ok(store::RatingFilter {
            year: query_year(self.year)?,
            under: clean(self.under),
            level: self.level,
            kind: self.kind,
            limit: page_limit(self.limit)?,
            cursor: self.cursor,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRatingListQuery {
    year: Option<i32>,
    under: Option<String>,
    level: Option<Level>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_member_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<MemberRatingListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = RatingListQuery {
        year: q.year,
        under: q.under,
        level: q.level,
        kind: None,
        limit: q.limit,
        cursor: q.cursor,
    }
    .filter()?;
    let vis = caller.visibility();
    let page = state
        .db(move |conn| store::list_member_ratings(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrgRatingCreate {
    organization_code: String,
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    level: Level,
    #[validate(range(min = 0, max = 100))]
    score: Option<i32>,
    #[validate(length(max = 500))]
    reason: Option<String>,
    decided_on: Option<NaiveDate>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

impl OrgRatingCreate {
    /// Validates and checks an override: (organisation code, year, rating).
    pub(crate) fn prepare(self, caller: &Caller) -> Result<(String, i32, store::RatingInput)> {
        self.validate()?;
        allow_override(caller, &self.override_reason)?;
        let input = store::RatingInput {
            level: self.level,
            score: self.score,
            reason: clean(self.reason),
            self_corrected: false,
            decided_on: self.decided_on,
            override_reason: clean(self.override_reason),
        };
        Ok((text::normalize(&self.organization_code), self.year, input))
    }
}

pub async fn create_org_rating(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<OrgRatingCreate>,
) -> Result<HttpResponse> {
    let (code, year, input) = body.into_inner().prepare(&caller)?;
    let vis = caller.visibility();
    let reason = input.override_reason.clone();
    let rating = state
        .write(caller.actor(), move |conn| {
            let rating = store::create_org_rating(conn, vis, &code, year, input)?;
            let (rating, change) =
                audit::created("organization_rating", format!("{code}/{year}"), rating);
            Ok((rating, change.reason(reason)))
        })
        .await?;
    Ok(created(
        format!(
            "/api/v1/ratings/organizations/{}/{}",
            rating.organization_code, rating.year
        ),
        Some(rating.version),
        &rating,
    ))
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrgRatingItem {
    organization_code: String,
    level: Level,
    #[validate(range(min = 0, max = 100))]
    score: Option<i32>,
    #[validate(length(max = 500))]
    reason: Option<String>,
    decided_on: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrgRatingBatch {
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    #[validate(length(min = 1, max = 5000), nested)]
    ratings: Vec<OrgRatingItem>,
    #[validate(length(min = 1, max = 500))]
    override_reason: Option<String>,
}

pub async fn create_org_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<OrgRatingBatch>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    body.validate()?;
    allow_override(&caller, &body.override_reason)?;
    let year = body.year;
    let override_reason = clean(body.override_reason);
    let changes = batch_changes(
        "organization_rating",
        year,
        &body.ratings,
        &override_reason,
        |i| text::normalize(&i.organization_code),
    );
    let items = body
        .ratings
        .into_iter()
        .map(|i| {
            (
                text::normalize(&i.organization_code),
                store::RatingInput {
                    level: i.level,
                    score: i.score,
                    reason: clean(i.reason),
                    self_corrected: false,
                    decided_on: i.decided_on,
                    override_reason: override_reason.clone(),
                },
            )
        })
        .collect();
    let vis = caller.visibility();
    let (count, warnings) = state
        .write(caller.actor(), move |conn| {
            Ok((store::create_org_ratings(conn, vis, year, items)?, changes))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"year": year, "count": count, "warnings": warnings})))
}

pub async fn get_org_rating(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse> {
    let (code, year) = path.into_inner();
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| store::get_org_rating(conn, vis, &text::normalize(&code), year))
        .await?;
    Ok(ok_with_etag(rating.version, &rating))
}

pub async fn update_org_rating(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
    if_match: IfMatch,
    body: web::Json<RatingUpdate>,
) -> Result<HttpResponse> {
    let (code, year) = path.into_inner();
    let body = body.into_inner();
    body.validate()?;
    allow_override(&caller, &body.override_reason)?;
    if body.self_corrected.is_some() {
        return Err(Error::bad_request(
            "Organisation ratings have no self_corrected field.",
        ));
    }
    let reason = clean(body.override_reason.clone());
    let patch = body.patch()?;
    let vis = caller.visibility();
    let rating = state
        .write(caller.actor(), move |conn| {
            let code = text::normalize(&code);
            let before = store::get_org_rating(conn, vis, &code, year)?;
            let after = store::update_org_rating(conn, vis, &code, year, if_match.0, patch)?;
            let key = format!("{code}/{year}");
            let (after, change) =
                audit::changed("organization_rating", key, "update", &before, after);
            Ok((after, change.reason(reason)))
        })
        .await?;
    Ok(ok_with_etag(rating.version, &rating))
}

pub async fn list_org_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RatingListQuery>,
) -> Result<HttpResponse> {
    let filter = query.into_inner().filter()?;
    let vis = caller.visibility();
    let page = state
        .db(move |conn| store::list_org_ratings(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
