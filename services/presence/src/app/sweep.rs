//! The sweeper: connections expire silently when their node stops beating (or stops
//! listing them). A sweep of a node looks at each of its users, announces who went
//! offline by expiry (with their last confirmation as last seen) and forgets what
//! expired; a dead node holding nothing is then forgotten.
//!
//! Each node is claimed in the store, so one instance sweeps it at a time: a dead
//! node every round until it is forgotten, a live one once per ttl (its devices expire
//! only when it stops listing them, which is rare). So sweeping reads each connected
//! user's records about once per ttl, less than the heartbeats write in that time.

use super::{App, AppResult, CONCURRENCY};
use crate::domain::{DeviceOp, GatewayNode, NodeId, UserId};
use crate::ports::{Ports, PresenceStore};
use futures::{StreamExt as _, TryStreamExt as _};

impl<P: Ports> App<P> {
    /// One round over every known node.
    pub async fn sweep(&self) -> AppResult<()> {
        let now_ms = self.now_ms();
        for node in self.store.nodes().await? {
            let claim = if node.is_expired(now_ms) {
                self.settings.sweep_interval / 2
            } else {
                self.settings.ttl
            };
            if self.store.claim_sweep(&node.node_id, claim).await? {
                self.sweep_node(&node).await?;
            }
        }
        Ok(())
    }

    async fn sweep_node(&self, node: &GatewayNode) -> AppResult<()> {
        let users = self.store.users_on_node(&node.node_id).await?;
        futures::stream::iter(users)
            .map(|user| async move { self.sweep_user(&node.node_id, &user).await })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        // A dead node holding nothing is forgotten, unless it came back meanwhile.
        if node.is_expired(self.now_ms())
            && self.store.users_on_node(&node.node_id).await?.is_empty()
            && self.store.node(&node.node_id).await?.is_none()
        {
            tracing::info!(node_id = %node.node_id, "forgetting a gateway node that stopped beating");
            self.store.forget_node(&node.node_id).await?;
        }
        Ok(())
    }

    async fn sweep_user(&self, node: &NodeId, user: &UserId) -> AppResult<()> {
        let _serialized = self.lock(user).await;
        let before = self.store.user_devices(user).await?;
        if !before.has_any_on(node) {
            // A stale index entry (a change that failed halfway).
            self.store.unindex(node, user).await?;
        } else if before.has_expired(self.now_ms()) {
            // Saving drops the user from the index of nodes they no longer are on.
            self.change_locked(user, &before, DeviceOp::Sweep).await?;
        }
        Ok(())
    }
}
