//! The use cases of identity, one method each, generic over the [`Ports`] they run on.
//! Split by concern: accounts (profiles, passwords, deletion), sessions (login,
//! refresh, logout), tokens (signing keys, verification), moderation (bans, IP
//! blocks, the denylist) and access (rules and role assignments).

mod access;
mod accounts;
mod keys;
mod moderation;
mod sessions;
mod tokens;

pub use im_runtime::paging::{PageRequest, Paged};
pub use sessions::{LoginCommand, RefreshCommand, TokenPair};
pub use tokens::TokenInfo;

use crate::domain::{
    Account, Ban, IdentityEvent, RevokedSession, SessionId, UserId, ValidationError,
};
use crate::ports::{Clock, EventPublisher, ModerationRepository, Ports, UserRepository};
use im_runtime::config::{AuthConfig, LoginLimits};
use keys::KeyRing;
use std::sync::RwLock;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

/// Why a use case refused. Mapped once to gRPC status codes by the gRPC adapter.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("this username is already taken")]
    UsernameTaken,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after_s: u64 },
    #[error("this account is banned")]
    UserBanned,
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,
    #[error("the password is wrong")]
    WrongPassword,
    #[error("no such user")]
    UserNotFound,
    #[error("no such session")]
    SessionNotFound,
    #[error("this user is not banned")]
    BanNotFound,
    #[error("this address range is already blocked")]
    IpBlockExists,
    #[error("no such IP block")]
    IpBlockNotFound,
    #[error("an identical policy already exists")]
    PolicyExists,
    #[error("no such policy")]
    PolicyNotFound,
    #[error("the user already holds this role")]
    RoleAssigned,
    #[error("the user does not hold this role")]
    RoleNotAssigned,
    #[error("the page cursor is not valid")]
    InvalidCursor,
    #[error("at most {max} ids may be asked at once")]
    TooManyIds { max: usize },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A cursor no page of ours handed out is the client's mistake (400 `invalid_cursor`).
impl From<im_runtime::paging::InvalidCursor> for AppError {
    fn from(_: im_runtime::paging::InvalidCursor) -> Self {
        Self::InvalidCursor
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// The parts of the configuration identity's rules depend on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub login_limits: LoginLimits,
}

impl From<&AuthConfig> for Settings {
    fn from(auth: &AuthConfig) -> Self {
        Self {
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            access_ttl: auth.access_ttl,
            refresh_ttl: auth.refresh_ttl,
            login_limits: auth.login_limits.clone(),
        }
    }
}

impl Settings {
    fn access_ttl_ms(&self) -> i64 {
        duration_ms(self.access_ttl)
    }

    fn refresh_ttl_ms(&self) -> i64 {
        duration_ms(self.refresh_ttl)
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Identity's use cases over one set of adapters.
pub struct App<P: Ports> {
    store: P::Store,
    hasher: P::Hasher,
    counter: P::Counter,
    events: P::Events,
    clock: P::Clock,
    settings: Settings,
    keys: RwLock<KeyRing>,
    keys_reloaded_at_ms: AtomicI64,
}

impl<P: Ports> App<P> {
    /// An app with no signing keys loaded yet; see [`App::load_keys`].
    pub fn new(
        store: P::Store,
        hasher: P::Hasher,
        counter: P::Counter,
        events: P::Events,
        clock: P::Clock,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            hasher,
            counter,
            events,
            clock,
            settings,
            keys: RwLock::new(KeyRing::default()),
            keys_reloaded_at_ms: AtomicI64::new(0),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A live (not deleted) account, or [`AppError::UserNotFound`].
    async fn live_account(&self, user_id: &str) -> AppResult<Account> {
        let id = UserId::parse(user_id).ok_or(AppError::UserNotFound)?;
        match self.store.account_by_id(&id).await? {
            Some(account) if !account.is_deleted() => Ok(account),
            _ => Err(AppError::UserNotFound),
        }
    }

    /// The user's ban if it is in force now.
    async fn active_ban(&self, user_id: &UserId) -> AppResult<Option<Ban>> {
        let now = self.now_ms();
        let ban = self.store.ban(user_id).await?;
        Ok(ban.filter(|ban| ban.is_active(now)))
    }

    /// Announces revoked sessions, so gateways drop their tokens and sockets.
    async fn announce_revoked(&self, user_id: &UserId, sessions: Vec<SessionId>, now_ms: i64) {
        let forget_after_ms = now_ms.saturating_add(self.settings.access_ttl_ms());
        for session_id in sessions {
            self.events
                .publish(IdentityEvent::SessionRevoked(RevokedSession {
                    session_id,
                    user_id: user_id.clone(),
                    forget_after_ms,
                }))
                .await;
        }
    }
}
