//! Shared limits that survive a Redis outage (DESIGN.md section 6: with the kv down,
//! everything works with local limiters).
//!
//! While Redis answers, every check goes to it. The first failure starts an outage: one
//! warning, and from then on checks are answered at once by this node's own GCRA
//! (counted in [`FALLBACK_METRIC`]), so requests do not wait for a dead Redis. Every
//! few seconds one probe runs in the background; once it succeeds, checks go to Redis
//! again. During an outage each node allows a whole budget of its own.

use super::{Decision, LimitsError, LocalLimiter, Quota, RateLimiter, RedisLimiter};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Counter: rate-limit checks answered locally because Redis was unavailable.
pub const FALLBACK_METRIC: &str = "im_rate_limit_fallbacks_total";
/// How often an outage is probed.
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// The probe is a real check, under a quota it never exhausts.
const PROBE_KEY: &str = "probe";
const PROBE_QUOTA: Quota = Quota::per_second(1_000_000, 1_000_000);

/// Redis-backed limits with the local GCRA as fallback.
pub struct FallbackLimiter {
    redis: RedisLimiter,
    local: LocalLimiter,
    outage: Arc<Outage>,
    probe_every: Duration,
}

#[derive(Default)]
struct Outage {
    down: AtomicBool,
    next_probe: Mutex<Option<Instant>>,
    fallbacks: AtomicU64,
}

impl FallbackLimiter {
    /// Limits shared through the Redis at `url`. Needs a Tokio runtime; Redis need not
    /// be up.
    pub fn new(url: &str) -> Result<Self, LimitsError> {
        Ok(Self::over(RedisLimiter::new(url)?, PROBE_EVERY))
    }

    /// Over `redis`, probing it every `probe_every` during an outage.
    pub fn over(redis: RedisLimiter, probe_every: Duration) -> Self {
        Self {
            redis,
            local: LocalLimiter::new(),
            outage: Arc::new(Outage::default()),
            probe_every,
        }
    }

    /// Whether checks currently go to Redis.
    pub fn is_shared(&self) -> bool {
        !self.outage.down.load(Ordering::Acquire)
    }

    /// Checks answered locally since this limiter was made.
    pub fn fallbacks(&self) -> u64 {
        self.outage.fallbacks.load(Ordering::Relaxed)
    }

    fn begin_outage(&self, error: &LimitsError) {
        *self.next_probe() = Some(Instant::now() + self.probe_every);
        if !self.outage.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                %error,
                "rate limits fall back to this node's own counters until Redis answers"
            );
        }
    }

    /// Starts a background probe unless one ran within the probe interval.
    fn probe_if_due(&self) {
        let now = Instant::now();
        {
            let mut next = self.next_probe();
            if next.is_some_and(|next| now < next) {
                return;
            }
            *next = Some(now + self.probe_every);
        }
        let redis = self.redis.clone();
        let outage = self.outage.clone();
        tokio::spawn(async move {
            if redis.check(PROBE_KEY, &PROBE_QUOTA).await.is_ok()
                && outage.down.swap(false, Ordering::AcqRel)
            {
                tracing::info!("Redis answers again: rate limits are shared again");
            }
        });
    }

    fn locally(&self, key: &str, quota: &Quota) -> Decision {
        self.outage.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(FALLBACK_METRIC).increment(1);
        self.local.check_at(key, quota, Instant::now())
    }

    fn next_probe(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.outage
            .next_probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl RateLimiter for FallbackLimiter {
    async fn check(&self, key: &str, quota: &Quota) -> Decision {
        if !self.is_shared() {
            self.probe_if_due();
            return self.locally(key, quota);
        }
        match self.redis.check(key, quota).await {
            Ok(decision) => decision,
            Err(error) => {
                self.begin_outage(&error);
                self.locally(key, quota)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::copy_bidirectional;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    const QUOTA: Quota = Quota::per_second(1, 3);

    async fn spend(limiter: &FallbackLimiter, key: &str) -> Vec<bool> {
        let mut admitted = Vec::new();
        for _ in 0..4 {
            admitted.push(limiter.check(key, &QUOTA).await == Decision::Allowed);
        }
        admitted
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_replaced_by_local_limits_without_waiting() {
        let limiter = FallbackLimiter::new("redis://127.0.0.1:1").unwrap();
        assert_eq!(spend(&limiter, "k").await, [true, true, true, false]);
        assert!(!limiter.is_shared());
        assert_eq!(limiter.fallbacks(), 4);
        // during the outage no check waits for Redis
        let started = std::time::Instant::now();
        for n in 0..1000 {
            limiter.check(&format!("other-{n}"), &QUOTA).await;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(limiter.fallbacks(), 1004);
    }

    /// A TCP proxy to Redis that can be cut and restored on the same port.
    struct Proxy {
        addr: std::net::SocketAddr,
        target: String,
        accepting: Option<JoinHandle<()>>,
        links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    }

    impl Proxy {
        async fn start(target: String) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut proxy = Self {
                addr: listener.local_addr().unwrap(),
                target,
                accepting: None,
                links: Arc::default(),
            };
            proxy.serve(listener);
            proxy
        }

        fn serve(&mut self, listener: TcpListener) {
            let target = self.target.clone();
            let links = self.links.clone();
            self.accepting = Some(tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let target = target.clone();
                    links.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(target).await {
                            let _ = copy_bidirectional(&mut client, &mut server).await;
                        }
                    }));
                }
            }));
        }

        fn cut(&mut self) {
            if let Some(accepting) = self.accepting.take() {
                accepting.abort();
            }
            for link in self.links.lock().unwrap().drain(..) {
                link.abort();
            }
        }

        async fn restore(&mut self) {
            let listener = TcpListener::bind(self.addr).await.unwrap();
            self.serve(listener);
        }
    }

    #[tokio::test]
    async fn an_outage_is_served_locally_and_redis_is_used_again_once_it_answers() {
        let Some(url) = im_testkit::redis() else {
            return;
        };
        let target = url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let mut proxy = Proxy::start(target).await;
        let through_proxy = format!("redis://{}", proxy.addr);
        let probe_every = Duration::from_millis(100);
        let limiter =
            FallbackLimiter::over(RedisLimiter::new(&through_proxy).unwrap(), probe_every);
        let other_node = RedisLimiter::new(&url).unwrap();

        let shared = im_testkit::unique_name("shared");
        assert_eq!(spend(&limiter, &shared).await, [true, true, true, false]);
        assert!(limiter.is_shared());
        assert_eq!(limiter.fallbacks(), 0);

        proxy.cut();
        let during = im_testkit::unique_name("during");
        assert_eq!(spend(&limiter, &during).await, [true, true, true, false]);
        assert!(!limiter.is_shared());
        assert!(limiter.fallbacks() >= 4);
        assert_eq!(
            other_node.check(&during, &QUOTA).await.unwrap(),
            Decision::Allowed,
            "what was spent locally did not reach Redis"
        );

        proxy.restore().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !limiter.is_shared() {
            assert!(std::time::Instant::now() < deadline, "Redis not used again");
            limiter
                .check(&im_testkit::unique_name("poll"), &QUOTA)
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = im_testkit::unique_name("after");
        for _ in 0..3 {
            assert_eq!(
                other_node.check(&after, &QUOTA).await.unwrap(),
                Decision::Allowed
            );
        }
        assert!(
            matches!(
                limiter.check(&after, &QUOTA).await,
                Decision::Limited { .. }
            ),
            "the budget is shared with the other node again"
        );
    }
}
