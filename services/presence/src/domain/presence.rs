//! A user's presence, derived from the records of their connections.

use super::{Connection, ConnectionKey, DeviceRecord, DeviceStatus, NodeId, UserId};

/// Everything recorded about one user's connections, as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDevices {
    records: Vec<DeviceRecord>,
}

impl UserDevices {
    pub fn new(records: Vec<DeviceRecord>) -> Self {
        Self { records }
    }

    pub fn records(&self) -> &[DeviceRecord] {
        &self.records
    }

    pub fn get(&self, key: &ConnectionKey) -> Option<&DeviceRecord> {
        self.records.iter().find(|record| record.key() == *key)
    }

    pub fn live(&self, now_ms: i64) -> impl Iterator<Item = &DeviceRecord> {
        self.records.iter().filter(move |r| r.is_live(now_ms))
    }

    pub fn has_expired(&self, now_ms: i64) -> bool {
        self.records.iter().any(|r| r.is_expired(now_ms))
    }

    /// Whether any record (live, expired or disconnected) is on `node`.
    pub fn has_any_on(&self, node: &NodeId) -> bool {
        self.records.iter().any(|r| r.connection.node_id == *node)
    }

    /// The state last announced for the user: online while any connection is recorded
    /// as connected, expired or not. An expiry is announced when the record is
    /// forgotten, by whichever change comes first (a connect, a heartbeat, the sweeper).
    pub(super) fn announced_online(&self) -> bool {
        self.records.iter().any(DeviceRecord::is_connected)
    }

    /// When the last record expires (the user's records are kept until then).
    pub fn last_expiry_ms(&self) -> Option<i64> {
        self.records.iter().map(|r| r.expires_at_ms).max()
    }

    pub(super) fn with(mut self, record: DeviceRecord) -> Self {
        let key = record.key();
        self.records.retain(|r| r.key() != key);
        self.records.push(record);
        self
    }

    pub(super) fn without_expired(&self, now_ms: i64) -> Self {
        Self::new(
            self.records
                .iter()
                .filter(|r| !r.is_expired(now_ms))
                .cloned()
                .collect(),
        )
    }

    /// The latest moment a device was confirmed connected before it expired or
    /// disconnected, among the records no longer live.
    pub(super) fn last_seen_in_gone(&self, now_ms: i64) -> Option<i64> {
        self.records
            .iter()
            .filter(|r| !r.is_live(now_ms))
            .map(|r| match r.status {
                DeviceStatus::Connected => r.last_heartbeat_ms,
                DeviceStatus::Disconnected { at_ms } => at_ms,
            })
            .max()
    }

    /// The user's presence at `now_ms`; `stored_last_seen_ms` is the last seen time
    /// stored when they last went offline.
    pub fn presence(
        &self,
        user_id: &UserId,
        now_ms: i64,
        stored_last_seen_ms: Option<i64>,
    ) -> UserPresence {
        let devices: Vec<Connection> = self.live(now_ms).map(|r| r.connection.clone()).collect();
        let last_seen_ms = if devices.is_empty() {
            stored_last_seen_ms
                .into_iter()
                .chain(self.last_seen_in_gone(now_ms))
                .max()
                .unwrap_or(0)
        } else {
            self.live(now_ms)
                .map(|r| r.last_heartbeat_ms)
                .max()
                .unwrap_or(now_ms)
        };
        UserPresence {
            user_id: user_id.clone(),
            online: !devices.is_empty(),
            last_seen_ms,
            devices,
        }
    }
}

/// Online status and last seen of one user, with their live connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPresence {
    pub user_id: UserId,
    pub online: bool,
    /// Online: the latest confirmation of a live device. Offline: when the last device
    /// disconnected or was last confirmed. 0 when never seen.
    pub last_seen_ms: i64,
    pub devices: Vec<Connection>,
}

/// A user went online or offline: announced once per transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChanged {
    pub user_id: UserId,
    pub online: bool,
    /// Going offline: the user's last seen time. Coming online: when it happened.
    pub last_seen_ms: i64,
    pub occurred_at_ms: i64,
}
