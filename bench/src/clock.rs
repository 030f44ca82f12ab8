//! The run's one monotonic clock. Send timestamps travel inside the messages as
//! microseconds since its epoch; senders and receivers share this process, so their
//! readings compare exactly (no wall-clock skew or jumps).

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// Microseconds since the epoch, now.
    pub fn now_us(&self) -> u64 {
        self.at_us(Instant::now())
    }

    /// Microseconds since the epoch at `instant` (0 before the epoch).
    pub fn at_us(&self, instant: Instant) -> u64 {
        let micros = instant.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(micros).unwrap_or(u64::MAX)
    }
}
