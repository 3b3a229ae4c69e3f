//! Sign-in, token refresh, sign-out, and the caller's own account.

use actix_web::{HttpRequest, HttpResponse};

use crate::api::extract::web;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::api::AppState;
use crate::auth::password::{hash_password, verify_dummy, verify_password};
use crate::auth::tokens::{ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_SECONDS};
use crate::auth::Caller;
use crate::domain::{text, Role};
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::users::{self as store, Refreshed, UserRow};

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 64))]
    username: String,
    #[validate(length(min = 1, max = 1024))]
    password: String,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 256))]
    refresh_token: String,
}

#[derive(Debug, Serialize)]
struct TokenUser {
    username: String,
    role: Role,
    scope: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_expires_in: i64,
    user: TokenUser,
}

fn invalid_credentials() -> Error {
    // One answer for an unknown user, a wrong password, a locked or a disabled account.
    Error::Unauthorized("Invalid username or password.".into())
}

fn token_response(
    state: &AppState,
    user: &UserRow,
    scope: Option<String>,
    session_id: &str,
    refresh_token: String,
) -> TokenResponse {
    TokenResponse {
        access_token: state.keys.issue(user.id, session_id, user.token_version),
        refresh_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        refresh_expires_in: REFRESH_TOKEN_SECONDS,
        user: TokenUser {
            username: user.username.clone(),
            role: user.role(),
            scope,
        },
    }
}

/// A caller who is not signed in (sign-in, refresh, logout): named by what they sent.
fn anonymous(req: &HttpRequest, name: &str) -> audit::Actor {
    let origin = crate::auth::Origin::of(req);
    audit::Actor {
        name: name.to_string(),
        ip: origin.ip,
        request_id: origin.request_id,
        ..audit::Actor::default()
    }
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse> {
    body.validate()?;
    let LoginRequest { username, password } = body.into_inner();
    let username = text::normalize(&username).to_lowercase();
    let actor = anonymous(&req, &username);
    let tried = username.clone();
    // Three steps, so that the slow hash never holds a database connection: read the user,
    // verify on a blocking thread, then record the outcome.
    let user = state
        .db(move |conn| store::find_by_username(conn, &username))
        .await?
        .filter(|u| !u.is_locked(crate::time::now()));
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = web::block(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?;
    let Some(user) = user else {
        // An unknown or locked account: recorded all the same.
        let failed = audit::Change::new("user", tried, "sign_in_failed");
        state.write(actor, move |_| Ok(((), failed))).await?;
        return Err(invalid_credentials());
    };
    let mut actor = actor;
    actor.user_id = Some(user.id);
    let outcome = state
        .write(actor, move |conn| {
            if !verified {
                let mut changes = vec![audit::Change::new("user", &user.username, "sign_in_failed")];
                if store::record_failed_login(conn, user.id)? {
                    tracing::warn!(username = %user.username, "account locked after repeated failed sign-ins");
                    changes.push(audit::Change::new("user", &user.username, "lock"));
                }
                return Ok((None, changes));
            }
            if !user.active {
                let failed = audit::Change::new("user", &user.username, "sign_in_failed");
                return Ok((None, vec![failed]));
            }
            let session = store::start_session(conn, &user)?;
            let scope = store::get_by_id(conn, user.id)?.scope;
            Ok((Some((user, scope, session)), vec![]))
        })
        .await?;
    let (user, scope, session) = outcome.ok_or_else(invalid_credentials)?;
    Ok(HttpResponse::Ok().json(token_response(
        &state,
        &user,
        scope,
        &session.session_id,
        session.refresh_token,
    )))
}

pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse> {
    body.validate()?;
    let presented = body.into_inner().refresh_token;
    let actor = anonymous(&req, "anonymous");
    let outcome = state
        .write(actor, move |conn| {
            let refreshed = store::rotate_refresh_token(conn, &presented)?;
            let (scope, changes) = match &refreshed {
                Refreshed::Rotated { user, .. } => (store::get_by_id(conn, user.id)?.scope, vec![]),
                Refreshed::ReuseDetected { user } => {
                    let revoked = audit::Change::new("session", &user.username, "revoke")
                        .after(&serde_json::json!({"reason": "refresh_token_reused"}));
                    (None, vec![revoked])
                }
                Refreshed::Refused => (None, vec![]),
            };
            Ok(((refreshed, scope), changes))
        })
        .await?;
    match outcome {
        (
            Refreshed::Rotated {
                user,
                session_id,
                refresh_token,
            },
            scope,
        ) => Ok(HttpResponse::Ok().json(token_response(
            &state,
            &user,
            scope,
            &session_id,
            refresh_token,
        ))),
        (Refreshed::ReuseDetected { .. }, _) => {
            tracing::warn!("refresh token reused; session revoked");
            Err(Error::Unauthorized(
                "This refresh token was already used; the session has been revoked. Sign in again."
                    .into(),
            ))
        }
        (Refreshed::Refused, _) => Err(Error::Unauthorized(
            "The refresh token is invalid, expired or revoked.".into(),
        )),
    }
}

pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse> {
    body.validate()?;
    let presented = body.into_inner().refresh_token;
    let actor = anonymous(&req, "anonymous");
    state
        .write(actor, move |conn| {
            let changes = match store::logout(conn, &presented)? {
                Some((_, username)) => vec![audit::Change::new("session", username, "revoke")
                    .after(&serde_json::json!({"reason": "logout"}))],
                None => vec![],
            };
            Ok(((), changes))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse> {
    let user = state
        .db(move |conn| store::get_by_id(conn, caller.user_id))
        .await?;
    Ok(crate::api::ok_with_etag(user.version, &user))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[validate(length(min = 1, max = 1024))]
    current_password: String,
    #[validate(length(
        min = 12,
        max = 1024,
        message = "Must be between 12 and 1024 characters long."
    ))]
    new_password: String,
}

/// Changes the caller's own password; their other sessions end.
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse> {
    body.validate()?;
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    let username = caller.username.clone();
    let user = state
        .db(move |conn| store::find_by_username(conn, &username))
        .await?
        .ok_or_else(|| Error::Unauthorized("The account no longer exists.".into()))?;
    let stored = user.password_hash.clone();
    let hash = web::block(move || {
        verify_password(&current_password, &stored).then(|| hash_password(&new_password))
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
    .ok_or_else(|| {
        Error::invalid(
            "current_password",
            "user.wrong_password",
            "The current password is not correct.",
        )
    })?;
    let keep = caller.session_id.clone();
    let username = caller.username.clone();
    state
        .write(caller.actor(), move |conn| {
            store::set_password(conn, user.id, &hash, keep.as_deref())?;
            Ok(((), audit::Change::new("user", username, "change_password")))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
