//! Latency histograms (HdrHistogram, microseconds, 3 significant digits) and their
//! summary in milliseconds.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest recordable latency: one hour; anything slower is clamped to it.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug, Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
}

/// A latency distribution as reported, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_max(MAX_MICROS, 3)
                .expect("constant histogram bounds are valid"),
        }
    }

    pub fn record_us(&mut self, micros: u64) {
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The summary, or `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Percentiles {
            count: self.histogram.len(),
            p50_ms: ms(self.histogram.value_at_quantile(0.50)),
            p99_ms: ms(self.histogram.value_at_quantile(0.99)),
            p999_ms: ms(self.histogram.value_at_quantile(0.999)),
            max_ms: ms(self.histogram.max()),
            mean_ms: self.histogram.mean() / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut latency = Latency::new();
        assert_eq!(latency.percentiles(), None);
        for ms in 1..=1000 {
            latency.record_us(ms * 1000);
        }
        let mut other = Latency::new();
        other.record_us(5_000_000);
        latency.merge(&other);
        let p = latency.percentiles().unwrap();
        assert_eq!(p.count, 1001);
        // 3 significant digits: within 0.5 %
        let near = |value: f64, expected: f64| (value - expected).abs() <= expected * 0.005;
        assert!(near(p.p50_ms, 500.0), "{p:?}");
        assert!(near(p.p99_ms, 990.0), "{p:?}");
        assert!(near(p.max_ms, 5000.0), "{p:?}");
    }
}
