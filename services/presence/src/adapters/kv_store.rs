//! The presence store over the kv port (`memory://` or Redis). Layout, under a prefix
//! (`presence` by default):
//!
//! | key | kind | holds |
//! |---|---|---|
//! | `{p}:user:{user}` | hash | field `{node} {session}` → one connection (JSON), its own expiry inside |
//! | `{p}:last_seen:{user}` | value | unix ms, stored when the user went offline |
//! | `{p}:node:{node}` | value, ttl | the node (JSON) while its latest heartbeat lasts |
//! | `{p}:nodes` | hash | field `{node}` → the node (JSON), expired ones until forgotten |
//! | `{p}:node_users:{node}` | hash | field `{user}` → empty: users with records on the node |
//! | `{p}:sweep:{node}` | value, ttl | the claim of one sweeper round |
//!
//! Redis 7.0 has no per-field expiry, so each field carries its expiry and readers
//! filter; whole keys get a ttl past their last field's expiry, so nothing outlives its
//! use even when no sweeper runs. Values are JSON so `redis-cli` shows them readably.

use crate::domain::{
    Connection, ConnectionKey, DeviceId, DeviceRecord, DeviceStatus, GatewayNode, NodeId, PushAddr,
    SessionId, UserDevices, UserId, ValidationError,
};
use crate::ports::{PresenceStore, StoreError, StoreResult};
use crate::settings::Settings;
use anyhow::Context as _;
use async_trait::async_trait;
use im_runtime::kv::{Kv, KvError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub struct KvPresenceStore {
    kv: Arc<dyn Kv>,
    prefix: String,
    expired_retention: Duration,
    last_seen_retention: Duration,
}

impl KvPresenceStore {
    pub fn new(kv: Arc<dyn Kv>, settings: &Settings) -> Self {
        Self {
            kv,
            prefix: settings.key_prefix.clone(),
            expired_retention: settings.expired_retention,
            last_seen_retention: settings.last_seen_retention,
        }
    }

    fn user_key(&self, user: &UserId) -> String {
        format!("{}:user:{user}", self.prefix)
    }

    fn last_seen_key(&self, user: &UserId) -> String {
        format!("{}:last_seen:{user}", self.prefix)
    }

    fn node_key(&self, node: &NodeId) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    fn node_users_key(&self, node: &NodeId) -> String {
        format!("{}:node_users:{node}", self.prefix)
    }

    fn sweep_key(&self, node: &NodeId) -> String {
        format!("{}:sweep:{node}", self.prefix)
    }
}

/// Ids are printable ASCII without spaces, so a space separates them unambiguously.
fn device_field(key: &ConnectionKey) -> String {
    format!("{} {}", key.node_id, key.session_id)
}

fn failed(error: KvError) -> StoreError {
    match error {
        KvError::Unavailable(_) => StoreError::Unavailable(error.into()),
        other => StoreError::Other(other.into()),
    }
}

/// One connection as stored in a user's hash.
#[derive(Debug, Serialize, Deserialize)]
struct StoredDevice {
    session_id: String,
    device_id: String,
    node_id: String,
    connected_at_ms: i64,
    last_heartbeat_ms: i64,
    expires_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disconnected_at_ms: Option<i64>,
}

impl StoredDevice {
    fn new(record: &DeviceRecord) -> Self {
        let connection = &record.connection;
        Self {
            session_id: connection.session_id.as_str().to_owned(),
            device_id: connection.device_id.as_str().to_owned(),
            node_id: connection.node_id.as_str().to_owned(),
            connected_at_ms: record.connected_at_ms,
            last_heartbeat_ms: record.last_heartbeat_ms,
            expires_at_ms: record.expires_at_ms,
            disconnected_at_ms: match record.status {
                DeviceStatus::Connected => None,
                DeviceStatus::Disconnected { at_ms } => Some(at_ms),
            },
        }
    }

    fn into_record(self, user: &UserId) -> Result<DeviceRecord, ValidationError> {
        Ok(DeviceRecord {
            connection: Connection {
                user_id: user.clone(),
                session_id: SessionId::parse(&self.session_id)?,
                device_id: DeviceId::parse(&self.device_id)?,
                node_id: NodeId::parse(&self.node_id)?,
            },
            connected_at_ms: self.connected_at_ms,
            last_heartbeat_ms: self.last_heartbeat_ms,
            expires_at_ms: self.expires_at_ms,
            status: match self.disconnected_at_ms {
                None => DeviceStatus::Connected,
                Some(at_ms) => DeviceStatus::Disconnected { at_ms },
            },
        })
    }
}

/// A gateway node as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredNode {
    node_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    push_addr: Option<String>,
    connections: u32,
    last_heartbeat_ms: i64,
    expires_at_ms: i64,
}

