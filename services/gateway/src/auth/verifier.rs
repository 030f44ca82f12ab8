//! Local verification of access tokens against identity's public keys (JWKS), cached.
//!
//! Keys are fetched on first use (identity may start after the gateway) and again when a
//! token names an unknown `kid` (key rotation), but at most once per
//! [`REFETCH_INTERVAL`], so a flood of tokens with random key ids cannot hammer identity.
//!
//! A token that passed on a REST call is remembered until it expires (at most
//! [`VERIFIED_CAPACITY`] of them), so a client calling REST in a loop pays one signature
//! check per token rather than one per request. (A WebSocket verifies once; remembering
//! its token would only cost memory per connection.) Installing keys forgets them all, so a key withdrawn from the
//! JWKS stops its tokens as soon as the new JWKS is fetched, as without this memory.

use crate::http::ApiError;
use crate::identity::{Identity, IdentityError};
use im_contracts::v1::GetJwksRequest;
use im_runtime::ServiceName;
use im_runtime::errors::error_code;
use im_runtime::resilience::{CIRCUIT_OPEN, idempotent};
use im_token::{Claims, Jwks, PublicKey, TokenError, Validation, decode_header};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The least time between two JWKS fetches.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Tolerated clock difference between identity and this gateway.
const LEEWAY_S: i64 = 5;
/// How long the JWKS served on the public route may be reused before asking again.
const JWKS_FRESH_FOR: Duration = Duration::from_secs(60);
/// The most verified tokens remembered.
pub const VERIFIED_CAPACITY: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is not one of ours, or no longer valid.
    #[error("{0}")]
    Invalid(#[from] TokenError),
    /// No key is known yet and identity cannot be asked.
    #[error("cannot load signing keys: {0}")]
    KeysUnavailable(IdentityError),
}

#[derive(Default)]
struct KeyCache {
    by_kid: HashMap<String, PublicKey>,
    /// The document the keys came from, as identity published it.
    jwks: Jwks,
    installed_at: Option<Instant>,
}

/// Tokens that passed verification, with their claims, until they expire.
#[derive(Default)]
struct Verified {
    by_token: HashMap<Box<str>, Claims>,
}

impl Verified {
    /// The claims of `token` if it passed and has not expired since (`leeway_s` as in
    /// [`Validation`]).
    fn get(&mut self, token: &str, now_s: i64, leeway_s: i64) -> Option<Claims> {
        let claims = self.by_token.get(token)?;
        if claims.exp <= now_s - leeway_s {
            self.by_token.remove(token);
            return None;
        }
        Some(claims.clone())
    }

    /// Remembers a token that passed. When full, the expired go first, then everyone.
    fn insert(&mut self, token: &str, claims: &Claims, now_s: i64, leeway_s: i64) {
        if self.by_token.len() >= VERIFIED_CAPACITY {
            self.by_token
                .retain(|_, claims| claims.exp > now_s - leeway_s);
            if self.by_token.len() >= VERIFIED_CAPACITY {
                self.by_token.clear();
            }
        }
        self.by_token.insert(token.into(), claims.clone());
    }
}

fn no_keys_yet() -> VerifyError {
    VerifyError::KeysUnavailable(IdentityError(tonic::Status::unavailable(
        "no signing keys loaded yet",
    )))
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Invalid(reason) => {
                ApiError::unauthorized("invalid_token", format!("invalid access token: {reason}"))
            }
            VerifyError::KeysUnavailable(cause) => {
                tracing::warn!(error = %cause, "no signing keys");
                ApiError::unavailable(
                    ServiceName::Identity,
                    "tokens cannot be verified right now, retry later",
                )
            }
        }
    }
}

pub struct TokenVerifier {
    identity: Identity,
    validation: Validation,
    cache: RwLock<KeyCache>,
    verified: std::sync::Mutex<Verified>,
    /// When the last fetch started; held while fetching so concurrent misses wait for
    /// one fetch instead of starting their own.
    last_fetch: Mutex<Option<Instant>>,
}

impl TokenVerifier {
    pub fn new(identity: Identity, issuer: String, audience: String) -> Self {
        Self {
            identity,
            validation: Validation {
                issuer,
                audience,
                leeway_s: LEEWAY_S,
            },
            cache: RwLock::default(),
            verified: std::sync::Mutex::default(),
            last_fetch: Mutex::new(None),
        }
    }

    /// The claims of `token` if it is an unexpired access token signed by identity for
    /// this issuer and audience. Revocation is the denylist's business, not this one's.
    /// A token that passed is remembered when `remember` is set (see the module's docs).
    pub async fn verify(&self, token: &str, remember: bool) -> Result<Claims, VerifyError> {
        let now_s = chrono::Utc::now().timestamp();
        if let Some(claims) = self.verified().get(token, now_s, LEEWAY_S) {
            return Ok(claims);
        }
        let header = decode_header(token)?;
        let remembered = |verified| {
            if remember {
                self.remember(token, verified, now_s)
            } else {
                verified
            }
        };
        if let Some(claims) = self.verify_with_cached(&header.kid, token) {
            return remembered(claims);
        }
        let fetched = self.refetch().await;
        if let Some(claims) = self.verify_with_cached(&header.kid, token) {
            return remembered(claims);
        }
        match fetched {
            Err(error) if self.key_count() == 0 => Err(VerifyError::KeysUnavailable(error)),
            _ if self.key_count() == 0 => Err(no_keys_yet()),
            _ => Err(TokenError::UnknownKey(header.kid).into()),
        }
    }

