//! The open-loop pacer: emits the i-th send at `start + i / rate` whatever the server
//! answered so far. A late scheduler catches up in a burst; since every message carries
//! its *intended* send time, that lateness is charged to the latency (no coordinated
//! omission), and the report shows how late the scheduler itself ran.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    per_send: Duration,
    total: u64,
}

/// What the pacer did: sends emitted and its worst lateness.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paced {
    pub emitted: u64,
    pub max_lag: Duration,
}

impl Schedule {
    /// `rate` sends per second for `duration`, starting now.
    pub fn new(rate: f64, duration: Duration) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        // Whole sends only; a fraction of a send is not offered.
        let total = (rate * duration.as_secs_f64()).floor() as u64;
        Self {
            start: Instant::now(),
            per_send: Duration::from_secs_f64(1.0 / rate),
            total,
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// When the i-th send is due.
    pub fn intended(&self, i: u64) -> Instant {
        let offset = self.per_send.as_secs_f64() * i as f64;
        self.start + Duration::from_secs_f64(offset)
    }

    /// Calls `emit(i, intended)` for every send, in order, each no earlier than due.
    pub async fn run(&self, mut emit: impl FnMut(u64, Instant)) -> Paced {
        let mut paced = Paced::default();
        let mut i = 0;
        while i < self.total {
            let due = self.intended(i);
            tokio::time::sleep_until(due).await;
            let now = Instant::now();
            while i < self.total && self.intended(i) <= now {
                let intended = self.intended(i);
                paced.max_lag = paced.max_lag.max(now.saturating_duration_since(intended));
                emit(i, intended);
                i += 1;
            }
            paced.emitted = i;
        }
        paced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emits_every_send_at_its_time_in_order() {
        let schedule = Schedule::new(100.0, Duration::from_millis(500));
        assert_eq!(schedule.total(), 50);
        let mut seen = Vec::new();
        let paced = schedule
            .run(|i, intended| {
                assert!(Instant::now() >= intended);
                seen.push(i);
            })
            .await;
        assert_eq!(paced.emitted, 50);
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        // the last send is due at 490 ms: on time, not after a sleep per send
        let took = schedule.start().elapsed();
        assert!(
            took >= Duration::from_millis(490) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
