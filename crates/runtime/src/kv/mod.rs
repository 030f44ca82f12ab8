//! The kv/cache port: short-lived shared state (presence, revocations, limits, caches).
//! `memory://` for one process, `redis://` when several processes must agree.

mod memory;
mod redis;

pub use memory::MemoryKv;
pub use redis::RedisKv;

use crate::secret::SecretUrl;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv backend unavailable: {0}")]
    Unavailable(String),
    #[error("kv value at {key} is not an integer")]
    NotAnInteger { key: String },
    #[error("unsupported kv url scheme {0:?} (expected memory:// or redis://)")]
    UnsupportedScheme(String),
}

/// Byte values under string keys, with optional time-to-live.
#[async_trait]
pub trait Kv: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// Stores `value`, replacing any previous value and its time-to-live.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError>;

    /// Stores `value` only if `key` is absent; returns whether it was stored.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError>;

    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;

    /// Adds `by` to the integer at `key` (absent counts as 0) and returns the result.
    /// `ttl` is applied when the key has no expiry yet, so a counter window starts at
    /// its first increment and is not extended by later ones.
    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, KvError>;

    async fn ping(&self) -> Result<(), KvError>;
}

/// Connects to the adapter named by the URL's scheme.
pub async fn connect(url: &SecretUrl) -> Result<Arc<dyn Kv>, KvError> {
    match url.scheme() {
        "memory" => Ok(Arc::new(MemoryKv::default())),
        "redis" | "rediss" => Ok(Arc::new(RedisKv::connect(url.expose()).await?)),
        other => Err(KvError::UnsupportedScheme(other.to_owned())),
    }
}
