//! The audit trail: events (administrators; auditors within their scope) and a walk of the
//! hash chain.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::api::fields::clean;
use crate::api::{page_limit, AppState};
use crate::auth::Caller;
use crate::error::Result;
use crate::store::audit as store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    entity: Option<String>,
    key: Option<String>,
    /// The username of the actor.
    user: Option<String>,
    action: Option<String>,
    /// From this instant (inclusive), RFC 3339.
    from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive), RFC 3339.
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = store::ListFilter {
        entity: clean(q.entity),
        key: clean(q.key),
        user: clean(q.user).map(|u| u.to_lowercase()),
        action: clean(q.action),
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let vis = caller.visibility();
    let page = state.db(move |conn| store::list(conn, vis, filter)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Walks the whole chain; 200 either way, `ok: false` with the first break.
pub async fn verify(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse> {
    let report = state.db(store::verify).await?;
    Ok(HttpResponse::Ok().json(report))
}
