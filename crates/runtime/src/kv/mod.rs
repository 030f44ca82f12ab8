//! The kv/cache port: short-lived shared state (presence, revocations, limits, caches).
//! `memory://` for one process, `redis://` when several processes must agree (with a
//! local fallback while Redis is down).

mod fallback;
mod memory;
pub(crate) mod redis;

pub use fallback::FallbackKv;
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
    /// A string operation on a hash or a hash operation on a string.
    #[error("kv value at {key} is of another type than the operation needs")]
    WrongType { key: String },
    #[error("unsupported kv url scheme {0:?} (expected memory:// or redis://)")]
    UnsupportedScheme(String),
}

/// Byte values under string keys, with optional time-to-live. A key holds either a value
/// or a hash (fields mapping to byte values); a value operation on a hash key, or a hash
/// operation on a value key, fails with [`KvError::WrongType`] (`set` and `delete`
/// replace or remove a key of either kind).
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

    /// Stores `value` under `field` of the hash at `key`, creating the hash if absent. A
    /// hash created here has no expiry; an existing hash keeps its expiry.
    async fn hash_set(&self, key: &str, field: &str, value: &[u8]) -> Result<(), KvError>;

    /// The value under `field` of the hash at `key`.
    async fn hash_get(&self, key: &str, field: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// Removes `field` from the hash at `key`; returns whether it existed. A hash left
    /// without fields no longer exists.
    async fn hash_delete(&self, key: &str, field: &str) -> Result<bool, KvError>;

    /// Every field of the hash at `key` with its value, in no particular order (empty
    /// when the hash does not exist).
    async fn hash_get_all(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>, KvError>;

    /// Gives an existing key (value or hash) the time-to-live `ttl`, replacing any earlier
    /// one; returns whether the key exists.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError>;

    async fn ping(&self) -> Result<(), KvError>;

    /// Whether this store keeps working (on local state) when its backend is down, so
    /// that a failing [`Kv::ping`] degrades the service instead of making it unready.
    fn has_fallback(&self) -> bool {
        false
    }
}

/// Connects to the adapter named by the URL's scheme.
pub async fn connect(url: &SecretUrl) -> Result<Arc<dyn Kv>, KvError> {
    match url.scheme() {
        "memory" => Ok(Arc::new(MemoryKv::default())),
        // Redis with a local fallback for outages (DESIGN.md section 6).
        "redis" | "rediss" => Ok(Arc::new(FallbackKv::connect(url.expose()).await?)),
        other => Err(KvError::UnsupportedScheme(other.to_owned())),
    }
}
