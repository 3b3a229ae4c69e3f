//! The HTTP API: handlers parse input and check the caller's role, the store (with the domain's
//! rules) does the rest. Every route is declared once, in [`routes!`] below, with the access it
//! requires: the same table registers the handlers, guards them (the [`Caller`](crate::auth::Caller)
//! extractor looks the route up) and tells the access-matrix test which routes exist.

mod api_keys;
mod audit;
mod auth;
mod bulk;
pub(crate) mod discipline;
mod docs;
pub mod extract;
pub mod fields;
mod health;
pub(crate) mod insignia;
pub(crate) mod members;
pub(crate) mod organizations;
pub mod problem;
pub(crate) mod ratings;
pub mod request_id;
mod stats;
pub(crate) mod targets;
mod users;

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::auth::tokens::JwtKeys;
use crate::auth::Access;
use crate::db::{DbConn, DbPool};
use crate::error::{Error, Result};

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub keys: Arc<JwtKeys>,
    /// The largest bulk import body, in bytes (imports are streamed, so this bounds time and
    /// disk, not memory).
    pub max_import_bytes: u64,
}

impl AppState {
    /// Runs `f` with a pooled connection on the blocking thread pool. A pool that stays
    /// exhausted past its timeout answers 503 with Retry-After instead of hanging.
    pub async fn db<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            // A connection whose server went away is dropped by the pool on its return: diesel
            // marks it broken (libpq reports its transaction status as unknown).
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
    }
}

impl AppState {
    /// Runs a write and appends its audit events in the same transaction: `f` returns the
    /// answer and the [`Change`](crate::store::audit::Change)s it made; if `f` fails, nothing
    /// is written and nothing is recorded. `actor` is `caller.actor()`.
    pub async fn write<T, C, F>(&self, actor: crate::store::audit::Actor, f: F) -> Result<T>
    where
        T: Send + 'static,
        C: Into<Vec<crate::store::audit::Change>>,
        F: FnOnce(&mut DbConn) -> Result<(T, C)> + Send + 'static,
    {
        self.db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let (value, changes) = f(conn)?;
                crate::store::audit::append(conn, &actor, changes.into())?;
                Ok(value)
            })
        })
        .await
    }
}

/// One route: its method, its path pattern (as actix matches it) and the access it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

macro_rules! routes {
    ($( $path:literal { $( $method:ident => $handler:path, $access:expr; )+ } )+) => {
        /// Every route of the API, in the order registered.
        pub const ROUTES: &[RouteInfo] = &[
            $( $( RouteInfo { method: stringify!($method), path: $path, access: $access }, )+ )+
        ];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .route(web::method(Method::$method).to($handler)) )+
                );
            )+
        }
    };
}

