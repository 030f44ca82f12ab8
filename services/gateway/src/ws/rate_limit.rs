//! The frame rate limit of one connection: the GCRA of `gateway.rate_limits.ws_frames`
//! (a steady rate with a burst on top, 20/s with bursts of 40 by default), and the
//! judgement that a client refused too often within a window is abusing it and must be
//! disconnected. Kept in the connection itself: frames never leave their node.

use crate::throttle::{RATE_LIMITED_METRIC, Scope};
use im_runtime::limits::{Decision, Gcra, Quota};
use std::time::Duration;
use tokio::time::Instant;

/// Refused frames within [`ABUSE_WINDOW`] that get a connection closed (1008).
const ABUSE_LIMIT: u32 = 100;
const ABUSE_WINDOW: Duration = Duration::from_secs(10);

/// The verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Answered `rate_limited`, the connection stays.
    Refused,
    /// Refused once too often: close the connection.
    Abusive,
}

#[derive(Debug)]
pub struct FrameLimiter {
    /// `None` when rate limits are disabled.
    quota: Option<Quota>,
    gcra: Gcra,
    refused: u32,
    window_start: Instant,
}

impl FrameLimiter {
    pub fn new(quota: Option<Quota>, now: Instant) -> Self {
        Self {
            quota,
            gcra: Gcra::default(),
            refused: 0,
            window_start: now,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let Some(quota) = &self.quota else {
            return Verdict::Admitted;
        };
        if self.gcra.check(quota, now) == Decision::Allowed {
            return Verdict::Admitted;
        }
        metrics::counter!(RATE_LIMITED_METRIC, "scope" => Scope::WsFrame.label()).increment(1);
        if now.saturating_duration_since(self.window_start) > ABUSE_WINDOW {
            self.window_start = now;
            self.refused = 0;
        }
        self.refused += 1;
        if self.refused >= ABUSE_LIMIT {
            Verdict::Abusive
        } else {
            Verdict::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_steady_rate() {
        let start = Instant::now();
        let mut limiter = FrameLimiter::new(Some(Quota::per_second(20, 40)), start);
        for _ in 0..40 {
            assert_eq!(limiter.check(start), Verdict::Admitted);
        }
        assert_eq!(limiter.check(start), Verdict::Refused);
        // 100 ms later, two more frames' worth (20/s) have come back.
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.check(later), Verdict::Admitted);
        assert_eq!(limiter.check(later), Verdict::Admitted);
        assert_eq!(limiter.check(later), Verdict::Refused);
    }

    #[test]
    fn refusing_too_often_within_the_window_is_abuse_and_the_window_forgets() {
        let start = Instant::now();
        let mut limiter = FrameLimiter::new(Some(Quota::per_second(1, 1)), start);
        assert_eq!(limiter.check(start), Verdict::Admitted);
        for _ in 1..ABUSE_LIMIT {
            assert_eq!(limiter.check(start), Verdict::Refused);
        }
        assert_eq!(limiter.check(start), Verdict::Abusive);

        // one frame a day: everything after the first is refused
        let daily = Quota::new(1, Duration::from_secs(24 * 3600), 1).unwrap();
        let mut limiter = FrameLimiter::new(Some(daily), start);
        assert_eq!(limiter.check(start), Verdict::Admitted);
        for _ in 1..ABUSE_LIMIT {
            assert_eq!(limiter.check(start), Verdict::Refused);
        }
        let next_window = start + ABUSE_WINDOW + Duration::from_millis(1);
        assert_eq!(limiter.check(next_window), Verdict::Refused);
    }

    #[test]
    fn without_a_quota_every_frame_is_admitted() {
        let start = Instant::now();
        let mut limiter = FrameLimiter::new(None, start);
        for _ in 0..1000 {
            assert_eq!(limiter.check(start), Verdict::Admitted);
        }
    }
}
