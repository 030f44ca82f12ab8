//! GCRA per key in this process's memory: the limiter of a single node, and every
//! node's fallback while Redis is away.
//!
//! Memory stays bounded by the keys active within their burst window: a key whose
//! budget is whole again is indistinguishable from an unknown one, so it is evicted
//! by a sweep that runs every few seconds, or sooner once a shard has doubled.

use super::{Decision, Gcra, Quota, RateLimiter};
use async_trait::async_trait;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Independent locks, so concurrent requests for different keys rarely wait.
const SHARDS: usize = 16;
/// How often idle keys are evicted at the latest.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Below this many keys a shard is not swept for its size.
const MIN_SWEEP_LEN: usize = 1024;

/// Rate limits kept in memory, per key. A key is always checked against the same
/// quota (callers put the quota's scope in the key).
pub struct LocalLimiter {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

struct Shard {
    subjects: HashMap<Box<str>, Gcra>,
    next_sweep: Instant,
    sweep_at_len: usize,
}

impl Shard {
    fn new(now: Instant) -> Self {
        Self {
            subjects: HashMap::new(),
            next_sweep: now + SWEEP_EVERY,
            sweep_at_len: MIN_SWEEP_LEN,
        }
    }

    fn sweep_if_due(&mut self, now: Instant) {
        if now < self.next_sweep && self.subjects.len() < self.sweep_at_len {
            return;
        }
        self.subjects.retain(|_, gcra| !gcra.is_idle(now));
        self.next_sweep = now + SWEEP_EVERY;
        self.sweep_at_len = (self.subjects.len() * 2).max(MIN_SWEEP_LEN);
    }
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalLimiter {
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new(now))).collect(),
            hasher: RandomState::new(),
        }
    }

    /// [`RateLimiter::check`] at a given instant.
    pub fn check_at(&self, key: &str, quota: &Quota, now: Instant) -> Decision {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.sweep_if_due(now);
        if let Some(gcra) = shard.subjects.get_mut(key) {
            return gcra.check(quota, now);
        }
        let mut gcra = Gcra::default();
        let decision = gcra.check(quota, now);
        shard.subjects.insert(key.into(), gcra);
        decision
    }

    /// How many keys are remembered (idle ones until the next sweep).
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .subjects
                    .len()
            })
            .sum()
    }
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    async fn check(&self, key: &str, quota: &Quota) -> Decision {
        self.check_at(key, quota, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_separate_budgets() {
        let limiter = LocalLimiter::new();
        let quota = Quota::per_second(1, 2);
        let now = Instant::now();
        for key in ["a", "b"] {
            assert_eq!(limiter.check_at(key, &quota, now), Decision::Allowed);
            assert_eq!(limiter.check_at(key, &quota, now), Decision::Allowed);
        }
        assert_eq!(
            limiter.check_at("a", &quota, now),
            Decision::Limited {
                retry_after: Duration::from_secs(1)
            }
        );
        assert_eq!(limiter.check_at("c", &quota, now), Decision::Allowed);
    }

    #[test]
    fn idle_keys_are_evicted_and_memory_stays_bounded() {
        let limiter = LocalLimiter::new();
        let quota = Quota::per_second(10, 1);
        let start = Instant::now();
        // many distinct callers, each seen once, over a minute
        for n in 0..100_000u64 {
            let now = start + Duration::from_micros(600 * n);
            assert_eq!(
                limiter.check_at(&format!("ip:{n}"), &quota, now),
                Decision::Allowed
            );
        }
        // at 10/s with a burst of 1 a key is idle 100 ms after its request: only the
        // last few hundred keys, plus what the next sweep will drop, are held
        let held = limiter.tracked_keys();
        assert!(held <= SHARDS * MIN_SWEEP_LEN * 2, "{held} keys held");

        let after = start + Duration::from_secs(120);
        assert_eq!(limiter.check_at("late", &quota, after), Decision::Allowed);
        assert!(limiter.tracked_keys() < held, "a sweep ran");
    }

    #[test]
    fn an_evicted_key_comes_back_with_a_whole_burst_only() {
        let limiter = LocalLimiter::new();
        let quota = Quota::per_second(1, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("k", &quota, start), Decision::Allowed);
        }
        let later = start + SWEEP_EVERY + Duration::from_secs(1);
        assert_eq!(limiter.check_at("other", &quota, later), Decision::Allowed);
        for _ in 0..3 {
            assert_eq!(limiter.check_at("k", &quota, later), Decision::Allowed);
        }
        assert!(matches!(
            limiter.check_at("k", &quota, later),
            Decision::Limited { .. }
        ));
    }
}