routes! {
    "/health" { GET => health::health, Access::Public; }
    "/ready" { GET => health::ready, Access::Public; }
    "/openapi.yaml" { GET => health::openapi, Access::Public; }
    "/docs" { GET => docs::page, Access::Public; }
    "/docs/{asset}" { GET => docs::asset, Access::Public; }

    "/api/v1/auth/login" { POST => auth::login, Access::Public; }
    "/api/v1/auth/refresh" { POST => auth::refresh, Access::Public; }
    "/api/v1/auth/logout" { POST => auth::logout, Access::Public; }
    "/api/v1/me" { GET => auth::me, Access::Authenticated; }
    "/api/v1/me/password" { PUT => auth::change_password, Access::Authenticated; }

    "/api/v1/users" {
        GET => users::list, Access::Admin;
        POST => users::create, Access::Admin;
    }
    "/api/v1/users/{username}" {
        GET => users::get, Access::Admin;
        PATCH => users::update, Access::Admin;
    }
    "/api/v1/users/{username}/password" { POST => users::reset_password, Access::Admin; }

    "/api/v1/api-keys" {
        GET => api_keys::list, Access::Authenticated;
        POST => api_keys::create, Access::Authenticated;
    }
    "/api/v1/api-keys/{id}" { DELETE => api_keys::revoke, Access::Authenticated; }

    "/api/v1/organizations" {
        GET => organizations::list, Access::RecordRead;
        POST => organizations::create, Access::RecordWrite;
    }
    "/api/v1/organizations/{code}" {
        GET => organizations::get, Access::RecordRead;
        PATCH => organizations::update, Access::RecordWrite;
    }
    "/api/v1/organizations/{code}/dissolve" { POST => organizations::dissolve, Access::RecordWrite; }
    "/api/v1/organizations/{code}/move" { POST => organizations::move_to, Access::RecordWrite; }
    "/api/v1/organizations/{code}/tree" { GET => organizations::tree, Access::RecordRead; }

    "/api/v1/members" {
        GET => members::list, Access::RecordRead;
        POST => members::create, Access::RecordWrite;
    }
    "/api/v1/members/{profile_number}" {
        GET => members::get, Access::RecordRead;
        PATCH => members::update, Access::RecordWrite;
    }
    "/api/v1/members/{profile_number}/recognition" { POST => members::recognise, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/transfers" { POST => members::transfer, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/exemptions" { POST => members::exempt, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/exemptions/end" { POST => members::end_exemption, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/leave" { POST => members::leave, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/party-age-gaps" { POST => members::add_gap, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/positions" { POST => members::add_position, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/positions/end" { POST => members::end_position, Access::RecordWrite; }
    "/api/v1/members/{profile_number}/history" { GET => members::history, Access::RecordRead; }
    "/api/v1/members/{profile_number}/party-age" { GET => members::party_age, Access::RecordRead; }

    "/api/v1/ratings/members" {
        GET => ratings::list_member_ratings, Access::RecordRead;
        POST => ratings::create_member_rating, Access::RecordWrite;
    }
    "/api/v1/ratings/members/batch" { POST => ratings::create_member_ratings, Access::RecordWrite; }
    "/api/v1/ratings/members/{profile_number}/{year}" {
        GET => ratings::get_member_rating, Access::RecordRead;
        PATCH => ratings::update_member_rating, Access::RecordWrite;
    }
    "/api/v1/ratings/organizations" {
        GET => ratings::list_org_ratings, Access::RecordRead;
        POST => ratings::create_org_rating, Access::RecordWrite;
    }
    "/api/v1/ratings/organizations/batch" { POST => ratings::create_org_ratings, Access::RecordWrite; }
    "/api/v1/ratings/organizations/{code}/{year}" {
        GET => ratings::get_org_rating, Access::RecordRead;
        PATCH => ratings::update_org_rating, Access::RecordWrite;
    }

    "/api/v1/disciplinary-actions" {
        GET => discipline::list_actions, Access::DisciplineRead;
        POST => discipline::create_action, Access::DisciplineWrite;
    }
    "/api/v1/disciplinary-actions/{id}" { GET => discipline::get_action, Access::DisciplineRead; }
    "/api/v1/disciplinary-actions/{id}/appeal" { POST => discipline::appeal, Access::DisciplineWrite; }

    "/api/v1/insignia-awards" {
        GET => insignia::list_awards, Access::RecordRead;
        POST => insignia::create_award, Access::RecordWrite;
    }
    "/api/v1/insignia-awards/eligible" { GET => insignia::eligible, Access::RecordRead; }
    "/api/v1/insignia-awards/{id}" { GET => insignia::get_award, Access::RecordRead; }

    "/api/v1/admission-targets" {
        GET => targets::list_targets, Access::RecordRead;
        POST => targets::create_target, Access::RecordWrite;
    }
    "/api/v1/admission-targets/{code}/{year}" {
        GET => targets::get_target, Access::RecordRead;
        PATCH => targets::update_target, Access::RecordWrite;
    }

    "/api/v1/imports/{kind}" { POST => bulk::import, Access::Import; }
    "/api/v1/exports/{kind}" { GET => bulk::export, Access::RecordRead; }

    "/api/v1/audit/events" { GET => audit::events, Access::AuditRead; }
    "/api/v1/audit/verify" { GET => audit::verify, Access::AuditRead; }

    "/api/v1/stats/structure" { GET => stats::structure, Access::StatisticsRead; }
    "/api/v1/stats/ratings" { GET => stats::ratings, Access::StatisticsRead; }
    "/api/v1/stats/admissions" { GET => stats::admissions, Access::StatisticsRead; }
    "/api/v1/stats/discipline" { GET => stats::discipline, Access::StatisticsRead; }
    "/api/v1/stats/insignia" { GET => stats::insignia, Access::StatisticsRead; }
    "/api/v1/stats/checks" { GET => stats::checks, Access::StatisticsRead; }
    "/api/v1/reports/annual" { GET => stats::annual, Access::StatisticsRead; }
}

/// The access a route requires, by method and matched pattern.
pub fn access_of(method: &Method, pattern: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == pattern)
        .map(|r| r.access)
}

/// Registers the routes, the extractor error handlers and the fallback for unknown routes.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .content_type_required(true)
            .error_handler(move |err, req| problem::json_error(err, req, max_body_bytes)),
    )
    .app_data(web::PayloadConfig::default().limit(max_body_bytes))
    .app_data(web::QueryConfig::default().error_handler(problem::query_error))
    .app_data(web::PathConfig::default().error_handler(problem::path_error))
    .configure(register)
    .default_service(web::to(problem::no_route));
}

/// 200 with a JSON body and the record's version as ETag.
pub fn ok_with_etag(version: i64, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("ETag", extract::etag(version)))
        .json(body)
}

/// 201 with Location and ETag.
pub fn created(location: String, version: Option<i64>, body: &impl Serialize) -> HttpResponse {
    let mut builder = HttpResponse::Created();
    builder.insert_header(("Location", location));
    if let Some(version) = version {
        builder.insert_header(("ETag", extract::etag(version)));
    }
    builder.json(body)
}

/// Only administrators record a decision that breaks a hard rule, and they say why
/// (`override_reason`); from anyone else such a request answers 403.
pub fn allow_override(caller: &crate::auth::Caller, reason: &Option<String>) -> Result<()> {
    if reason.is_some() && !caller.is_admin() {
        Err(Error::forbidden(
            "Only administrators may override a rule (override_reason).",
        ))
    } else {
        Ok(())
    }
}

/// `limit` of a list: default 50, at most 500.
pub fn page_limit(limit: Option<i64>) -> Result<usize> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n as usize),
        Some(_) => Err(Error::BadRequest {
            detail: "limit must be between 1 and 500.".into(),
            errors: vec![crate::error::FieldError::new(
                "limit",
                "range",
                "Must be between 1 and 500.",
            )],
        }),
    }
}

/// The OpenAPI description served at `/openapi.yaml`.
pub fn openapi_yaml() -> &'static str {
    health::OPENAPI_YAML
}
