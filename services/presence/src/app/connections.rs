//! Gateway nodes reporting connections: connect, disconnect, heartbeat.

use super::{App, AppResult, CONCURRENCY, DeviceInput, MAX_HEARTBEAT_DEVICES, as_ms};
use crate::domain::{DeviceOp, GatewayNode, NodeId, PushAddr, ValidationError};
use crate::ports::{Ports, PresenceStore};
use futures::{StreamExt as _, TryStreamExt as _};

/// A node's heartbeat as it asks.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatInput {
    pub node_id: String,
    pub push_addr: String,
    pub devices: Vec<DeviceInput>,
    pub ttl_s: u32,
}

impl<P: Ports> App<P> {
    /// Records a connection; returns whether the user came online with it.
    pub async fn connect_device(
        &self,
        device: Option<&DeviceInput>,
        ttl_s: u32,
    ) -> AppResult<bool> {
        let connection = device.ok_or(ValidationError::MissingDevice)?.parse()?;
        let ttl = self.ttl(ttl_s)?;
        // A node may report connections before its first heartbeat: make it known, so
        // the sweeper finds its connections should it die before beating.
        let node = &connection.node_id;
        if !self.store.is_known_node(node).await? {
            let expires_at_ms = self.now_ms().saturating_add(as_ms(ttl));
            let unannounced = GatewayNode::unannounced(node.clone(), expires_at_ms);
            self.store.save_node(&unannounced, ttl).await?;
        }
        let user = connection.user_id.clone();
        let op = DeviceOp::Connect {
            connection,
            ttl_ms: as_ms(ttl),
        };
        Ok(self.change(&user, op).await?.came_online)
    }

    /// Removes a connection; returns whether the user went offline with it.
    pub async fn disconnect_device(&self, device: Option<&DeviceInput>) -> AppResult<bool> {
        let connection = device.ok_or(ValidationError::MissingDevice)?.parse()?;
        let op = DeviceOp::Disconnect {
            key: connection.key(),
            keep_ms: as_ms(self.settings.ttl),
        };
        Ok(self.change(&connection.user_id, op).await?.went_offline)
    }

    /// Refreshes a node and the connections it lists; returns how many were refreshed
    /// (or recorded again, when presence had lost or expired them).
    pub async fn heartbeat(&self, input: &HeartbeatInput) -> AppResult<u32> {
        let node_id = NodeId::parse(&input.node_id)?;
        let push_addr = PushAddr::parse(&input.push_addr)?;
        let ttl = self.ttl(input.ttl_s)?;
        if input.devices.len() > MAX_HEARTBEAT_DEVICES {
            return Err(ValidationError::TooManyDevices {
                max: MAX_HEARTBEAT_DEVICES,
            }
            .into());
        }
        let connections = input
            .devices
            .iter()
            .map(|device| {
                let mut device = device.clone();
                if device.node_id.is_empty() {
                    device.node_id.clone_from(&input.node_id);
                } else if device.node_id != input.node_id {
                    return Err(ValidationError::NodeMismatch);
                }
                device.parse()
            })
            .collect::<Result<Vec<_>, _>>()?;

        let now_ms = self.now_ms();
        let node = GatewayNode {
            node_id,
            push_addr: Some(push_addr),
            connections: u32::try_from(connections.len()).unwrap_or(u32::MAX),
            last_heartbeat_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(as_ms(ttl)),
        };
        self.store.save_node(&node, ttl).await?;

        let ttl_ms = as_ms(ttl);
        futures::stream::iter(connections)
            .map(|connection| async move {
                let user = connection.user_id.clone();
                let change = self
                    .change(&user, DeviceOp::Refresh { connection, ttl_ms })
                    .await?;
                AppResult::Ok(u32::from(change.recorded))
            })
            .buffer_unordered(CONCURRENCY)
            .try_fold(
                0_u32,
                |total, one| async move { Ok(total.saturating_add(one)) },
            )
            .await
    }
}