impl StoredNode {
    fn new(node: &GatewayNode) -> Self {
        Self {
            node_id: node.node_id.as_str().to_owned(),
            push_addr: node.push_addr.as_ref().map(|a| a.as_str().to_owned()),
            connections: node.connections,
            last_heartbeat_ms: node.last_heartbeat_ms,
            expires_at_ms: node.expires_at_ms,
        }
    }

    fn into_node(self) -> Result<GatewayNode, ValidationError> {
        Ok(GatewayNode {
            node_id: NodeId::parse(&self.node_id)?,
            push_addr: self.push_addr.as_deref().map(PushAddr::parse).transpose()?,
            connections: self.connections,
            last_heartbeat_ms: self.last_heartbeat_ms,
            expires_at_ms: self.expires_at_ms,
        })
    }
}

fn encode(value: &impl Serialize) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value)
        .context("encode a presence record")
        .map_err(StoreError::Other)
}

fn decode_node(bytes: &[u8]) -> Option<GatewayNode> {
    let decoded = serde_json::from_slice::<StoredNode>(bytes)
        .map_err(|e| e.to_string())
        .and_then(|stored| stored.into_node().map_err(|e| e.to_string()));
    decoded
        .inspect_err(|error| tracing::warn!(error, "ignoring an unreadable gateway node record"))
        .ok()
}

#[async_trait]
impl PresenceStore for KvPresenceStore {
    async fn user_devices(&self, user: &UserId) -> StoreResult<UserDevices> {
        let fields = self
            .kv
            .hash_get_all(&self.user_key(user))
            .await
            .map_err(failed)?;
        let records = fields
            .into_iter()
            .filter_map(|(field, bytes)| {
                let decoded = serde_json::from_slice::<StoredDevice>(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|stored| stored.into_record(user).map_err(|e| e.to_string()));
                decoded
                    .inspect_err(|error| {
                        tracing::warn!(error, user_id = %user, field, "ignoring an unreadable connection record");
                    })
                    .ok()
            })
            .collect();
        Ok(UserDevices::new(records))
    }

