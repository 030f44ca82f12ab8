//! Reading presence: status of users, where their devices are, which nodes are live.

use super::{App, AppResult, CONCURRENCY, MAX_LOCATE_USERS, MAX_PRESENCE_USERS, user_ids};
use crate::domain::{Connection, GatewayNode, UserId, UserPresence};
use crate::ports::{Ports, PresenceStore};
use futures::{StreamExt as _, TryStreamExt as _};
use std::collections::BTreeSet;

/// The live connections of some users and the live nodes holding them.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub devices: Vec<Connection>,
    pub nodes: Vec<GatewayNode>,
}

impl<P: Ports> App<P> {
    /// Presence of each distinct user named, in the order named.
    pub async fn get_presence(&self, ids: &[String]) -> AppResult<Vec<UserPresence>> {
        let users = user_ids(ids, MAX_PRESENCE_USERS)?;
        futures::stream::iter(users)
            .map(|user| async move { self.presence(&user).await })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn presence(&self, user: &UserId) -> AppResult<UserPresence> {
        let devices = self.store.user_devices(user).await?;
        let now_ms = self.now_ms();
        let stored = if devices.live(now_ms).next().is_none() {
            self.store.last_seen(user).await?
        } else {
            None
        };
        Ok(devices.presence(user, now_ms, stored))
    }

    /// Every live connection of the users named, and the live nodes holding them.
    pub async fn locate_devices(&self, ids: &[String]) -> AppResult<Located> {
        let users = user_ids(ids, MAX_LOCATE_USERS)?;
        let per_user: Vec<Vec<Connection>> = futures::stream::iter(users)
            .map(|user| async move {
                let devices = self.store.user_devices(&user).await?;
                let now_ms = self.now_ms();
                AppResult::Ok(
                    devices
                        .live(now_ms)
                        .map(|r| r.connection.clone())
                        .collect::<Vec<_>>(),
                )
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let devices: Vec<Connection> = per_user.into_iter().flatten().collect();
        let node_ids: BTreeSet<_> = devices.iter().map(|c| c.node_id.clone()).collect();
        let nodes: Vec<Option<GatewayNode>> = futures::stream::iter(node_ids)
            .map(|node| async move { self.store.node(&node).await })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let now_ms = self.now_ms();
        Ok(Located {
            devices,
            nodes: nodes
                .into_iter()
                .flatten()
                .filter(|node| node.is_live(now_ms))
                .collect(),
        })
    }

    /// The live gateway nodes, by node id.
    pub async fn list_nodes(&self) -> AppResult<Vec<GatewayNode>> {
        let now_ms = self.now_ms();
        let mut nodes: Vec<GatewayNode> = self
            .store
            .nodes()
            .await?
            .into_iter()
            .filter(|node| node.is_live(now_ms))
            .collect();
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(nodes)
    }
}
