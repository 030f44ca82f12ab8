//! Redis with a local fallback: while Redis answers, every operation goes there; when it
//! stops answering, operations are served by an in-process [`MemoryKv`] until a
//! background probe finds Redis again (DESIGN.md section 6: "kv down → everything works,
//! with local limiters and caches").
//!
//! What the fallback means: state written during an outage lives in this process only
//! and is not copied to Redis when it returns. Everything IM keeps in the kv store is
//! short-lived and refreshed by its owner (presence heartbeats, login-failure windows,
//! caches), so the shared view heals itself within one refresh period.

use super::{Kv, KvError, MemoryKv, RedisKv};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a Redis operation may take before the outage is assumed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
/// How often, at most, a process in fallback looks for Redis again.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);

pub struct FallbackKv {
    shared: Arc<Shared>,
}

struct Shared {
    primary: RedisKv,
    up: AtomicBool,
    probing: AtomicBool,
    last_probe: Mutex<Option<Instant>>,
    local: MemoryKv,
}

impl FallbackKv {
    /// Connects to Redis at `url`. Redis must answer now: a wrong address should stop a
    /// deployment at start, not leave every node quietly on its own local state. Later
    /// outages are served locally.
    pub async fn connect(url: &str) -> Result<Self, KvError> {
        let primary = RedisKv::connect(url).await?;
        set_gauge(false);
        Ok(Self {
            shared: Arc::new(Shared {
                primary,
                up: AtomicBool::new(true),
                probing: AtomicBool::new(false),
                last_probe: Mutex::new(None),
                local: MemoryKv::default(),
            }),
        })
    }

    /// Whether operations currently go to Redis.
    pub fn is_primary_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    fn primary_if_up(&self) -> Option<&RedisKv> {
        self.is_primary_up().then_some(&self.shared.primary)
    }

    fn went_down(&self, reason: &str) {
        if self.shared.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(reason, "redis unavailable; serving from the local fallback");
            metrics::counter!("im_kv_fallback_total").increment(1);
            set_gauge(true);
            *lock(&self.shared.last_probe) = Some(Instant::now());
        }
    }

    /// Starts one background probe for Redis, unless one ran recently or is running.
    fn probe_in_background(&self) {
        if self.is_primary_up() {
            return;
        }
        {
            let mut last = lock(&self.shared.last_probe);
            if last.is_some_and(|at| at.elapsed() < PROBE_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        if self.shared.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let answered = matches!(
                tokio::time::timeout(OPERATION_TIMEOUT, shared.primary.ping()).await,
                Ok(Ok(()))
            );
            shared.probing.store(false, Ordering::Release);
            if answered {
                shared.up.store(true, Ordering::Release);
                set_gauge(false);
                tracing::info!("redis answers again; leaving the local fallback");
            }
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set_gauge(fallback: bool) {
    metrics::gauge!("im_kv_fallback_active").set(if fallback { 1.0 } else { 0.0 });
}

/// Runs `$call` with `$kv` bound to Redis while it is up, and to the local store when
/// Redis is down or fails with an outage (type errors are answers, not outages).
macro_rules! routed {
    ($self:ident, |$kv:ident| $call:expr) => {{
        if let Some(primary) = $self.primary_if_up() {
            let $kv: &dyn Kv = primary;
            match tokio::time::timeout(OPERATION_TIMEOUT, $call).await {
                Ok(Err(KvError::Unavailable(reason))) => $self.went_down(&reason),
                Err(_) => $self.went_down("timed out"),
                Ok(answer) => return answer,
            }
        }
        $self.probe_in_background();
        let $kv: &dyn Kv = &$self.shared.local;
        $call.await
    }};
}

#[async_trait]
impl Kv for FallbackKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        routed!(self, |kv| kv.get(key))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        routed!(self, |kv| kv.set(key, value, ttl))
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        routed!(self, |kv| kv.set_if_absent(key, value, ttl))
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        routed!(self, |kv| kv.delete(key))
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        routed!(self, |kv| kv.increment(key, by, ttl))
    }

    async fn hash_set(&self, key: &str, field: &str, value: &[u8]) -> Result<(), KvError> {
        routed!(self, |kv| kv.hash_set(key, field, value))
    }

    async fn hash_get(&self, key: &str, field: &str) -> Result<Option<Vec<u8>>, KvError> {
        routed!(self, |kv| kv.hash_get(key, field))
    }

    async fn hash_delete(&self, key: &str, field: &str) -> Result<bool, KvError> {
        routed!(self, |kv| kv.hash_delete(key, field))
    }

    async fn hash_get_all(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        routed!(self, |kv| kv.hash_get_all(key))
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        routed!(self, |kv| kv.expire(key, ttl))
    }

    /// Reports Redis itself, so `/readyz` shows the outage; the service stays ready
    /// because [`Kv::has_fallback`] makes the check optional.
    async fn ping(&self) -> Result<(), KvError> {
        match self.primary_if_up() {
            Some(primary) => match tokio::time::timeout(OPERATION_TIMEOUT, primary.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => {
                    self.went_down(&error.to_string());
                    Err(fallback_error())
                }
                Err(_) => {
                    self.went_down("timed out");
                    Err(fallback_error())
                }
            },
            None => {
                self.probe_in_background();
                Err(fallback_error())
            }
        }
    }

    fn has_fallback(&self) -> bool {
        true
    }
}

fn fallback_error() -> KvError {
    KvError::Unavailable("redis is down; serving from the local fallback".into())
}
