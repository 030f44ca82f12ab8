//! A gateway node as presence knows it.

use super::{NodeId, PushAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayNode {
    pub node_id: NodeId,
    /// `None` until the node's first heartbeat (its devices may connect before).
    pub push_addr: Option<PushAddr>,
    /// Devices listed in the node's latest heartbeat.
    pub connections: u32,
    /// 0 before the first heartbeat.
    pub last_heartbeat_ms: i64,
    pub expires_at_ms: i64,
}

impl GatewayNode {
    /// Known by a connection only, before its first heartbeat.
    pub fn unannounced(node_id: NodeId, expires_at_ms: i64) -> Self {
        Self {
            node_id,
            push_addr: None,
            connections: 0,
            last_heartbeat_ms: 0,
            expires_at_ms,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms <= now_ms
    }

    /// Heard from within its ttl and reachable: a push target.
    pub fn is_live(&self, now_ms: i64) -> bool {
        !self.is_expired(now_ms) && self.push_addr.is_some()
    }
}
