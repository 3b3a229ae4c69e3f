//! Statistics and the annual report, for an organisation's subtree in the caller's scope.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::api::AppState;
use crate::auth::Caller;
use crate::domain::figures::Rounding;
use crate::domain::text;
use crate::error::{Error, FieldError, Result};
use crate::report::{self, AnnualReport};
use crate::store::stats;

fn check_year(field: &str, year: i32) -> Result<i32> {
    if (1930..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(Error::BadRequest {
            detail: format!("{field} is a year between 1930 and 2100."),
            errors: vec![FieldError::new(
                field,
                "range",
                "Must be between 1930 and 2100.",
            )],
        })
    }
}

/// The organisation code asked about, normalised; `organization=` (empty) is a 400, not the
/// caller's scope, since a client that sends the parameter means some organisation.
fn organization_code(organization: Option<String>) -> Result<Option<String>> {
    match organization.map(|o| text::normalize(&o)) {
        Some(code) if code.is_empty() => Err(Error::BadRequest {
            detail: "organization is an organisation code; leave it out for your whole scope."
                .into(),
            errors: vec![FieldError::new(
                "organization",
                "required",
                "Must not be empty.",
            )],
        }),
        code => Ok(code),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructureQuery {
    organization: Option<String>,
    on: Option<NaiveDate>,
}

/// Answers with the figures `compute` makes for the organisation named, if the caller may see
/// it; with none named, for the caller's own scope (`stats::scope`).
async fn figures<T, F>(
    state: web::Data<AppState>,
    caller: &Caller,
    organization: Option<String>,
    compute: F,
) -> Result<HttpResponse>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &stats::Scope) -> Result<T> + Send + 'static,
{
    let code = organization_code(organization)?;
    let vis = caller.visibility();
    let figures = state
        .db(move |conn| {
            let scope = stats::scope(conn, vis, code.as_deref())?;
            stats::read(conn, |conn| compute(conn, &scope))
        })
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}

pub async fn structure(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StructureQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let on = q.on.unwrap_or_else(crate::time::today);
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::structure(conn, scope, on)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    organization: Option<String>,
    year: i32,
    #[serde(default)]
    rounding: Rounding,
}

pub async fn ratings(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::ratings(conn, scope, year, q.rounding)
    })
    .await
}

pub async fn admissions(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::admissions(conn, scope, year, q.rounding)
    })
    .await
}

pub async fn discipline(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::discipline(conn, scope, year)
    })
    .await
}

pub async fn insignia(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::insignia(conn, scope, year)
    })
    .await
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Text,
    Csv,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    organization: Option<String>,
    year: i32,
    rating_year: Option<i32>,
    #[serde(default)]
    format: Format,
    #[serde(default)]
    rounding: Rounding,
}

/// The party-building figures of one year's report: structure and ratings of the review held at
/// the end of `rating_year` (default: the year before, as the report does), and the admissions,
/// discipline and insignia of `year`.
pub async fn annual(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    let rating_year = check_year("rating_year", q.rating_year.unwrap_or(year - 1))?;
    let code = organization_code(q.organization)?;
    let vis = caller.visibility();
    let rounding = q.rounding;
    let report = state
        .db(move |conn| {
            let scope = stats::scope(conn, vis, code.as_deref())?;
            stats::read(conn, |conn| {
                let (structure, ratings, admissions) =
                    stats::annual_sections(conn, &scope, year, rating_year, rounding)?;
                Ok(AnnualReport {
                    organization: scope.code(),
                    organization_name: scope.name(),
                    year,
                    rating_year,
                    structure,
                    ratings,
                    admissions,
                    discipline: stats::discipline(conn, &scope, year)?,
                    insignia: stats::insignia(conn, &scope, year)?,
                })
            })
        })
        .await?;
    Ok(match q.format {
        Format::Json => HttpResponse::Ok().json(report),
        Format::Text => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(report::text(&report)),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(report::csv(&report)),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksQuery {
    organization: Option<String>,
    year: i32,
}

/// What does not add up, or breaks a soft rule, in a subtree for a rating year.
pub async fn checks(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ChecksQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let year = check_year("year", q.year)?;
    let vis = caller.visibility();
    figures(state, &caller, q.organization, move |conn, scope| {
        stats::checks(conn, vis, scope, year)
    })
    .await
}
