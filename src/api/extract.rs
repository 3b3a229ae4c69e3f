//! Extractors: the authenticated [`Caller`] (with the route's role check) and `If-Match`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};

use crate::api::request_id::RequestId;
use crate::api::{access_of, AppState};
use crate::auth::tokens::API_KEY_PREFIX;
use crate::auth::{role_allows, Access, Caller, Origin};
use crate::db::DbConn;
use crate::error::Error;
use crate::store;

/// A request's credentials, checked as far as they can be without the database: the bearer
/// token is present and, for a JWT, its signature and claims are valid; the route declares its
/// access. [`Credentials::caller`] finishes the check on a pooled connection (the user, the
/// session or API key, the role), so that a handler can authenticate and read its records in
/// one trip to the blocking pool; the [`Caller`] extractor does the same in a trip of its own.
pub struct Credentials {
    presented: Presented,
    access: Access,
    origin: Origin,
}

enum Presented {
    ApiKey(String),
    Session {
        user_id: i64,
        session_id: String,
        token_version: i64,
    },
}

fn refused() -> Error {
    Error::Unauthorized("The token is invalid, expired or revoked.".into())
}

impl Credentials {
    fn of(req: &HttpRequest) -> Result<(Credentials, web::Data<AppState>), Error> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| Error::Internal("no application state".into()))?;
        // A route outside the table has no declared access: refuse rather than guess.
        let access = req
            .match_pattern()
            .and_then(|pattern| access_of(req.method(), &pattern))
            .ok_or_else(|| Error::Internal("route without access".into()))?;
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                Error::Unauthorized("Sign in and send the access token as a Bearer token.".into())
            })?;
        let presented = if token.starts_with(API_KEY_PREFIX) {
            Presented::ApiKey(token.to_string())
        } else {
            let claims = state.keys.verify(token).ok_or_else(refused)?;
            Presented::Session {
                user_id: claims.sub.parse().map_err(|_| refused())?,
                session_id: claims.sid,
                token_version: claims.ver,
            }
        };
        let credentials = Credentials {
            presented,
            access,
            origin: Origin::of(req),
        };
        Ok((credentials, state))
    }

    /// The caller, if the user is active, the session or API key live and the token current,
    /// and their role allows the route (401 and 403 otherwise). Read from the database on every
    /// request.
    pub fn caller(self, conn: &mut DbConn) -> Result<Caller, Error> {
        let found = match &self.presented {
            Presented::ApiKey(key) => store::users::caller_for_api_key(conn, key)?,
            Presented::Session {
                user_id,
                session_id,
                token_version,
            } => store::users::caller_for_session(conn, *user_id, session_id, *token_version)?,
        };
        let mut caller = found.ok_or_else(refused)?;
        caller.origin = self.origin;
        if self.access != Access::Public && !role_allows(caller.role, self.access) {
            return Err(Error::forbidden(format!(
                "The {} role may not do this.",
                caller.role
            )));
        }
        Ok(caller)
    }
}

impl FromRequest for Credentials {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Credentials, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            Credentials::of(req)
                .map(|(credentials, _)| credentials)
                .map_err(Into::into),
        )
    }
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = Credentials::of(req);
        Box::pin(async move {
            let (credentials, state) = checked?;
            Ok(state.db(move |conn| credentials.caller(conn)).await?)
        })
    }
}

impl Origin {
    /// The peer's address (not `X-Forwarded-For`, which any client can write) and the request
    /// id the middleware gave the request.
    pub fn of(req: &HttpRequest) -> Origin {
        use actix_web::HttpMessage;
        Origin {
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        }
    }
}

/// The ETag of a record version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an update expects, from `If-Match`. Missing: 428. Not one of our ETags: it
/// cannot match the current version, so 412 (with `i64::MIN` as a version no record has).
pub struct IfMatch(pub i64);

impl FromRequest for IfMatch {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<IfMatch, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req
            .headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or("").trim().to_string());
        std::future::ready(match value {
            None => Err(Error::PreconditionRequired.into()),
            Some(v) => {
                let v = v.strip_prefix("W/").unwrap_or(&v);
                Ok(IfMatch(v.trim_matches('"').parse().unwrap_or(i64::MIN)))
            }
        })
    }
}

/// `actix_web::web` with `Json` replaced by [`JsonObject`]: the handlers take their bodies
/// through it.
pub mod web {
    pub use super::JsonObject as Json;
    pub use actix_web::web::*;
}

/// A JSON request body that is an object. `actix_web::web::Json<T>` also reads a JSON array into
/// a struct, field by field in order (serde's sequence form), so that `["2025-07-01"]` dissolved
/// an organisation (found by schemathesis). Any other error (malformed JSON, an unknown field,
/// the content type, the size) answers as for `web::Json`, through the application's
/// `JsonConfig`.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for JsonObject<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<JsonObject<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = actix_web::web::Json::<ObjectOnly<T>>::from_request(req, payload);
        Box::pin(async move { Ok(JsonObject(body.await?.into_inner().0)) })
    }
}

/// `T` read only from a JSON object.
struct ObjectOnly<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(NoSequence(deserializer)).map(ObjectOnly)
    }
}

/// A deserializer whose structs refuse the sequence form.
struct NoSequence<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for NoSequence<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A struct's visitor that takes a map and nothing else.
struct MapOnly<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}
