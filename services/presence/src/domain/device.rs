//! One device connection and how it is recorded over time.

use super::{DeviceId, NodeId, SessionId, UserId};

/// A device connection: which session of which user a gateway node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub device_id: DeviceId,
    pub node_id: NodeId,
}

impl Connection {
    pub fn key(&self) -> ConnectionKey {
        ConnectionKey {
            node_id: self.node_id.clone(),
            session_id: self.session_id.clone(),
        }
    }
}

/// What tells a user's connections apart: a session on a node. The same session on two
/// nodes (a reconnect the old node has not noticed yet) is two connections, so the old
/// node's late disconnect never hides the new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionKey {
    pub node_id: NodeId,
    pub session_id: SessionId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Held by its node; live until the record expires.
    Connected,
    /// Disconnected at `at_ms`. Kept until the record expires so that a heartbeat
    /// listing the device, sent before the disconnect, does not bring it back.
    Disconnected { at_ms: i64 },
}

/// A connection as recorded: when it started, when its node last confirmed it, and when
/// the record expires unless refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub connection: Connection,
    pub connected_at_ms: i64,
    pub last_heartbeat_ms: i64,
    pub expires_at_ms: i64,
    pub status: DeviceStatus,
}

impl DeviceRecord {
    pub fn key(&self) -> ConnectionKey {
        self.connection.key()
    }

    pub fn is_connected(&self) -> bool {
        self.status == DeviceStatus::Connected
    }

    /// Past its expiry: to be forgotten.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms <= now_ms
    }

    /// Connected and not expired: the device counts for presence and delivery.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.is_connected() && !self.is_expired(now_ms)
    }
}
