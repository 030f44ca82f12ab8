//! Rate limits: how many requests a key (a client address, a user, a connection) may
//! make, as a [`Quota`] of `rate` per `period` with a `burst`, decided by GCRA.
//!
//! [`LocalLimiter`] keeps the counts in this process; [`FallbackLimiter`] shares them
//! between nodes through Redis ([`RedisLimiter`]) and falls back to its own local counts
//! while Redis is unavailable. [`connect`] picks by the kv URL, as the kv port does.

mod fallback;
mod gcra;
mod local;
mod quota;
mod redis;

pub use fallback::{FALLBACK_METRIC, FallbackLimiter};
pub use gcra::Gcra;
pub use local::LocalLimiter;
pub use quota::{Quota, QuotaError};
pub use redis::RedisLimiter;

use crate::secret::SecretUrl;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the same request would be admitted after `retry_after`.
    Limited {
        retry_after: Duration,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("invalid rate limiter url: {0}")]
    InvalidUrl(String),
    #[error("rate limiter backend unavailable: {0}")]
    Unavailable(String),
}

/// Admits or refuses requests per key. A key is always checked against the same quota:
/// callers name the quota's scope in the key (`login:ip:192.0.2.1`).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Spends one request of `key`'s budget under `quota`, or says how long to wait. A
    /// refused request spends nothing. Never fails: an unavailable backend is the
    /// implementation's to handle.
    async fn check(&self, key: &str, quota: &Quota) -> Decision;
}

/// The limiter for the kv at `url`: shared through Redis (with the local fallback) for
/// `redis://` and `rediss://`, this process's own otherwise. Redis need not be up; the
/// first check connects. Needs a Tokio runtime.
pub fn connect(url: &SecretUrl) -> Result<Arc<dyn RateLimiter>, LimitsError> {
    match url.scheme() {
        "redis" | "rediss" => Ok(Arc::new(FallbackLimiter::new(url.expose())?)),
        _ => Ok(Arc::new(LocalLimiter::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_kv_means_local_limits() {
        let limiter = connect(&SecretUrl::new("memory://")).unwrap();
        let quota = Quota::per_second(1, 1);
        assert_eq!(limiter.check("k", &quota).await, Decision::Allowed);
        assert!(matches!(
            limiter.check("k", &quota).await,
            Decision::Limited { .. }
        ));
    }

    #[tokio::test]
    async fn redis_kv_means_shared_limits_even_while_redis_is_away() {
        let limiter = connect(&SecretUrl::new("redis://127.0.0.1:1")).unwrap();
        let quota = Quota::per_second(1, 1);
        assert_eq!(limiter.check("k", &quota).await, Decision::Allowed);
        assert!(matches!(
            limiter.check("k", &quota).await,
            Decision::Limited { .. }
        ));
    }

    #[tokio::test]
    async fn limiters_on_one_redis_share_a_budget() {
        let Some(url) = im_testkit::redis() else {
            return;
        };
        let url = SecretUrl::new(url);
        let nodes = [connect(&url).unwrap(), connect(&url).unwrap()];
        let key = im_testkit::unique_name("node");
        let quota = Quota::new(1, Duration::from_secs(60), 2).unwrap();
        assert_eq!(nodes[0].check(&key, &quota).await, Decision::Allowed);
        assert_eq!(nodes[1].check(&key, &quota).await, Decision::Allowed);
        for node in &nodes {
            assert!(matches!(
                node.check(&key, &quota).await,
                Decision::Limited { .. }
            ));
        }
    }
}
