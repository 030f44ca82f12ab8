//! What the use cases need from the outside world: a store of connections and nodes
//! (the kv store in production), a publisher of presence changes (the bus), the clock.

use crate::domain::{GatewayNode, NodeId, PresenceChanged, UserDevices, UserId};
use async_trait::async_trait;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached: callers fall back (DESIGN §6), then retry.
    #[error("the presence store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Connections per user, gateway nodes, and who is on which node. Callers serialize
/// changes to one user; the store makes no cross-key transactions.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Every record of the user's connections, expired ones included.
    async fn user_devices(&self, user: &UserId) -> StoreResult<UserDevices>;

    /// Replaces the user's records `before` (as read) with `after`, writing only what
    /// differs, and keeps them for `keep` unless changed again; keeps the index of
    /// users per node in step.
    async fn save_user_devices(
        &self,
        user: &UserId,
        before: &UserDevices,
        after: &UserDevices,
        keep: Duration,
    ) -> StoreResult<()>;

    /// The user's last seen time, stored when they last went offline.
    async fn last_seen(&self, user: &UserId) -> StoreResult<Option<i64>>;

    async fn set_last_seen(&self, user: &UserId, at_ms: i64) -> StoreResult<()>;

    /// A node as its latest heartbeat left it, while that heartbeat's ttl lasts.
    async fn node(&self, node: &NodeId) -> StoreResult<Option<GatewayNode>>;

    /// Every known node, expired ones included until the sweeper forgets them.
    async fn nodes(&self) -> StoreResult<Vec<GatewayNode>>;

    /// Whether the node is known at all (expired or not).
    async fn is_known_node(&self, node: &NodeId) -> StoreResult<bool>;

    /// Records the node as heard from now; `ttl` bounds how long it counts as live.
    async fn save_node(&self, node: &GatewayNode, ttl: Duration) -> StoreResult<()>;

    /// Forgets the node and its index of users.
    async fn forget_node(&self, node: &NodeId) -> StoreResult<()>;

    /// The users with records on the node.
    async fn users_on_node(&self, node: &NodeId) -> StoreResult<Vec<UserId>>;

    /// Drops a user from the node's index (when no record of theirs is on it).
    async fn unindex(&self, node: &NodeId, user: &UserId) -> StoreResult<()>;

    /// Claims the sweeping of one node for `ttl`, so one instance sweeps it per round.
    async fn claim_sweep(&self, node: &NodeId, ttl: Duration) -> StoreResult<bool>;
}

/// Announces presence changes. Called in order per user, after the change is stored;
/// an adapter retries and logs what it cannot deliver.
#[async_trait]
pub trait PresenceEvents: Send + Sync {
    async fn publish(&self, change: &PresenceChanged);
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The adapters one [`crate::app::App`] runs on.
pub trait Ports: Send + Sync + 'static {
    type Store: PresenceStore + 'static;
    type Events: PresenceEvents + 'static;
    type Clock: Clock + 'static;
}
