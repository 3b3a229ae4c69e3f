//! Users, their sessions (sign-ins with rotating refresh tokens) and their API keys.
//!
//! Password hashing is the caller's job (it is slow and belongs on a blocking thread before or
//! after the transaction); this module stores and looks up.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::tokens::{self, REFRESH_TOKEN_SECONDS};
use crate::auth::{Caller, ScopeOrg, Visibility};
use crate::db::schema::{api_keys, organizations as orgs, refresh_tokens, sessions, users};
use crate::db::{DbConn, MultiBackend};
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::store::{check_version, decode_cursor, organizations, Page};

/// Failed sign-ins in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub scope_id: Option<i64>,
    pub active: bool,
    pub token_version: i64,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).expect("role is CHECK-constrained")
    }

    pub fn is_locked(&self, now: NaiveDateTime) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub username: String,
    pub role: Role,
    pub scope: Option<String>,
    pub active: bool,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub locked_until: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

impl User {
    fn from_row(row: UserRow, scope: Option<String>) -> User {
        let role = row.role();
        let now = crate::time::now();
        User {
            username: row.username,
            role,
            scope,
            active: row.active,
            locked_until: row.locked_until.filter(|t| *t > now),
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

fn with_scope_code(conn: &mut DbConn, row: UserRow) -> Result<User> {
    let scope = match row.scope_id {
        Some(id) => Some(
            orgs::table
                .find(id)
                .select(orgs::code)
                .first::<String>(conn)?,
        ),
        None => None,
    };
    Ok(User::from_row(row, scope))
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username.to_string()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

fn find_user(conn: &mut DbConn, username: &str) -> Result<UserRow> {
    find_by_username(conn, username)?
        .ok_or_else(|| Error::not_found(format!("User {username} was not found.")))
}

pub fn count(conn: &mut DbConn) -> Result<i64> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn get(conn: &mut DbConn, username: &str) -> Result<User> {
    let row = find_user(conn, username)?;
    with_scope_code(conn, row)
}

pub fn get_by_id(conn: &mut DbConn, id: i64) -> Result<User> {
    let row = users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)?;
    with_scope_code(conn, row)
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub scope: Option<String>,
    pub active: Option<bool>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub fn list(conn: &mut DbConn, filter: UserFilter) -> Result<Page<User>> {
    let mut query: users::BoxedQuery<'static, MultiBackend> = users::table.into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    if let Some(code) = &filter.scope {
        let org = organizations::find_visible(conn, Visibility::All, code)?;
        query = query.filter(users::scope_id.eq(org.id));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(q) = &filter.q {
        let q = q.to_lowercase().replace(['%', '_', '\\'], "");
        query = query.filter(users::username.like(format!("%{q}%")));
    }
    if let Some(cursor) = &filter.cursor {
        query = query.filter(users::username.gt(decode_cursor(cursor)?));
    }
    let rows: Vec<UserRow> = query
        .order(users::username.asc())
        .limit(filter.limit as i64 + 1)
        .select(UserRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| r.username.clone());
    let items = page
        .items
        .into_iter()
        .map(|row| with_scope_code(conn, row))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// `user.scope_required` / `user.admin_has_no_scope`: administrators are global; every other
/// user has a scope organisation.
pub fn check_role_scope(role: Role, has_scope: bool) -> Result<()> {
    match (role, has_scope) {
        (Role::Admin, true) => Err(Error::invalid(
            "scope",
            "user.admin_has_no_scope",
            "Administrators are global and have no scope organisation.",
        )),
        (Role::Admin, false) | (_, true) => Ok(()),
        (_, false) => Err(Error::invalid(
            "scope",
            "user.scope_required",
            format!("A {role} needs a scope organisation."),
        )),
    }
}

fn scope_id(conn: &mut DbConn, code: Option<&str>) -> Result<Option<i64>> {
    match code {
        None => Ok(None),
        Some(code) => organizations::find_visible(conn, Visibility::All, code)
            .map(|org| Some(org.id))
            .map_err(crate::error::missing_reference(
                "scope",
                "user.scope_not_found",
                format!("There is no organisation with code {code}."),
            )),
    }
}

pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub scope: Option<String>,
    pub active: bool,
}

pub fn create(conn: &mut DbConn, new: NewUser) -> Result<User> {
    crate::db::write_transaction(conn, |conn| {
        if find_by_username(conn, &new.username)?.is_some() {
            return Err(Error::invalid(
                "username",
                "user.username_taken",
                format!("The username {} is taken.", new.username),
            ));
        }
        check_role_scope(new.role, new.scope.is_some())?;
        let scope = scope_id(conn, new.scope.as_deref())?;
        let now = crate::time::now();
        diesel::insert_into(users::table)
            .values((
                users::username.eq(&new.username),
                users::password_hash.eq(&new.password_hash),
                users::role.eq(new.role.as_str()),
                users::scope_id.eq(scope),
                users::active.eq(new.active),
                users::token_version.eq(1i64),
                users::failed_logins.eq(0),
                users::version.eq(1i64),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        get(conn, &new.username)
    })
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    /// `Some(None)` clears the scope (for a new admin role).
    pub scope: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Changes role, scope or active flag. Any change bumps the token version and revokes the
/// user's sessions, so tokens issued under the old rights stop working at once.
pub fn update(
    conn: &mut DbConn,
    username: &str,
    expected_version: i64,
    patch: UserPatch,
) -> Result<User> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_user(conn, username)?;
        // Locked and read again, so that the version compared is the latest committed one.
        crate::db::lock_row(conn, "users", row.id)?;
        let row = find_user(conn, username)?;
        check_version(expected_version, row.version)?;
        let role = patch.role.unwrap_or(row.role());
        let scope = match patch.scope {
            Some(code) => scope_id(conn, code.as_deref())?,
            // Becoming an administrator drops the scope; otherwise it stays.
            None if role == Role::Admin => None,
            None => row.scope_id,
        };
        check_role_scope(role, scope.is_some())?;
        let active = patch.active.unwrap_or(row.active);
        let changed = role != row.role() || scope != row.scope_id || active != row.active;
        diesel::update(users::table.find(row.id))
            .set((
                users::role.eq(role.as_str()),
                users::scope_id.eq(scope),
                users::active.eq(active),
                users::token_version.eq(row.token_version + i64::from(changed)),
                users::version.eq(row.version + 1),
                users::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        if changed {
            revoke_sessions_of(conn, row.id, None)?;
        }
        get(conn, username)
    })
}

/// Sets a new password hash, unlocks the account, and ends every session but `keep_session`.
pub fn set_password(
    conn: &mut DbConn,
    user_id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(password_hash),
                users::token_version.eq(users::token_version + 1),
                users::failed_logins.eq(0),
                users::locked_until.eq(None::<NaiveDateTime>),
                users::version.eq(users::version + 1),
                users::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        revoke_sessions_of(conn, user_id, keep_session)
    })
}

fn revoke_sessions_of(conn: &mut DbConn, user_id: i64, keep: Option<&str>) -> Result<()> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(keep) = keep {
        query = query.filter(sessions::id.ne(keep.to_string()));
    }
    query
        .set(sessions::revoked_at.eq(Some(crate::time::now())))
        .execute(conn)?;
    Ok(())
}

/// Records a failed sign-in; the fifth in a row locks the account for 15 minutes.
/// Returns true when this failure locked it.
pub fn record_failed_login(conn: &mut DbConn, user_id: i64) -> Result<bool> {
    // One statement that increments and returns the count: concurrent failures each add one.
    let failures: i32 = diesel::update(users::table.find(user_id))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .returning(users::failed_logins)
        .get_result(conn)?;
    let lock = failures >= MAX_FAILED_LOGINS;
    if lock {
        diesel::update(users::table.find(user_id))
            .set((
                users::failed_logins.eq(0),
                users::locked_until.eq(Some(
                    crate::time::now() + Duration::minutes(LOCKOUT_MINUTES),
                )),
            ))
            .execute(conn)?;
    }
    Ok(lock)
}

/// A new session's first tokens.
pub struct IssuedSession {
    pub session_id: String,
    pub refresh_token: String,
}

/// After a successful password check: resets the failure count and opens a session.
pub fn start_session(conn: &mut DbConn, user: &UserRow) -> Result<IssuedSession> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(users::table.find(user.id))
            .set((
                users::failed_logins.eq(0),
                users::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        let session_id = tokens::random_token(18);
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&session_id),
                sessions::user_id.eq(user.id),
                sessions::created_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let refresh_token = issue_refresh_token(conn, &session_id)?;
        Ok(IssuedSession {
            session_id,
            refresh_token,
        })
    })
}

fn issue_refresh_token(conn: &mut DbConn, session_id: &str) -> Result<String> {
    let token = tokens::random_token(32);
    let now = crate::time::now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(tokens::token_hash(&token)),
            refresh_tokens::issued_at.eq(now),
            refresh_tokens::expires_at.eq(now + Duration::seconds(REFRESH_TOKEN_SECONDS)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// What a refresh attempt came to.
pub enum Refreshed {
    /// A new refresh token in the same session, for this user.
    Rotated {
        user: Box<UserRow>,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, revoked, or the user may no longer sign in.
    Refused,
    /// A refresh token presented a second time: someone else may hold it. The whole session
    /// (every refresh token and access token of the family) is now revoked.
    ReuseDetected { user: Box<UserRow> },
}

/// A presented refresh token as stored: id, session, expiry, use, the session's revocation,
/// and the user.
type PresentedRefreshToken = (
    i64,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    UserRow,
);

pub fn rotate_refresh_token(conn: &mut DbConn, presented: &str) -> Result<Refreshed> {
    crate::db::write_transaction(conn, |conn| {
        let now = crate::time::now();
        let found: Option<PresentedRefreshToken> = refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(tokens::token_hash(presented)))
            .select((
                refresh_tokens::id,
                refresh_tokens::session_id,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                sessions::revoked_at,
                UserRow::as_select(),
            ))
            .first(conn)
            .optional()?;
        let Some((token_id, session_id, expires_at, used_at, revoked_at, user)) = found else {
            return Ok(Refreshed::Refused);
        };
        if used_at.is_some() {
            revoke_session(conn, &session_id)?;
            return Ok(Refreshed::ReuseDetected {
                user: Box::new(user),
            });
        }
        if revoked_at.is_some() || expires_at <= now || !user.active {
            return Ok(Refreshed::Refused);
        }
        let marked = diesel::update(refresh_tokens::table.find(token_id))
            .filter(refresh_tokens::used_at.is_null())
            .set(refresh_tokens::used_at.eq(Some(now)))
            .execute(conn)?;
        if marked != 1 {
            // Another request used it between our read and our write.
            revoke_session(conn, &session_id)?;
            return Ok(Refreshed::ReuseDetected {
                user: Box::new(user),
            });
        }
        let refresh_token = issue_refresh_token(conn, &session_id)?;
        Ok(Refreshed::Rotated {
            user: Box::new(user),
            session_id,
            refresh_token,
        })
    })
}

pub fn revoke_session(conn: &mut DbConn, session_id: &str) -> Result<()> {
    diesel::update(sessions::table.find(session_id.to_string()))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(Some(crate::time::now())))
        .execute(conn)?;
    Ok(())
}

/// Revokes the session that a refresh token belongs to, and says whose it was (user id and
/// name). Unknown tokens are ignored.
pub fn logout(conn: &mut DbConn, presented: &str) -> Result<Option<(i64, String)>> {
    let session: Option<(String, i64, String)> = refresh_tokens::table
        .inner_join(sessions::table.inner_join(users::table))
        .filter(refresh_tokens::token_hash.eq(tokens::token_hash(presented)))
        .select((refresh_tokens::session_id, users::id, users::username))
        .first(conn)
        .optional()?;
    let Some((session, user_id, username)) = session else {
        return Ok(None);
    };
    revoke_session(conn, &session)?;
    Ok(Some((user_id, username)))
}

fn caller_from(
    user: UserRow,
    scope_code: Option<String>,
    session_id: Option<String>,
    api_key_id: Option<i64>,
) -> Caller {
    let scope = user
        .scope_id
        .zip(scope_code)
        .map(|(id, code)| ScopeOrg { id, code });
    Caller {
        user_id: user.id,
        role: user.role(),
        username: user.username,
        scope,
        session_id,
        api_key_id,
        origin: Default::default(),
    }
}

/// The caller behind a verified access token, if its user is active, its token version is
/// current and its session has not been revoked. One query per request: the user, the session
/// and the scope's code together (by primary keys, so without `.first()`: SQLite prepares a
/// statement with a bound `LIMIT` again on every execution).
pub fn caller_for_session(
    conn: &mut DbConn,
    user_id: i64,
    session_id: &str,
    token_version: i64,
) -> Result<Option<Caller>> {
    // On the engine's own connection: the multi-backend connection writes a statement's SQL out
    // again on every execution, and this one runs on every authenticated request.
    let found: Vec<(UserRow, Option<NaiveDateTime>, Option<String>)> =
        crate::with_backend!(conn, |c| users::table
            .inner_join(sessions::table)
            .left_join(orgs::table)
            .filter(users::id.eq(user_id))
            .filter(sessions::id.eq(session_id))
            .select((
                UserRow::as_select(),
                sessions::revoked_at,
                orgs::code.nullable(),
            ))
            .load(c))?;
    Ok(match found.into_iter().next() {
        Some((user, None, scope)) if user.active && user.token_version == token_version => {
            Some(caller_from(user, scope, Some(session_id.to_string()), None))
        }
        _ => None,
    })
}

/// A presented API key as stored: id, expiry, revocation, its owner and the owner's scope code.
type PresentedKey = (
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    UserRow,
    Option<String>,
);

/// The caller behind an API key, if the key is live and its owner active.
pub fn caller_for_api_key(conn: &mut DbConn, presented: &str) -> Result<Option<Caller>> {
    let now = crate::time::now();
    let found: Option<PresentedKey> = api_keys::table
        .inner_join(users::table.left_join(orgs::table))
        .filter(api_keys::key_hash.eq(tokens::token_hash(presented)))
        .select((
            api_keys::id,
            api_keys::expires_at,
            api_keys::revoked_at,
            UserRow::as_select(),
            orgs::code.nullable(),
        ))
        .load(conn)?
        .pop();
    Ok(match found {
        Some((key_id, expires_at, None, user, scope))
            if user.active && expires_at.is_none_or(|t| t > now) =>
        {
            Some(caller_from(user, scope, None, Some(key_id)))
        }
        _ => None,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub username: String,
    pub role: Role,
    pub scope: Option<String>,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub expires_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret, shown once: only its hash is stored.
    pub secret: String,
}

type ApiKeyFields = (
    i64,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

fn api_keys_of(conn: &mut DbConn, user: &UserRow, id: Option<i64>) -> Result<Vec<ApiKey>> {
    let owner = with_scope_code(conn, user.clone())?;
    let mut query = api_keys::table
        .filter(api_keys::user_id.eq(user.id))
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(api_keys::id.eq(id));
    }
    let rows: Vec<ApiKeyFields> = query
        .order(api_keys::id.asc())
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::prefix,
            api_keys::created_at,
            api_keys::expires_at,
            api_keys::revoked_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, prefix, created_at, expires_at, revoked_at)| ApiKey {
                id,
                name,
                prefix,
                username: owner.username.clone(),
                role: owner.role,
                scope: owner.scope.clone(),
                created_at,
                expires_at,
                revoked_at,
            },
        )
        .collect())
}

pub fn list_api_keys(conn: &mut DbConn, username: &str) -> Result<Vec<ApiKey>> {
    let user = find_user(conn, username)?;
    api_keys_of(conn, &user, None)
}

pub fn create_api_key(
    conn: &mut DbConn,
    user_id: i64,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> Result<ApiKeyCreated> {
    crate::db::write_transaction(conn, |conn| {
        let secret = tokens::new_api_key();
        let prefix: String = secret
            .chars()
            .take(tokens::API_KEY_PREFIX.len() + 6)
            .collect();
        let id: i64 = diesel::insert_into(api_keys::table)
            .values((
                api_keys::user_id.eq(user_id),
                api_keys::name.eq(name),
                api_keys::prefix.eq(&prefix),
                api_keys::key_hash.eq(tokens::token_hash(&secret)),
                api_keys::created_at.eq(crate::time::now()),
                api_keys::expires_at.eq(expires_at),
            ))
            .returning(api_keys::id)
            .get_result(conn)?;
        let user = users::table
            .find(user_id)
            .select(UserRow::as_select())
            .first(conn)?;
        let key = api_keys_of(conn, &user, Some(id))?
            .pop()
            .ok_or_else(|| Error::Internal("API key vanished after insert".into()))?;
        Ok(ApiKeyCreated { key, secret })
    })
}

/// Revokes key `id` if `owner` (a user id) owns it, or anyone's for `None` (administrators).
pub fn revoke_api_key(conn: &mut DbConn, id: i64, owner: Option<i64>) -> Result<()> {
    let mut query = api_keys::table.filter(api_keys::id.eq(id)).into_boxed();
    if let Some(owner) = owner {
        query = query.filter(api_keys::user_id.eq(owner));
    }
    let found: Option<(i64, Option<NaiveDateTime>)> = query
        .select((api_keys::id, api_keys::revoked_at))
        .first(conn)
        .optional()?;
    match found {
        None => Err(Error::not_found(format!("API key {id} was not found."))),
        Some((_, Some(_))) => Ok(()),
        Some((id, None)) => {
            diesel::update(api_keys::table.find(id))
                .set(api_keys::revoked_at.eq(Some(crate::time::now())))
                .execute(conn)?;
            Ok(())
        }
    }
}
