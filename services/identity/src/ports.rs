//! What the use cases need from the outside world, as traits: storage, password hashing,
//! failure counters, the event bus and the clock. Adapters implement them; tests may
//! swap any of them.

use crate::domain::{
    Account, AssignableRole, Ban, IdentityEvent, IpBlock, NewUser, Password, Policy, ProfileUpdate,
    RefreshTokenRecord, RoleAssignment, RoleLink, Session, SessionId, User, UserId,
};
use async_trait::async_trait;
use std::time::Duration;

/// A write the store refused because a unique value already exists.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same unique value exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Users, their credentials and roles.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with [`StoreError::Duplicate`] when the username (case-folded) is taken.
    async fn insert_user(&self, user: &NewUser) -> Result<(), StoreError>;
    /// Deleted accounts included.
    async fn account_by_id(&self, id: &UserId) -> anyhow::Result<Option<Account>>;
    /// By case-folded username, deleted accounts included.
    async fn account_by_username(&self, key: &str) -> anyhow::Result<Option<Account>>;
    /// Live users among `ids`, in no particular order.
    async fn users_by_ids(&self, ids: &[UserId]) -> anyhow::Result<Vec<User>>;
    /// Live users whose case-folded username starts with `prefix` and sorts after
    /// `after`, in username order, at most `limit`.
    async fn search_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<User>>;
    /// Returns false when the user does not exist or is deleted.
    async fn update_profile(
        &self,
        id: &UserId,
        update: &ProfileUpdate,
        now_ms: i64,
    ) -> anyhow::Result<bool>;
    async fn set_password_hash(&self, id: &UserId, hash: &str, now_ms: i64) -> anyhow::Result<()>;
    /// Soft-deletes the account and revokes all its live sessions in one transaction;
    /// returns the sessions revoked.
    async fn delete_user(&self, id: &UserId, now_ms: i64) -> anyhow::Result<Vec<SessionId>>;
    async fn add_role(&self, id: &UserId, role: &str) -> anyhow::Result<()>;
}

/// How a refresh-token exchange ended in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// Someone used the token first: a replay, or a concurrent exchange that lost.
    AlreadyUsed,
}

/// Sessions and their refresh tokens.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with its first refresh token, atomically.
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshTokenRecord,
    ) -> anyhow::Result<()>;
    async fn session(&self, id: &SessionId) -> anyhow::Result<Option<Session>>;
    async fn refresh_token(&self, token_hash: &str) -> anyhow::Result<Option<RefreshTokenRecord>>;
    /// In one transaction: marks `used_hash` used (only if it is still unused), stores
    /// `next`, and records the session's use. Exactly one of several concurrent calls
    /// with the same `used_hash` returns [`Rotation::Rotated`].
    async fn rotate_refresh_token(
        &self,
        used_hash: &str,
        next: &RefreshTokenRecord,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> anyhow::Result<Rotation>;
    /// Revokes one session; returns whether it was live (so whether anything changed).
    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: &str,
        now_ms: i64,
    ) -> anyhow::Result<bool>;
    /// Revokes every live session of `user_id` but `except`; returns those revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        except: Option<&SessionId>,
        reason: &str,
        now_ms: i64,
    ) -> anyhow::Result<Vec<SessionId>>;
    /// Sessions neither revoked nor expired, most recently used first.
    async fn live_sessions(&self, user_id: &UserId, now_ms: i64) -> anyhow::Result<Vec<Session>>;
    /// Sessions revoked at or after `since_ms`.
    async fn revoked_since(&self, since_ms: i64) -> anyhow::Result<Vec<Session>>;
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub secret: Vec<u8>,
    pub public: Vec<u8>,
    pub created_at_ms: i64,
    pub retired_at_ms: Option<i64>,
}

/// Token signing keys.
#[async_trait]
pub trait KeyRepository: Send + Sync {
    async fn signing_keys(&self) -> anyhow::Result<Vec<StoredKey>>;
    /// Stores `key`; with `retire_others_at`, retires every other active key in the same
    /// transaction.
    async fn insert_key(
        &self,
        key: &StoredKey,
        retire_others_at: Option<i64>,
    ) -> anyhow::Result<()>;
}