    async fn save_user_devices(
        &self,
        user: &UserId,
        before: &UserDevices,
        after: &UserDevices,
        keep: Duration,
    ) -> StoreResult<()> {
        let key = self.user_key(user);
        let old: HashMap<ConnectionKey, &DeviceRecord> =
            before.records().iter().map(|r| (r.key(), r)).collect();
        let new: HashMap<ConnectionKey, &DeviceRecord> =
            after.records().iter().map(|r| (r.key(), r)).collect();
        let old_nodes: BTreeSet<&NodeId> = old.keys().map(|k| &k.node_id).collect();
        let new_nodes: BTreeSet<&NodeId> = new.keys().map(|k| &k.node_id).collect();
        let user_field = user.as_str();

        // Index first and unindex last, so a record is never on a node unindexed (the
        // sweeper finds records through the index); a stale index entry is harmless.
        for node in new_nodes.difference(&old_nodes) {
            self.kv
                .hash_set(&self.node_users_key(node), user_field, b"")
                .await
                .map_err(failed)?;
        }
        for (connection, record) in &new {
            if old.get(connection) != Some(record) {
                let value = encode(&StoredDevice::new(record))?;
                self.kv
                    .hash_set(&key, &device_field(connection), &value)
                    .await
                    .map_err(failed)?;
            }
        }
        for connection in old.keys().filter(|k| !new.contains_key(*k)) {
            self.kv
                .hash_delete(&key, &device_field(connection))
                .await
                .map_err(failed)?;
        }
        if !new.is_empty() {
            self.kv.expire(&key, keep).await.map_err(failed)?;
        }
        for node in old_nodes.difference(&new_nodes) {
            self.kv
                .hash_delete(&self.node_users_key(node), user_field)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn last_seen(&self, user: &UserId) -> StoreResult<Option<i64>> {
        let value = self
            .kv
            .get(&self.last_seen_key(user))
            .await
            .map_err(failed)?;
        Ok(value.and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse().ok()))
    }

    async fn set_last_seen(&self, user: &UserId, at_ms: i64) -> StoreResult<()> {
        self.kv
            .set(
                &self.last_seen_key(user),
                at_ms.to_string().as_bytes(),
                Some(self.last_seen_retention),
            )
            .await
            .map_err(failed)
    }

    async fn node(&self, node: &NodeId) -> StoreResult<Option<GatewayNode>> {
        let value = self.kv.get(&self.node_key(node)).await.map_err(failed)?;
        Ok(value.as_deref().and_then(decode_node))
    }

    async fn nodes(&self) -> StoreResult<Vec<GatewayNode>> {
        let fields = self
            .kv
            .hash_get_all(&self.nodes_key())
            .await
            .map_err(failed)?;
        Ok(fields
            .iter()
            .filter_map(|(_, bytes)| decode_node(bytes))
            .collect())
    }

    async fn is_known_node(&self, node: &NodeId) -> StoreResult<bool> {
        let value = self
            .kv
            .hash_get(&self.nodes_key(), node.as_str())
            .await
            .map_err(failed)?;
        Ok(value.is_some())
    }

    async fn save_node(&self, node: &GatewayNode, ttl: Duration) -> StoreResult<()> {
        let value = encode(&StoredNode::new(node))?;
        self.kv
            .hash_set(&self.nodes_key(), node.node_id.as_str(), &value)
            .await
            .map_err(failed)?;
        self.kv
            .set(&self.node_key(&node.node_id), &value, Some(ttl))
            .await
            .map_err(failed)?;
        self.kv
            .expire(
                &self.node_users_key(&node.node_id),
                ttl + self.expired_retention,
            )
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn forget_node(&self, node: &NodeId) -> StoreResult<()> {
        self.kv
            .hash_delete(&self.nodes_key(), node.as_str())
            .await
            .map_err(failed)?;
        self.kv
            .delete(&self.node_users_key(node))
            .await
            .map_err(failed)?;
        self.kv.delete(&self.node_key(node)).await.map_err(failed)?;
        Ok(())
    }

    async fn users_on_node(&self, node: &NodeId) -> StoreResult<Vec<UserId>> {
        let fields = self
            .kv
            .hash_get_all(&self.node_users_key(node))
            .await
            .map_err(failed)?;
        Ok(fields
            .into_iter()
            .filter_map(|(field, _)| UserId::parse(&field).ok())
            .collect())
    }

    async fn unindex(&self, node: &NodeId, user: &UserId) -> StoreResult<()> {
        self.kv
            .hash_delete(&self.node_users_key(node), user.as_str())
            .await
            .map(drop)
            .map_err(failed)
    }

    async fn claim_sweep(&self, node: &NodeId, ttl: Duration) -> StoreResult<bool> {
        self.kv
            .set_if_absent(&self.sweep_key(node), b"", ttl)
            .await
            .map_err(failed)
    }
}
