//! API keys: anyone manages their own; administrators also those of others.

use actix_web::HttpResponse;

use crate::api::extract::web;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use validator::Validate;

use crate::api::{created, AppState};
use crate::auth::Caller;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::users as store;
use crate::store::Page;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    username: Option<String>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    #[validate(length(min = 1, max = 100))]
    name: String,
    expires_at: Option<DateTime<Utc>>,
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let username = match query.into_inner().username.map(|u| u.to_lowercase()) {
        Some(other) if other != caller.username => {
            if !caller.is_admin() {
                return Err(Error::forbidden(
                    "Only administrators see other users' API keys.",
                ));
            }
            other
        }
        _ => caller.username.clone(),
    };
    let items = state
        .db(move |conn| store::list_api_keys(conn, &username))
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: None,
    }))
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ApiKeyCreate>,
) -> Result<HttpResponse> {
    // A key cannot mint keys: a new one could outlive the key that made it.
    if caller.api_key_id.is_some() {
        return Err(Error::forbidden(
            "Sign in with a password to create API keys.",
        ));
    }
    let mut body = body.into_inner();
    body.name = text::normalize(&body.name);
    body.validate()?;
    if body.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(Error::invalid(
            "expires_at",
            "api_key.expiry_in_past",
            "The expiry must be in the future.",
        ));
    }
    let expires_at = body.expires_at.map(|t| t.naive_utc());
    let user_id = caller.user_id;
    let key = state
        .write(caller.actor(), move |conn| {
            let key = store::create_api_key(conn, user_id, &body.name, expires_at)?;
            // The image without the secret.
            let change = audit::Change::new("api_key", key.key.id, "create").after(&key.key);
            Ok((key, change))
        })
        .await?;
    Ok(created(
        format!("/api/v1/api-keys/{}", key.key.id),
        None,
        &key,
    ))
}

pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let owner = if caller.is_admin() {
        None
    } else {
        Some(caller.user_id)
    };
    state
        .write(caller.actor(), move |conn| {
            store::revoke_api_key(conn, id, owner)?;
            Ok(((), audit::Change::new("api_key", id, "revoke")))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