/// Bans and IP blocks.
#[async_trait]
pub trait ModerationRepository: Send + Sync {
    /// Creates or replaces the user's ban.
    async fn upsert_ban(&self, ban: &Ban) -> anyhow::Result<()>;
    async fn ban(&self, user_id: &UserId) -> anyhow::Result<Option<Ban>>;
    /// Returns whether there was one.
    async fn delete_ban(&self, user_id: &UserId) -> anyhow::Result<bool>;
    /// Bans in force at `now_ms`, by user id after `after`, at most `limit` (all when None).
    async fn active_bans(
        &self,
        now_ms: i64,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> anyhow::Result<Vec<Ban>>;
    /// Fails with [`StoreError::Duplicate`] when the range is already listed.
    async fn insert_ip_block(&self, block: &IpBlock) -> Result<(), StoreError>;
    async fn ip_block_by_cidr(&self, cidr: &str) -> anyhow::Result<Option<IpBlock>>;
    /// Returns whether there was one.
    async fn delete_ip_block(&self, id: &str) -> anyhow::Result<bool>;
    async fn active_ip_blocks(&self, now_ms: i64) -> anyhow::Result<Vec<IpBlock>>;
}

/// How assigning a role ended in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAssignOutcome {
    Assigned,
    AlreadyAssigned,
    /// The user does not exist or is deleted; nothing was stored.
    NoSuchUser,
}

/// Access rules, role assignments and role inheritance.
#[async_trait]
pub trait AccessRepository: Send + Sync {
    /// Every rule, oldest first.
    async fn policies(&self) -> anyhow::Result<Vec<Policy>>;
    /// Fails with [`StoreError::Duplicate`] when the same rule (all four parts) is stored.
    async fn insert_policy(&self, policy: &Policy) -> Result<(), StoreError>;
    /// Returns whether there was one.
    async fn delete_policy(&self, id: &str) -> anyhow::Result<bool>;
    /// Stored assignments (never the implicit role), by role then user id, only those of
    /// `role` and of `user_id` when given.
    async fn role_assignments(
        &self,
        role: Option<&AssignableRole>,
        user_id: Option<&UserId>,
    ) -> anyhow::Result<Vec<RoleAssignment>>;
    /// Every role inheritance link, by role then parent.
    async fn role_links(&self) -> anyhow::Result<Vec<RoleLink>>;
    /// Gives a live user a role. Atomic with account deletion: a deleted account never
    /// keeps a role given while it was being deleted.
    async fn assign_role(
        &self,
        user_id: &UserId,
        role: &AssignableRole,
    ) -> anyhow::Result<RoleAssignOutcome>;
    /// Returns whether the user held the role.
    async fn unassign_role(&self, user_id: &UserId, role: &AssignableRole) -> anyhow::Result<bool>;
}

/// Everything identity stores.
pub trait Store:
    UserRepository + SessionRepository + KeyRepository + ModerationRepository + AccessRepository
{
}

impl<T> Store for T where
    T: UserRepository + SessionRepository + KeyRepository + ModerationRepository + AccessRepository
{
}

/// Slow, salted password hashing. Implementations run the work off the async threads.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> anyhow::Result<String>;
    /// Whether `password` matches `hash`. With no hash (unknown user) it still spends the
    /// time of a real check and answers false, so timing does not reveal who exists.
    async fn verify(&self, password: &Password, hash: Option<&str>) -> anyhow::Result<bool>;
}

/// Counters of failed attempts that expire with their window.
#[async_trait]
pub trait FailureCounter: Send + Sync {
    async fn failures(&self, key: &str) -> anyhow::Result<u64>;
    /// Counts one failure; the window starts at the first.
    async fn record_failure(&self, key: &str, window: Duration) -> anyhow::Result<()>;
    async fn reset(&self, key: &str) -> anyhow::Result<()>;
}

/// Announces identity events. Called after the change is committed; an adapter retries
/// and logs what it cannot deliver (gateways also reload the full denylist regularly,
/// so a lost event is bounded in time).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: IdentityEvent);
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The adapters one [`crate::app::App`] runs on.
pub trait Ports: Send + Sync + 'static {
    type Store: Store + 'static;
    type Hasher: PasswordHasher + 'static;
    type Counter: FailureCounter + 'static;
    type Events: EventPublisher + 'static;
    type Clock: Clock + 'static;
}