    /// The current JWKS, for the public route: the cached one while fresh, otherwise
    /// fetched again (subject to the same throttle as unknown key ids).
    pub async fn jwks(&self) -> Result<Jwks, VerifyError> {
        let fresh = |cache: &KeyCache| {
            cache
                .installed_at
                .is_some_and(|at| at.elapsed() < JWKS_FRESH_FOR)
        };
        if fresh(&self.cache()) {
            return Ok(self.cache().jwks.clone());
        }
        let fetched = self.refetch().await;
        let cache = self.cache();
        match fetched {
            Err(error) if cache.by_kid.is_empty() => Err(VerifyError::KeysUnavailable(error)),
            _ if cache.by_kid.is_empty() => Err(no_keys_yet()),
            _ => Ok(cache.jwks.clone()),
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Passes `verified` on, remembering the token if it passed.
    fn remember(
        &self,
        token: &str,
        verified: Result<Claims, VerifyError>,
        now_s: i64,
    ) -> Result<Claims, VerifyError> {
        if let Ok(claims) = &verified {
            self.verified().insert(token, claims, now_s, LEEWAY_S);
        }
        verified
    }

    fn cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the cached keys with `jwks`.
    fn install(&self, jwks: Jwks) {
        let by_kid: HashMap<String, PublicKey> = jwks
            .keys
            .iter()
            .filter_map(|jwk| match PublicKey::from_jwk(jwk) {
                Ok(key) => Some((key.kid().to_owned(), key)),
                Err(error) => {
                    tracing::warn!(kid = %jwk.kid, %error, "ignoring unusable signing key");
                    None
                }
            })
            .collect();
        // Tokens verified with the old keys are checked again with the new ones.
        self.verified().by_token.clear();
        *self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = KeyCache {
            by_kid,
            jwks,
            installed_at: Some(Instant::now()),
        };
    }

    fn verify_with_cached(&self, kid: &str, token: &str) -> Option<Result<Claims, VerifyError>> {
        let cache = self.cache();
        let key = cache.by_kid.get(kid)?;
        let now_s = chrono::Utc::now().timestamp();
        Some(
            key.verify(token, &self.validation, now_s)
                .map_err(Into::into),
        )
    }

    fn key_count(&self) -> usize {
        self.cache().by_kid.len()
    }

    /// Fetches the JWKS unless a fetch started less than [`REFETCH_INTERVAL`] ago. A
    /// fetch refused by identity's open circuit did not reach identity, so it does not
    /// count: the next request asks again once the circuit lets calls through.
    async fn refetch(&self) -> Result<(), IdentityError> {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Ok(());
        }
        let previous = last_fetch.replace(Instant::now());
        let response = self
            .identity
            .call(GetJwksRequest {}, |mut client, request| async move {
                client.get_jwks(idempotent(request)).await
            })
            .await
            .inspect_err(|error| {
                if error_code(&error.0) == Some(CIRCUIT_OPEN) {
                    *last_fetch = previous;
                }
                tracing::warn!(%error, "cannot fetch signing keys");
            })?;
        match serde_json::from_str::<Jwks>(&response.jwks_json) {
            Ok(jwks) => {
                self.install(jwks);
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "identity answered an unreadable JWKS");
                Err(IdentityError(tonic::Status::internal("unreadable JWKS")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "im".into(),
            aud: "im".into(),
            sub: "u1".into(),
            sid: "s1".into(),
            roles: vec!["user".into()],
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let mut verified = Verified::default();
        assert!(verified.get("t", 100, 5).is_none());
        verified.insert("t", &claims(200), 100, 5);
        assert_eq!(verified.get("t", 150, 5).unwrap().sub, "u1");
        assert!(verified.get("other", 150, 5).is_none());
        // Within the leeway after `exp` it still passes, as verification would.
        assert!(verified.get("t", 204, 5).is_some());
        assert!(verified.get("t", 205, 5).is_none());
        assert!(
            verified.by_token.is_empty(),
            "an expired token is forgotten"
        );
    }

    #[test]
    fn a_full_cache_drops_the_expired_first_and_stays_bounded() {
        let mut verified = Verified::default();
        for n in 0..VERIFIED_CAPACITY {
            // Every other token has expired by time 1,000.
            let exp = if n % 2 == 0 { 500 } else { 5_000 };
            verified.insert(&format!("t{n}"), &claims(exp), 100, 5);
        }
        verified.insert("new", &claims(5_000), 1_000, 5);
        assert_eq!(verified.by_token.len(), VERIFIED_CAPACITY / 2 + 1);
        assert!(verified.get("t1", 1_000, 5).is_some());

        // Full of live tokens: it starts over rather than grow.
        for n in 0..VERIFIED_CAPACITY {
            verified.insert(&format!("live{n}"), &claims(5_000), 1_000, 5);
        }
        assert!(verified.by_token.len() <= VERIFIED_CAPACITY);
    }
}
