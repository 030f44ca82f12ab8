//! The frame rate limit of one connection: a token bucket (a steady rate with a burst on
//! top), and the judgement that a client refused too often within a window is abusing
//! it and must be disconnected.

use std::time::Duration;
use tokio::time::Instant;

/// Frames per second a connection may send on average.
pub const FRAMES_PER_SECOND: f64 = 20.0;
/// Frames a connection may send at once after a quiet period.
pub const BURST: f64 = 40.0;
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
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
    refused: u32,
    window_start: Instant,
}

impl FrameLimiter {
    pub fn new(now: Instant) -> Self {
        Self::with(FRAMES_PER_SECOND, BURST, now)
    }

    fn with(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            refilled_at: now,
            refused: 0,
            window_start: now,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Admitted;
        }
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
        let mut limiter = FrameLimiter::new(start);
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
        let mut limiter = FrameLimiter::with(1.0, 1.0, start);
        assert_eq!(limiter.check(start), Verdict::Admitted);
        for _ in 1..ABUSE_LIMIT {
            assert_eq!(limiter.check(start), Verdict::Refused);
        }
        assert_eq!(limiter.check(start), Verdict::Abusive);

        let mut limiter = FrameLimiter::with(0.0, 0.0, start);
        for _ in 1..ABUSE_LIMIT {
            assert_eq!(limiter.check(start), Verdict::Refused);
        }
        let next_window = start + ABUSE_WINDOW + Duration::from_millis(1);
        assert_eq!(limiter.check(next_window), Verdict::Refused);
    }
}
