//! Annual records: quality ratings, party discipline, Party insignia, admission targets.
//! Handlers shape input; `store::{ratings, discipline, insignia, targets}` apply the rules.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::api::extract::IfMatch;
use crate::api::fields::double_option;
use crate::api::{allow_override, created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::discipline::{AppealOutcome, Form, SubjectType};
use crate::domain::organization::OrgKind;
use crate::domain::rating::Level;
use crate::domain::text;
use crate::error::{Error, FieldError, Result};
use crate::store::{discipline, insignia, ratings, targets};

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| text::normalize(&v)).filter(|v| !v.is_empty())
}

fn query_year(year: Option<i32>) -> Result<Option<i32>> {
    match year {
        Some(y) if !(2000..=2100).contains(&y) => Err(Error::BadRequest {
            detail: "year is between 2000 and 2100.".into(),
            errors: vec![FieldError::new(
                "year",
                "range",
                "Must be between 2000 and 2100.",
            )],
        }),
        other => Ok(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Ratings

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
    fn input(self) -> (String, ratings::RatingInput) {
        (
            text::normalize(&self.profile_number),
            ratings::RatingInput {
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
    let body = body.into_inner();
    body.validate()?;
    allow_override(&caller, &body.override_reason)?;
    let year = body.year;
    let (profile_number, input) = body.input();
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| ratings::create_member_rating(conn, vis, &profile_number, year, input))
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
    let items: Vec<(String, ratings::RatingInput)> = body
        .ratings
        .into_iter()
        .map(|i| {
            (
                text::normalize(&i.profile_number),
                ratings::RatingInput {
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
        .db(move |conn| ratings::create_member_ratings(conn, vis, year, items))
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
    fn patch(self) -> Result<ratings::RatingPatch> {
        if let Some(Some(score)) = self.score {
            if !(0..=100).contains(&score) {
                return Err(Error::invalid(
                    "score",
                    "range",
                    "Must be between 0 and 100.",
                ));
            }
        }
        Ok(ratings::RatingPatch {
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
            ratings::get_member_rating(conn, vis, &text::normalize(&profile_number), year)
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
    let patch = body.patch()?;
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| {
            ratings::update_member_rating(
                conn,
                vis,
                &text::normalize(&profile_number),
                year,
                if_match.0,
                patch,
            )
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
    fn filter(self) -> Result<ratings::RatingFilter> {
        Ok(ratings::RatingFilter {
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
        .db(move |conn| ratings::list_member_ratings(conn, vis, filter))
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

pub async fn create_org_rating(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<OrgRatingCreate>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    b.validate()?;
    allow_override(&caller, &b.override_reason)?;
    let code = text::normalize(&b.organization_code);
    let year = b.year;
    let input = ratings::RatingInput {
        level: b.level,
        score: b.score,
        reason: clean(b.reason),
        self_corrected: false,
        decided_on: b.decided_on,
        override_reason: clean(b.override_reason),
    };
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| ratings::create_org_rating(conn, vis, &code, year, input))
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
    let items = body
        .ratings
        .into_iter()
        .map(|i| {
            (
                text::normalize(&i.organization_code),
                ratings::RatingInput {
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
        .db(move |conn| ratings::create_org_ratings(conn, vis, year, items))
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
        .db(move |conn| ratings::get_org_rating(conn, vis, &text::normalize(&code), year))
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
    let patch = body.patch()?;
    let vis = caller.visibility();
    let rating = state
        .db(move |conn| {
            ratings::update_org_rating(conn, vis, &text::normalize(&code), year, if_match.0, patch)
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
        .db(move |conn| ratings::list_org_ratings(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---------------------------------------------------------------------------------------------
// Discipline

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

pub async fn create_action(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ActionCreate>,
) -> Result<HttpResponse> {
    let mut b = body.into_inner();
    b.subject = text::normalize(&b.subject);
    b.decision_number = text::normalize(&b.decision_number);
    b.authority_code = text::normalize(&b.authority_code);
    b.validate()?;
    allow_override(&caller, &b.override_reason)?;
    let new = discipline::NewAction {
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
    };
    let (vis, by) = (caller.visibility(), caller.username.clone());
    let action = state
        .db(move |conn| discipline::create(conn, vis, new, &by))
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
    let filter = discipline::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        subject_type: q.subject_type,
        form: q.form,
        in_force_on: q.in_force_on,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state
        .db(move |conn| discipline::list(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_action(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let vis = caller.visibility();
    let action = state.db(move |conn| discipline::get(conn, vis, id)).await?;
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
    let b = body.into_inner();
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
    let input = discipline::AppealInput {
        filed_on: b.filed_on,
        outcome: b.outcome,
        decided_on: b.decided_on,
        reduced_form: b.reduced_form,
    };
    let (vis, by) = (caller.visibility(), caller.username.clone());
    let action = state
        .db(move |conn| discipline::appeal(conn, vis, id, input, &by))
        .await?;
    Ok(ok_with_etag(action.version, &action))
}

// ---------------------------------------------------------------------------------------------
// Insignia

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

pub async fn create_award(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AwardCreate>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    b.validate()?;
    allow_override(&caller, &b.override_reason)?;
    let new = insignia::NewAward {
        profile_number: text::normalize(&b.profile_number),
        tier: b.tier,
        awarded_on: b.awarded_on,
        decision_number: clean(b.decision_number),
        posthumous: b.posthumous.unwrap_or(false),
        early: b.early.unwrap_or(false),
        override_reason: clean(b.override_reason),
    };
    let vis = caller.visibility();
    let award = state
        .db(move |conn| insignia::create(conn, vis, new))
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
    let filter = insignia::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        tier: q.tier,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state
        .db(move |conn| insignia::list(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_award(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let vis = caller.visibility();
    let award = state.db(move |conn| insignia::get(conn, vis, id)).await?;
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
    if let Some(tier) = q.tier {
        crate::domain::insignia::check_tier(tier).map_err(|v| Error::BadRequest {
            detail: v.message.clone(),
            errors: vec![v.into()],
        })?;
    }
    let under = clean(q.under);
    let vis = caller.visibility();
    let list = state
        .db(move |conn| insignia::eligible(conn, vis, q.on, under.as_deref(), q.tier))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

// ---------------------------------------------------------------------------------------------
// Admission targets

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TargetCreate {
    organization_code: String,
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    #[validate(range(min = 0, max = 1000000))]
    target: i32,
}

pub async fn create_target(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TargetCreate>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    b.validate()?;
    let code = text::normalize(&b.organization_code);
    let vis = caller.visibility();
    let target = state
        .db(move |conn| targets::create(conn, vis, &code, b.year, b.target))
        .await?;
    Ok(created(
        format!(
            "/api/v1/admission-targets/{}/{}",
            target.organization_code, target.year
        ),
        Some(target.version),
        &target,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetListQuery {
    year: Option<i32>,
    under: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_targets(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TargetListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = targets::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state
        .db(move |conn| targets::list(conn, vis, filter))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_target(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse> {
    let (code, year) = path.into_inner();
    let vis = caller.visibility();
    let target = state
        .db(move |conn| targets::get(conn, vis, &text::normalize(&code), year))
        .await?;
    Ok(ok_with_etag(target.version, &target))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TargetUpdate {
    #[validate(range(min = 0, max = 1000000))]
    target: i32,
}

pub async fn update_target(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, i32)>,
    if_match: IfMatch,
    body: web::Json<TargetUpdate>,
) -> Result<HttpResponse> {
    let (code, year) = path.into_inner();
    let b = body.into_inner();
    b.validate()?;
    let vis = caller.visibility();
    let target = state
        .db(move |conn| {
            targets::update(
                conn,
                vis,
                &text::normalize(&code),
                year,
                if_match.0,
                b.target,
            )
        })
        .await?;
    Ok(ok_with_etag(target.version, &target))
}
