//! Admission targets (chỉ tiêu kết nạp).

use actix_web::HttpResponse;

use crate::api::extract::web;
use serde::Deserialize;
use validator::Validate;

use crate::api::extract::IfMatch;
use crate::api::fields::{clean, query_year};
use crate::api::{created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::text;
use crate::error::Result;
use crate::store::audit;
use crate::store::targets as store;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TargetCreate {
    organization_code: String,
    #[validate(range(min = 2000, max = 2100))]
    year: i32,
    #[validate(range(min = 0, max = 1000000))]
    target: i32,
}

impl TargetCreate {
    /// (organisation code, year, target), validated.
    pub(crate) fn prepare(self) -> Result<(String, i32, i32)> {
        self.validate()?;
        Ok((
            text::normalize(&self.organization_code),
            self.year,
            self.target,
        ))
    }
}

pub async fn create_target(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TargetCreate>,
) -> Result<HttpResponse> {
    let (code, year, target) = body.into_inner().prepare()?;
    let vis = caller.visibility();
    let target = state
        .write(caller.actor(), move |conn| {
            let target = store::create(conn, vis, &code, year, target)?;
            Ok(audit::created(
                "admission_target",
                format!("{code}/{year}"),
                target,
            ))
        })
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
    let filter = store::ListFilter {
        year: query_year(q.year)?,
        under: clean(q.under),
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
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
        .db(move |conn| store::get(conn, vis, &text::normalize(&code), year))
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
        .write(caller.actor(), move |conn| {
            let code = text::normalize(&code);
            let before = store::get(conn, vis, &code, year)?;
            let after = store::update(conn, vis, &code, year, if_match.0, b.target)?;
            let key = format!("{code}/{year}");
            Ok(audit::changed(
                "admission_target",
                key,
                "update",
                &before,
                after,
            ))
        })
        .await?;
    Ok(ok_with_etag(target.version, &target))
}
