//! How long a client waits before trying to reconnect: exponential backoff with full
//! jitter, so that clients cut off together do not come back in step. The n-th wait is
//! uniform in `0..=min(cap, base·2ⁿ)`.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    tries: u32,
    /// The next wait is at least this (a server's `Retry-After`), once.
    floor: Duration,
    random: SplitMix64,
}

impl Backoff {
    /// `seed` makes each client's jitter its own.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Self {
            base,
            cap,
            tries: 0,
            floor: Duration::ZERO,
            random: SplitMix64(seed),
        }
    }

    /// The wait before the next try.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << self.tries.min(20))
            .min(self.cap);
        self.tries = self.tries.saturating_add(1);
        let jittered = ceiling.mul_f64(self.random.unit());
        jittered.max(std::mem::take(&mut self.floor))
    }

    /// The server asked to wait `at_least` (up to `limit`) before the next try.
    pub fn retry_after(&mut self, at_least: Duration, limit: Duration) {
        self.floor = at_least.min(limit);
    }

    /// Starts over, as after a success.
    pub fn reset(&mut self) {
        self.tries = 0;
        self.floor = Duration::ZERO;
    }
}

/// A small, fast pseudo-random generator (SplitMix64): jitter needs spread, not secrecy.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1]`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(2);

    #[test]
    fn waits_grow_to_the_cap_and_stay_under_it() {
        let mut backoff = Backoff::new(BASE, CAP, 7);
        for n in 0..40u32 {
            let ceiling = (BASE * 2u32.pow(n.min(10))).min(CAP);
            let wait = backoff.next_wait();
            assert!(wait <= ceiling, "try {n}: {wait:?} > {ceiling:?}");
        }
    }

    #[test]
    fn waits_are_spread_not_in_step() {
        // The first waits of many clients cover 0..100 ms rather than one value.
        let firsts: Vec<Duration> = (0..1000)
            .map(|seed| Backoff::new(BASE, CAP, seed).next_wait())
            .collect();
        let early = firsts.iter().filter(|w| **w < BASE / 2).count();
        assert!(
            (350..650).contains(&early),
            "{early} of 1000 in the first half"
        );
        let distinct: std::collections::BTreeSet<_> = firsts.iter().collect();
        assert!(distinct.len() > 900);
        // Late waits use the whole capped range.
        let mut backoff = Backoff::new(BASE, CAP, 1);
        let late: Vec<Duration> = (0..200).map(|_| backoff.next_wait()).skip(10).collect();
        assert!(late.iter().any(|w| *w > CAP * 3 / 4));
        assert!(late.iter().any(|w| *w < CAP / 4));
    }

    #[test]
    fn retry_after_holds_once_and_reset_starts_over() {
        let mut backoff = Backoff::new(BASE, CAP, 3);
        backoff.retry_after(Duration::from_secs(30), Duration::from_secs(5));
        assert_eq!(backoff.next_wait(), Duration::from_secs(5));
        assert!(backoff.next_wait() <= BASE * 4);
        for _ in 0..10 {
            backoff.next_wait();
        }
        backoff.reset();
        assert!(backoff.next_wait() <= BASE);
    }
}
