//! Liveness, readiness and the API description.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::AppState;
use crate::error::{Error, Result};

/// The process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers and every migration is applied.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse> {
    let current = state
        .db(|conn| crate::db::migrations_are_current(conn).map_err(Error::Unavailable))
        .await?;
    if current {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(Error::Unavailable("migrations are pending".into()))
    }
}

pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}
