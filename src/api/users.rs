//! User management (administrators only; the route table enforces the role).

use actix_web::HttpResponse;

use crate::api::extract::web;
use serde::Deserialize;
use validator::Validate;

use crate::api::extract::IfMatch;
use crate::api::{created, ok_with_etag, page_limit, AppState};
use crate::auth::password::hash_password;
use crate::auth::Caller;
use crate::domain::{text, Role};
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::users::{self as store, NewUser, UserFilter, UserPatch};

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    #[validate(custom(function = "crate::api::fields::username"))]
    username: String,
    #[validate(length(
        min = 12,
        max = 1024,
        message = "Must be between 12 and 1024 characters long."
    ))]
    password: String,
    role: Role,
    scope: Option<String>,
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    role: Option<Role>,
    #[serde(default, deserialize_with = "crate::api::fields::double_option")]
    scope: Option<Option<String>>,
    active: Option<bool>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    #[validate(length(
        min = 12,
        max = 1024,
        message = "Must be between 12 and 1024 characters long."
    ))]
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    role: Option<Role>,
    scope: Option<String>,
    active: Option<bool>,
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let filter = UserFilter {
        role: q.role,
        scope: q.scope.map(|s| text::normalize(&s)),
        active: q.active,
        q: q.q.map(|s| text::normalize(&s)),
        limit: page_limit(q.limit)?,
        cursor: q.cursor,
    };
    let page = state.db(move |conn| store::list(conn, filter)).await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<UserCreate>,
) -> Result<HttpResponse> {
    let mut body = body.into_inner();
    body.username = text::normalize(&body.username).to_lowercase();
    body.validate()?;
    let scope = body
        .scope
        .map(|s| text::normalize(&s))
        .filter(|s| !s.is_empty());
    let password = body.password.clone();
    let password_hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?;
    let user = state
        .write(caller.actor(), move |conn| {
            let user = store::create(
                conn,
                NewUser {
                    username: body.username,
                    password_hash,
                    role: body.role,
                    scope,
                    active: body.active.unwrap_or(true),
                },
            )?;
            Ok(audit::created("user", user.username.clone(), user))
        })
        .await?;
    Ok(created(
        format!("/api/v1/users/{}", user.username),
        Some(user.version),
        &user,
    ))
}

pub async fn get(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let username = path.into_inner().to_lowercase();
    let user = state.db(move |conn| store::get(conn, &username)).await?;
    Ok(ok_with_etag(user.version, &user))
}

pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    if_match: IfMatch,
    body: web::Json<UserUpdate>,
) -> Result<HttpResponse> {
    let username = path.into_inner().to_lowercase();
    let body = body.into_inner();
    let patch = UserPatch {
        role: body.role,
        scope: body
            .scope
            .map(|s| s.map(|s| text::normalize(&s)).filter(|s| !s.is_empty())),
        active: body.active,
    };
    let user = state
        .write(caller.actor(), move |conn| {
            let before = store::get(conn, &username)?;
            let after = store::update(conn, &username, if_match.0, patch)?;
            Ok(audit::changed("user", username, "update", &before, after))
        })
        .await?;
    Ok(ok_with_etag(user.version, &user))
}

pub async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<PasswordReset>,
) -> Result<HttpResponse> {
    body.validate()?;
    let username = path.into_inner().to_lowercase();
    let password = body.into_inner().password;
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?;
    state
        .write(caller.actor(), move |conn| {
            let user = store::find_by_username(conn, &username)?
                .ok_or_else(|| Error::not_found(format!("User {username} was not found.")))?;
            store::set_password(conn, user.id, &hash, None)?;
            // Resetting a password also ends the user's sessions.
            Ok(((), audit::Change::new("user", username, "reset_password")))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
