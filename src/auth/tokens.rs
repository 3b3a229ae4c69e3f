//! Tokens: short-lived JWT access tokens (HS256, algorithm pinned, `exp`/`iss`/`aud` checked),
//! opaque refresh tokens and API keys (random, stored as SHA-256 hashes: they carry 256 bits of
//! entropy, so a fast hash is enough and keeps each authenticated request cheap).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "party-records";
pub const AUDIENCE: &str = "party-records-api";
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 60 * 60;
/// API keys start with this, so that a bearer token is told apart from a JWT at a glance.
pub const API_KEY_PREFIX: &str = "prk_";
/// The shortest secret accepted for signing: 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims of an access token. `ver` is the user's token version and `sid` the session:
/// changing the user's role, scope, password or active flag, or revoking the session, makes
/// every token issued before refuse to authenticate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub ver: i64,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn from_secret(secret: &[u8]) -> Result<JwtKeys, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes (256 bits); it has {}",
                secret.len()
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    pub fn issue(&self, user_id: i64, session_id: &str, token_version: i64) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            ver: token_version,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The claims of a valid token; `None` for anything else (wrong algorithm, including
    /// `none`; another key; expired; wrong issuer or audience; malformed).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The stored form of a refresh token or API key.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(&[7u8; 32]).unwrap()
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let token = k.issue(42, "sess", 3);
        let claims = k.verify(&token).expect("valid");
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.sid, "sess");
        assert_eq!(claims.ver, 3);
        assert_eq!(claims.exp - claims.iat, ACCESS_TOKEN_SECONDS);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(JwtKeys::from_secret(&[1u8; 31]).is_err());
    }

    #[test]
    fn tokens_of_another_key_or_algorithm_are_refused() {
        let other = JwtKeys::from_secret(&[8u8; 32]).unwrap();
        assert!(keys().verify(&other.issue(1, "s", 1)).is_none());

        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: "1".into(),
            sid: "s".into(),
            ver: 1,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + 60,
        };
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert!(
            keys().verify(&hs512).is_none(),
            "algorithm is pinned to HS256"
        );

        // alg "none": header {"alg":"none","typ":"JWT"} and no signature.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(keys().verify(&format!("{header}.{body}.")).is_none());
    }

    #[test]
    fn expired_or_foreign_tokens_are_refused() {
        let now = Utc::now().timestamp();
        let sign = |iss: &str, aud: &str, exp: i64| {
            let claims = Claims {
                sub: "1".into(),
                sid: "s".into(),
                ver: 1,
                iss: iss.into(),
                aud: aud.into(),
                iat: now - 1000,
                exp,
            };
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(&[7u8; 32]),
            )
            .unwrap()
        };
        assert!(keys().verify(&sign(ISSUER, AUDIENCE, now + 60)).is_some());
        assert!(keys().verify(&sign(ISSUER, AUDIENCE, now - 60)).is_none());
        assert!(keys()
            .verify(&sign("someone-else", AUDIENCE, now + 60))
            .is_none());
        assert!(keys()
            .verify(&sign(ISSUER, "other-api", now + 60))
            .is_none());
    }

    #[test]
    fn random_tokens_and_hashes() {
        assert_ne!(random_token(32), random_token(32));
        assert_eq!(random_token(32).len(), 43);
        assert!(new_api_key().starts_with(API_KEY_PREFIX));
        assert_eq!(token_hash("abc").len(), 64);
    }
}
