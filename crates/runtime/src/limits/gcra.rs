//! The generic cell rate algorithm (GCRA) for one subject, in memory.
//!
//! A subject is described by one instant, its theoretical arrival time (TAT): when its
//! budget would be whole again if it sent nothing more. Each admitted request pushes
//! the TAT one emission interval (`period / rate`) further; a request is admitted while
//! the pushed TAT stays within the burst window (`burst` intervals) of now. The token
//! bucket it is equivalent to never needs refilling: time passing is the refill.

use super::{Decision, Quota};
use std::time::Duration;
use tokio::time::Instant;

/// The GCRA state of one subject. A fresh one (or one whose TAT has passed) holds a
/// whole burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gcra {
    tat: Option<Instant>,
}

impl Gcra {
    /// Admits one request at `now` under `quota`, spending it, or says how long until it
    /// would be admitted (a refused request spends nothing).
    pub fn check(&mut self, quota: &Quota, now: Instant) -> Decision {
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        let Some(pushed) = tat.checked_add(quota.emission_interval()) else {
            // Not reachable with a valid quota; refusing would lock the subject out.
            return Decision::Allowed;
        };
        let ahead = pushed.saturating_duration_since(now);
        let window = quota.burst_window();
        if ahead > window {
            return Decision::Limited {
                retry_after: ahead - window,
            };
        }
        self.tat = Some(pushed);
        Decision::Allowed
    }

    /// Whether the subject holds a whole burst again at `now`, so forgetting it changes
    /// nothing.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|tat| tat <= now)
    }

    /// How long from `now` until the subject is idle.
    pub fn idle_in(&self, now: Instant) -> Duration {
        self.tat
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn limited(retry_after: Duration) -> Decision {
        Decision::Limited { retry_after }
    }

    #[test]
    fn a_whole_burst_passes_at_once_then_the_next_waits_one_interval() {
        let quota = Quota::per_second(10, 5);
        let start = Instant::now();
        let mut gcra = Gcra::default();
        for _ in 0..5 {
            assert_eq!(gcra.check(&quota, start), Decision::Allowed);
        }
        assert_eq!(gcra.check(&quota, start), limited(ms(100)));
        assert_eq!(gcra.check(&quota, start + ms(40)), limited(ms(60)));
        assert_eq!(gcra.check(&quota, start + ms(100)), Decision::Allowed);
        assert_eq!(gcra.check(&quota, start + ms(100)), limited(ms(100)));
    }

    #[test]
    fn the_steady_rate_is_sustained_forever() {
        let quota = Quota::per_second(10, 1);
        let start = Instant::now();
        let mut gcra = Gcra::default();
        for n in 0..1000 {
            let now = start + ms(100 * n);
            assert_eq!(gcra.check(&quota, now), Decision::Allowed, "request {n}");
            assert!(matches!(gcra.check(&quota, now), Decision::Limited { .. }));
        }
    }

    #[test]
    fn quiet_time_refills_the_burst_but_never_beyond_it() {
        let quota = Quota::new(2, Duration::from_secs(60), 3).unwrap();
        let start = Instant::now();
        let mut gcra = Gcra::default();
        for _ in 0..3 {
            assert_eq!(gcra.check(&quota, start), Decision::Allowed);
        }
        assert_eq!(gcra.check(&quota, start), limited(Duration::from_secs(30)));
        assert!(!gcra.is_idle(start));
        assert_eq!(gcra.idle_in(start), Duration::from_secs(90));
        // an hour of silence is worth one burst, not 120 requests
        let later = start + Duration::from_secs(3600);
        assert!(gcra.is_idle(later));
        for _ in 0..3 {
            assert_eq!(gcra.check(&quota, later), Decision::Allowed);
        }
        assert!(matches!(
            gcra.check(&quota, later),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn refusals_spend_nothing() {
        let quota = Quota::per_second(1, 1);
        let start = Instant::now();
        let mut gcra = Gcra::default();
        assert_eq!(gcra.check(&quota, start), Decision::Allowed);
        for _ in 0..100 {
            assert!(matches!(
                gcra.check(&quota, start),
                Decision::Limited { .. }
            ));
        }
        assert_eq!(
            gcra.check(&quota, start + Duration::from_secs(1)),
            Decision::Allowed
        );
    }
}
