//! Retries of idempotent calls: bounded attempts, jittered exponential pauses, and never
//! a pause that would end past the call's deadline.

use super::config::RetryConfig;
use super::outcome::Verdict;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            initial_backoff: config.initial_backoff,
            max_backoff: config.max_backoff.max(config.initial_backoff),
        }
    }

    /// The pause after `failed` attempts (1 or more) failed: its ceiling starts at the
    /// initial backoff and doubles per attempt up to the maximum; the pause is drawn
    /// between half the ceiling and the ceiling, by `jitter` in `[0, 1)`, so that
    /// callers who failed together do not come back together.
    pub fn backoff(&self, failed: u32, jitter: f64) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Whether to try again after `attempts` attempts, the last of which ended as
    /// `verdict`, with `left` of the call's budget; if so, after which pause.
    pub fn next(
        &self,
        attempts: u32,
        verdict: Verdict,
        left: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if !verdict.retryable || attempts >= self.max_attempts {
            return None;
        }
        let pause = self.backoff(attempts, jitter);
        // A pause that eats the whole budget leaves no time for the attempt after it.
        match left {
            Some(left) if pause >= left => None,
            _ => Some(pause),
        }
    }
}

/// A uniformly random number in `[0, 1)` for jitter; without an entropy source, the
/// middle of the range (the pauses then still grow, only in step).
pub(crate) fn jitter() -> f64 {
    // 53 random bits fill an f64 mantissa exactly.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(300),
        })
    }

    const RETRYABLE: Verdict = Verdict {
        failed: true,
        retryable: true,
    };

    #[test]
    fn pauses_grow_exponentially_up_to_the_cap_with_bounded_jitter() {
        let policy = policy();
        let ceilings = [50, 100, 200, 300, 300];
        for (failed, ceiling) in (1..).zip(ceilings) {
            let ceiling = Duration::from_millis(ceiling);
            assert_eq!(policy.backoff(failed, 0.0), ceiling / 2);
            assert_eq!(policy.backoff(failed, 1.0), ceiling);
            for _ in 0..100 {
                let pause = policy.backoff(failed, jitter());
                assert!(
                    ceiling / 2 <= pause && pause <= ceiling,
                    "{pause:?} after {failed} failures"
                );
            }
        }
        assert_eq!(policy.backoff(1000, 1.0), Duration::from_millis(300));
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let draws: Vec<f64> = (0..200).map(|_| jitter()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(draws.iter().any(|x| *x < 0.25) && draws.iter().any(|x| *x > 0.75));
    }

    #[test]
    fn only_retryable_failures_are_retried_a_bounded_number_of_times() {
        let policy = policy();
        let not_retryable = Verdict {
            failed: true,
            retryable: false,
        };
        assert_eq!(policy.next(1, not_retryable, None, 0.5), None);
        let attempts: Vec<bool> = (1..=5)
            .map(|n| policy.next(n, RETRYABLE, None, 0.5).is_some())
            .collect();
        assert_eq!(attempts, [true, true, true, false, false]);
        let once = RetryPolicy::new(&RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        });
        assert_eq!(
            once.next(1, RETRYABLE, None, 0.5),
            None,
            "0 means one attempt"
        );
    }

    #[test]
    fn no_pause_runs_past_the_deadline() {
        let policy = policy();
        let short = Some(Duration::from_millis(20));
        assert_eq!(policy.next(1, RETRYABLE, short, 0.0), None);
        let long = Some(Duration::from_secs(1));
        assert_eq!(
            policy.next(1, RETRYABLE, long, 0.0),
            Some(Duration::from_millis(25))
        );
    }
}
