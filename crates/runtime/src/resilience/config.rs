//! The `[resilience]` section of the configuration: deadlines, retries and circuit
//! breakers of outbound gRPC calls, and load shedding of this process's gRPC servers.
//! Durations are written in milliseconds (`deadline_ms = 3000`).

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Deadline of every outbound call, unless the caller set a shorter one or marked
    /// the call [`super::streaming`].
    #[serde(rename = "deadline_ms", with = "millis")]
    pub deadline: Duration,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    pub server: ServerLimits,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(3),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            server: ServerLimits::default(),
        }
    }
}

/// Retries of calls marked [`super::idempotent`]; every attempt stays within the
/// call's deadline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Ceiling of the first pause; each further pause doubles it up to `max_backoff`,
    /// and the pause itself is drawn between half the ceiling and the ceiling.
    #[serde(rename = "initial_backoff_ms", with = "millis")]
    pub initial_backoff: Duration,
    #[serde(rename = "max_backoff_ms", with = "millis")]
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// One circuit breaker per downstream service (per node for gateway pushes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failures in a row that open the circuit.
    pub consecutive_failures: u32,
    /// Share of failed calls within `window` that opens the circuit, once the window
    /// holds at least `min_calls` calls.
    pub failure_ratio: f64,
    pub min_calls: u32,
    #[serde(rename = "window_ms", with = "millis")]
    pub window: Duration,
    /// How long an open circuit refuses calls before letting probes through.
    #[serde(rename = "open_ms", with = "millis")]
    pub open_for: Duration,
    /// Calls let through at once while half-open; all must succeed to close again.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            min_calls: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }
}

/// Load shedding of each internal gRPC server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Calls one server handles at once; beyond it calls are refused at once with
    /// UNAVAILABLE (`overloaded`) instead of queueing. 0 disables shedding.
    pub max_concurrent_calls: usize,
    /// The retry hint (`im-retry-after`, seconds) of a refused call.
    pub retry_after_secs: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 1024,
            retry_after_secs: 1,
        }
    }
}

/// Durations written as whole milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}
