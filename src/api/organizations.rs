//! Party organisations: create, read, list, update, dissolve, move, and the tree.

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use crate::api::extract::IfMatch;
use crate::api::{created, ok_with_etag, page_limit, AppState};
use crate::auth::Caller;
use crate::domain::organization::OrgKind;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::organizations::{self as store, ListFilter, NewOrganization, OrganizationPatch};

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrganizationCreate {
    #[validate(custom(function = "crate::api::fields::org_code"))]
    code: String,
    #[validate(length(min = 1, max = 255))]
    name: String,
    kind: OrgKind,
    parent_code: Option<String>,
    established_on: NaiveDate,
    dissolved_on: Option<NaiveDate>,
    has_branch_committee: Option<bool>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    #[validate(length(min = 1, max = 255))]
    name: Option<String>,
    has_branch_committee: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DissolveRequest {
    on: NaiveDate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    parent_code: String,
    on: NaiveDate,
}

impl MoveRequest {
    /// The new parent's code (normalised) and the day.
    pub(crate) fn prepare(self) -> (String, NaiveDate) {
        (text::normalize(&self.parent_code), self.on)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<OrgKind>,
    parent: Option<String>,
    under: Option<String>,
    on: Option<NaiveDate>,
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeQuery {
    depth: Option<i32>,
    on: Option<NaiveDate>,
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = ListFilter {
        kind: q.kind,
        parent: q.parent.map(|c| text::normalize(&c)),
        under: q.under.map(|c| text::normalize(&c)),
        on: q.on,
        q: q.q,
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
    Ok(HttpResponse::Ok().json(page))
}

impl OrganizationCreate {
    /// Normalises, validates and checks the caller's role: the one way in for a new
    /// organisation, from this API and from the bulk import.
    pub(crate) fn prepare(mut self, caller: &Caller) -> Result<NewOrganization> {
        self.code = text::normalize(&self.code);
        self.name = text::normalize(&self.name);
        self.validate()?;
        if self.kind == OrgKind::ProvincialCommittee && !caller.is_admin() {
            return Err(Error::forbidden(
                "Only administrators create a provincial committee (the root of a province).",
            ));
        }
        Ok(NewOrganization {
            code: self.code,
            name: self.name,
            kind: self.kind,
            parent_code: self
                .parent_code
                .map(|c| text::normalize(&c))
                .filter(|c| !c.is_empty()),
            established_on: self.established_on,
            dissolved_on: self.dissolved_on,
            has_branch_committee: self.has_branch_committee.unwrap_or(false),
        })
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<OrganizationCreate>,
) -> Result<HttpResponse> {
    let new = body.into_inner().prepare(&caller)?;
    let vis = caller.visibility();
    let org = state
        .write(caller.actor(), move |conn| {
            let org = store::create(conn, vis, new)?;
            Ok(audit::created("organization", org.code.clone(), org))
        })
        .await?;
    Ok(created(
        format!("/api/v1/organizations/{}", org.code),
        Some(org.version),
        &org,
    ))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let code = text::normalize(&path.into_inner());
    let vis = caller.visibility();
    let org = state.db(move |conn| store::get(conn, vis, &code)).await?;
    Ok(ok_with_etag(org.version, &org))
}

pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    if_match: IfMatch,
    body: web::Json<OrganizationUpdate>,
) -> Result<HttpResponse> {
    let code = text::normalize(&path.into_inner());
    let mut body = body.into_inner();
    body.name = body.name.map(|n| text::normalize(&n));
    body.validate()?;
    let patch = OrganizationPatch {
        name: body.name,
        has_branch_committee: body.has_branch_committee,
    };
    let vis = caller.visibility();
    let org = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, &code)?;
            let after = store::update(conn, vis, &code, if_match.0, patch)?;
            Ok(audit::changed(
                "organization",
                code,
                "update",
                &before,
                after,
            ))
        })
        .await?;
    Ok(ok_with_etag(org.version, &org))
}

pub async fn dissolve(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<DissolveRequest>,
) -> Result<HttpResponse> {
    let code = text::normalize(&path.into_inner());
    let on = body.into_inner().on;
    let vis = caller.visibility();
    let org = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, &code)?;
            let after = store::dissolve(conn, vis, &code, on)?;
            Ok(audit::changed(
                "organization",
                code,
                "dissolve",
                &before,
                after,
            ))
        })
        .await?;
    Ok(ok_with_etag(org.version, &org))
}

pub async fn move_to(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<MoveRequest>,
) -> Result<HttpResponse> {
    let code = text::normalize(&path.into_inner());
    let (parent_code, on) = body.into_inner().prepare();
    let vis = caller.visibility();
    let org = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, vis, &code)?;
            let after = store::move_to(conn, vis, &code, &parent_code, on)?;
            Ok(audit::changed("organization", code, "move", &before, after))
        })
        .await?;
    Ok(ok_with_etag(org.version, &org))
}

pub async fn tree(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<TreeQuery>,
) -> Result<HttpResponse> {
    let code = text::normalize(&path.into_inner());
    let TreeQuery { depth, on } = query.into_inner();
    let depth = depth.unwrap_or(1);
    if !(1..=10).contains(&depth) {
        return Err(Error::BadRequest {
            detail: "depth must be between 1 and 10.".into(),
            errors: vec![crate::error::FieldError::new(
                "depth",
                "range",
                "Must be between 1 and 10.",
            )],
        });
    }
    let on = on.unwrap_or_else(crate::time::today);
    let vis = caller.visibility();
    let node = state
        .db(move |conn| store::tree(conn, vis, &code, on, depth))
        .await?;
    Ok(HttpResponse::Ok().json(node))
}
