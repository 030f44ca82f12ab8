//! The service's tunables and their defaults. [`crate::build`] runs on the defaults until
//! the runtime's configuration grows a `[services.presence]` section (it belongs to the
//! runtime crate); [`crate::build_with_settings`] takes them explicitly meanwhile.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a device connection or a node lives without a heartbeat, when the
    /// caller does not say (gateways beat every 10 s; this is three beats).
    pub ttl: Duration,
    /// The longest ttl a caller may ask for.
    pub max_ttl: Duration,
    /// How often expired connections are looked for, announced and forgotten.
    pub sweep_interval: Duration,
    /// How long expired records are kept for the sweeper to announce them, should it
    /// be late (several presence instances down); past that they vanish unannounced.
    pub expired_retention: Duration,
    /// How long a user's last seen time is kept after they went offline.
    pub last_seen_retention: Duration,
    /// Prefix of every kv key (`presence:user:{id}` …), so several deployments or test
    /// runs can share one kv store.
    pub key_prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(10),
            expired_retention: Duration::from_secs(300),
            last_seen_retention: Duration::from_secs(90 * 24 * 3600),
            key_prefix: "presence".to_owned(),
        }
    }
}
