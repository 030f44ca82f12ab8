//! A rate limit's budget: `rate` requests per `period` on average, up to `burst` of them
//! at once after a quiet spell. In configuration a quota is written whole,
//! `{ rate = 10, period = 1, burst = 50 }` (`period` in seconds).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest a full burst may take to come back. Beyond it a key would be remembered
/// for days, and the Redis script's microsecond clock would lose precision.
const MAX_BURST_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("a quota's rate must be at least 1")]
    ZeroRate,
    #[error("a quota's period must be at least 1 second")]
    ZeroPeriod,
    #[error("a quota's burst must be at least 1")]
    ZeroBurst,
    #[error("a quota's full burst must come back within a day (burst × period / rate)")]
    TooLong,
}

/// A valid quota: rate, period and burst are all positive and a full burst comes back
/// within a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "QuotaSpec", into = "QuotaSpec")]
pub struct Quota {
    rate: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    pub fn new(rate: u32, period: Duration, burst: u32) -> Result<Self, QuotaError> {
        if rate == 0 {
            return Err(QuotaError::ZeroRate);
        }
        if period.is_zero() {
            return Err(QuotaError::ZeroPeriod);
        }
        if burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        let quota = Self {
            rate,
            period,
            burst,
        };
        match quota.emission_interval().checked_mul(burst) {
            Some(window) if window <= MAX_BURST_WINDOW => Ok(quota),
            _ => Err(QuotaError::TooLong),
        }
    }

    /// `rate` per second with `burst`, for defaults written in code.
    ///
    /// # Panics
    /// When `rate` or `burst` is 0: a programming error, caught by the first test.
    pub const fn per_second(rate: u32, burst: u32) -> Self {
        assert!(rate > 0 && burst > 0, "a quota needs a rate and a burst");
        Self {
            rate,
            period: Duration::from_secs(1),
            burst,
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The steady spacing between admitted requests: `period / rate`.
    pub fn emission_interval(&self) -> Duration {
        self.period / self.rate
    }

    /// How far ahead of now a key's budget may be spent: `burst` emission intervals.
    /// Also how long an idle key is worth remembering at most.
    pub fn burst_window(&self) -> Duration {
        self.emission_interval().saturating_mul(self.burst)
    }
}

/// The configuration form of a [`Quota`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSpec {
    rate: u32,
    /// Seconds.
    period: u64,
    burst: u32,
}

impl TryFrom<QuotaSpec> for Quota {
    type Error = QuotaError;

    fn try_from(spec: QuotaSpec) -> Result<Self, Self::Error> {
        Self::new(spec.rate, Duration::from_secs(spec.period), spec.burst)
    }
}

impl From<Quota> for QuotaSpec {
    fn from(quota: Quota) -> Self {
        Self {
            rate: quota.rate,
            period: quota.period.as_secs(),
            burst: quota.burst,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_spaces_requests_and_the_burst_spends_ahead() {
        let quota = Quota::new(20, Duration::from_secs(1), 40).unwrap();
        assert_eq!(quota.emission_interval(), Duration::from_millis(50));
        assert_eq!(quota.burst_window(), Duration::from_secs(2));
        assert_eq!(Quota::per_second(20, 40), quota);
    }

    #[test]
    fn zeros_and_endless_windows_are_refused() {
        let second = Duration::from_secs(1);
        assert_eq!(Quota::new(0, second, 1), Err(QuotaError::ZeroRate));
        assert_eq!(
            Quota::new(1, Duration::ZERO, 1),
            Err(QuotaError::ZeroPeriod)
        );
        assert_eq!(Quota::new(1, second, 0), Err(QuotaError::ZeroBurst));
        let day = Duration::from_secs(24 * 3600);
        assert!(Quota::new(1, day, 1).is_ok());
        assert_eq!(Quota::new(1, day, 2), Err(QuotaError::TooLong));
    }

    #[test]
    fn configuration_gives_a_quota_whole_and_checked() {
        let quota: Quota =
            toml::from_str::<toml::Table>("q = { rate = 3, period = 60, burst = 5 }").unwrap()["q"]
                .clone()
                .try_into()
                .unwrap();
        assert_eq!(quota, Quota::new(3, Duration::from_secs(60), 5).unwrap());
        let table = |text: &str| toml::from_str::<toml::Table>(text).unwrap()["q"].clone();
        assert!(
            table("q = { rate = 3, burst = 5 }")
                .try_into::<Quota>()
                .is_err()
        );
        assert!(
            table("q = { rate = 0, period = 1, burst = 5 }")
                .try_into::<Quota>()
                .is_err()
        );
        assert!(
            table("q = { rate = 1, period = 1, burst = 1, brust = 2 }")
                .try_into::<Quota>()
                .is_err()
        );
        let written = toml::to_string(&quota).unwrap();
        assert!(written.contains("period = 60"), "{written}");
    }
}
