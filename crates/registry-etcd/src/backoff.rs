//! Jittered exponential backoff between reconnection attempts, so a fleet of processes
//! that lost etcd together does not hammer it in lockstep when it returns.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    attempt: u64,
    seed: RandomState,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
            attempt: 0,
            seed: RandomState::new(),
        }
    }

    /// The pause before the next attempt: the current step, scaled by 0.5–1.5.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt += 1;
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        // RandomState is seeded per process; hashing a counter gives cheap uniform noise.
        let noise = self.seed.hash_one(self.attempt) % 1000;
        step.mul_f64(0.5 + noise as f64 / 1000.0)
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut backoff = Backoff::new(min, max);
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= min / 2 && delays[0] <= min * 3 / 2);
        assert!(delays.iter().all(|d| *d <= max * 3 / 2));
        assert!(delays[7] >= max / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= min * 3 / 2);
    }
}
