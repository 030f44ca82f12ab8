//! Signing keys, access tokens and their verification, refresh-token introspection and
//! the JWKS.

use super::keys::KeyRing;
use super::{App, AppResult};
use crate::domain::{SessionId, User, UserId};
use crate::ports::{KeyRepository, Ports, SessionRepository, StoredKey, UserRepository};
use anyhow::Context as _;
use im_token::secret::{constant_time_eq, token_hash};
use im_token::{Claims, Jwks, SigningKey, Validation};
use std::sync::atomic::Ordering;
use std::sync::{PoisonError, RwLockReadGuard};

/// Clock difference tolerated between the instances that issue and verify tokens.
const LEEWAY_S: i64 = 5;
/// Longest token worth looking at (im_token refuses larger ones too).
const MAX_TOKEN_CHARS: usize = 8 * 1024;

/// What an active token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `access` or `refresh`.
    pub token_type: &'static str,
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The user's roles now (not as when the token was issued).
    pub roles: Vec<String>,
    pub expires_at_ms: i64,
    pub issued_at_ms: i64,
}

impl<P: Ports> App<P> {
    fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        // The ring is replaced whole, so a poisoned lock still holds a consistent ring.
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reloads the signing keys from the store, picking up rotations done elsewhere
    /// (another instance, or `im admin rotate-keys`).
    pub async fn reload_keys(&self) -> anyhow::Result<()> {
        let stored = self
            .store
            .signing_keys()
            .await
            .context("load signing keys")?;
        let ring = KeyRing::from_stored(stored);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = ring;
        self.keys_reloaded_at_ms
            .store(self.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Loads the keys and creates the first one when none is active. Two instances
    /// starting at once may both create one; both keys are valid and every instance
    /// then signs with the newer.
    pub async fn load_keys(&self) -> anyhow::Result<()> {
        self.reload_keys().await?;
        if self.keys().signer().is_none() {
            let key = new_key(self.now_ms());
            tracing::info!(kid = %key.kid, "created the first signing key");
            self.store.insert_key(&key, None).await?;
            self.reload_keys().await?;
        }
        Ok(())
    }

    /// Adds a new signing key and retires the current ones. Retired keys stay in the
    /// JWKS until every token they signed has expired. Returns the new key id.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        let now = self.now_ms();
        let key = new_key(now);
        self.store.insert_key(&key, Some(now)).await?;
        self.reload_keys().await?;
        tracing::info!(kid = %key.kid, "rotated the signing key");
        Ok(key.kid)
    }

    /// The public keys as a JWKS JSON document. Reloaded on every call (a cheap query,
    /// and callers cache), so a key rotated by another process is published at once.
    pub async fn jwks_json(&self) -> AppResult<String> {
        if let Err(error) = self.reload_keys().await {
            tracing::warn!(%error, "serving the cached JWKS");
        }
        let jwks = Jwks {
            keys: self
                .keys()
                .published(self.now_ms(), self.settings.access_ttl_ms())
                .iter()
                .map(im_token::PublicKey::to_jwk)
                .collect(),
        };
        Ok(serde_json::to_string(&jwks).context("encode the JWKS")?)
    }

    pub(super) fn sign_access_token(
        &self,
        user: &User,
        session_id: &SessionId,
    ) -> AppResult<String> {
        let signer = self
            .keys()
            .signer()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no active signing key"))?;
        let iat = self.now_ms() / 1000;
        let ttl_s = i64::try_from(self.settings.access_ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user.id.as_str().to_owned(),
            sid: session_id.as_str().to_owned(),
            roles: user.roles.clone(),
            iat,
            exp: iat.saturating_add(ttl_s),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok(signer.sign(&claims))
    }

    /// The claims of a token signed by one of our published keys, or `None`. An unknown
    /// key id triggers one reload, for keys rotated by another process.
    async fn verified_claims(&self, token: &str) -> Option<Claims> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let kid = im_token::decode_header(token).ok()?.kid;
        let now = self.now_ms();
        let ttl = self.settings.access_ttl_ms();
        let mut key = self.keys().verifier(&kid, now, ttl);
        // At most one reload a second, so tokens with made-up key ids cannot flood the store.
        let last = self.keys_reloaded_at_ms.load(Ordering::Relaxed);
        if key.is_none() && now.saturating_sub(last) >= 1000 {
            if let Err(error) = self.reload_keys().await {
                tracing::warn!(%error, "cannot reload signing keys");
            }
            key = self.keys().verifier(&kid, now, ttl);
        }
        let validation = Validation {
            issuer: self.settings.issuer.clone(),
            audience: self.settings.audience.clone(),
            leeway_s: LEEWAY_S,
        };
        key?.verify(token, &validation, now / 1000).ok()
    }

    /// Whether an access token is good now: signed by us, unexpired, its session not
    /// revoked, its user neither deleted nor banned. `None` means inactive.
    pub async fn verify_token(&self, token: &str) -> AppResult<Option<TokenInfo>> {
        let Some(claims) = self.verified_claims(token).await else {
            return Ok(None);
        };
        let (Some(user_id), Some(session_id)) =
            (UserId::parse(&claims.sub), SessionId::parse(&claims.sid))
        else {
            return Ok(None);
        };
        let Some(roles) = self.live_subject(&user_id, &session_id, false).await? else {
            return Ok(None);
        };
        Ok(Some(TokenInfo {
            token_type: "access",
            user_id,
            session_id,
            roles,
            expires_at_ms: claims.exp.saturating_mul(1000),
            issued_at_ms: claims.iat.saturating_mul(1000),
        }))
    }

    /// RFC 7662-style introspection of an access token or a refresh token.
    pub async fn introspect(&self, token: &str) -> AppResult<Option<TokenInfo>> {
        if token.contains('.') {
            return self.verify_token(token).await;
        }
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let hash = token_hash(token);
        let now = self.now_ms();
        let Some(record) = self
            .store
            .refresh_token(&hash)
            .await?
            .filter(|record| constant_time_eq(record.token_hash.as_bytes(), hash.as_bytes()))
            .filter(|record| record.used_at_ms.is_none() && record.expires_at_ms > now)
        else {
            return Ok(None);
        };
        let Some(session) = self.store.session(&record.session_id).await? else {
            return Ok(None);
        };
        let Some(roles) = self
            .live_subject(&session.user_id, &session.id, true)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(TokenInfo {
            token_type: "refresh",
            user_id: session.user_id,
            session_id: session.id,
            roles,
            expires_at_ms: record.expires_at_ms,
            issued_at_ms: record.created_at_ms,
        }))
    }

    /// The user's roles when the session is not revoked (and, with `require_unexpired`,
    /// not expired) and belongs to a user that is neither deleted nor banned.
    async fn live_subject(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        require_unexpired: bool,
    ) -> AppResult<Option<Vec<String>>> {
        let now = self.now_ms();
        let session_ok = self
            .store
            .session(session_id)
            .await?
            .is_some_and(|session| {
                session.user_id == *user_id
                    && session.revoked_at_ms.is_none()
                    && (!require_unexpired || session.is_live(now))
            });
        if !session_ok {
            return Ok(None);
        }
        let Some(account) = self
            .store
            .account_by_id(user_id)
            .await?
            .filter(|account| !account.is_deleted())
        else {
            return Ok(None);
        };
        if self.active_ban(user_id).await?.is_some() {
            return Ok(None);
        }
        Ok(Some(account.user.roles))
    }
}

fn new_key(now_ms: i64) -> StoredKey {
    let kid = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    let key = SigningKey::generate(kid.clone());
    StoredKey {
        kid,
        secret: key.secret_bytes().to_vec(),
        public: key.public_key().to_bytes().to_vec(),
        created_at_ms: now_ms,
        retired_at_ms: None,
    }
}
