//! The presence use cases, one method each, generic over the [`Ports`] they run on.
//!
//! Every change to a user's connections runs under that user's lock (striped, within
//! this instance): read the user's records, let the domain decide, store the outcome,
//! announce the transitions, release. Several presence instances may race on one
//! user's first or last device and announce a transition twice; announcements are
//! states, so that is harmless.
//!
//! Split by concern: connections (connect, disconnect, heartbeat), queries (presence,
//! locate, nodes) and the sweeper that announces and forgets what expired.

mod connections;
mod queries;
mod sweep;

pub use connections::HeartbeatInput;

use crate::domain::{
    Connection, DeviceChange, DeviceId, DeviceOp, NodeId, SessionId, UserDevices, UserId,
    ValidationError, decide,
};
use crate::ports::{Clock, Ports, PresenceEvents, PresenceStore, StoreError};
use crate::settings::Settings;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// Users named in one `GetPresence`.
pub const MAX_PRESENCE_USERS: usize = 200;
/// Users named in one `LocateDevices`.
pub const MAX_LOCATE_USERS: usize = 2_000;
/// Devices listed in one `Heartbeat`.
pub const MAX_HEARTBEAT_DEVICES: usize = 10_000;
/// Users read or changed at once by one call: enough to pipeline a kv connection.
const CONCURRENCY: usize = 32;
/// Stripes of the per-user lock.
const LOCK_STRIPES: usize = 1_024;

/// Why a use case failed. Mapped once to gRPC statuses by the gRPC adapter.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("presence is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(error) => Self::Unavailable(error),
            StoreError::Other(error) => Self::Unexpected(error),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A device connection as a caller names it, not yet parsed.
#[derive(Debug, Clone, Default)]
pub struct DeviceInput {
    pub user_id: String,
    pub session_id: String,
    pub device_id: String,
    pub node_id: String,
}

impl DeviceInput {
    fn parse(&self) -> Result<Connection, ValidationError> {
        Ok(Connection {
            user_id: UserId::parse(&self.user_id)?,
            session_id: SessionId::parse(&self.session_id)?,
            device_id: DeviceId::parse(&self.device_id)?,
            node_id: NodeId::parse(&self.node_id)?,
        })
    }
}

/// The presence service's use cases over one set of adapters.
pub struct App<P: Ports> {
    store: P::Store,
    events: P::Events,
    clock: P::Clock,
    settings: Settings,
    locks: Box<[Mutex<()>]>,
    lock_hasher: RandomState,
}

impl<P: Ports> App<P> {
    pub fn new(store: P::Store, events: P::Events, clock: P::Clock, settings: Settings) -> Self {
        Self {
            store,
            events,
            clock,
            settings,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            lock_hasher: RandomState::new(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Serializes changes to one user within this instance.
    async fn lock(&self, user: &UserId) -> MutexGuard<'_, ()> {
        let stripe = self.lock_hasher.hash_one(user) as usize % self.locks.len();
        self.locks[stripe].lock().await
    }

    /// The ttl a caller asked for in whole seconds (0: the default).
    fn ttl(&self, ttl_s: u32) -> Result<Duration, ValidationError> {
        let ttl = match ttl_s {
            0 => self.settings.ttl,
            seconds => Duration::from_secs(u64::from(seconds)),
        };
        if ttl > self.settings.max_ttl {
            let max_s = u32::try_from(self.settings.max_ttl.as_secs()).unwrap_or(u32::MAX);
            return Err(ValidationError::Ttl { max_s });
        }
        Ok(ttl)
    }

    /// Applies `op` to the user's connections under the user's lock.
    async fn change(&self, user: &UserId, op: DeviceOp) -> AppResult<DeviceChange> {
        let _serialized = self.lock(user).await;
        let before = self.store.user_devices(user).await?;
        self.change_locked(user, &before, op).await
    }

    /// Decides `op` on the records `before` (read under the user's lock, still held),
    /// stores the outcome and announces its transitions, in that order.
    async fn change_locked(
        &self,
        user: &UserId,
        before: &UserDevices,
        op: DeviceOp,
    ) -> AppResult<DeviceChange> {
        let now_ms = self.now_ms();
        let change = decide(user, before, op, now_ms);
        if change.after != *before {
            let keep = change
                .after
                .last_expiry_ms()
                .map_or(Duration::ZERO, |at| millis(at.saturating_sub(now_ms)))
                + self.settings.expired_retention;
            self.store
                .save_user_devices(user, before, &change.after, keep)
                .await?;
        }
        if let Some(at_ms) = change.last_seen_ms {
            self.store.set_last_seen(user, at_ms).await?;
        }
        for event in &change.events {
            self.events.publish(event).await;
        }
        Ok(change)
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn as_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Parses user ids, drops repeats (keeping the first), and bounds how many.
fn user_ids(ids: &[String], max: usize) -> Result<Vec<UserId>, ValidationError> {
    if ids.len() > max {
        return Err(ValidationError::TooManyUsers { max });
    }
    let mut seen = std::collections::HashSet::new();
    let mut users = Vec::with_capacity(ids.len());
    for id in ids {
        let user = UserId::parse(id)?;
        if seen.insert(user.clone()) {
            users.push(user);
        }
    }
    Ok(users)
}
