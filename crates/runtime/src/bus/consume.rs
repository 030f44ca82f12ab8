//! The consumer loop every service writes otherwise: subscribe, hand each record to the
//! service in order, commit it once handled, resubscribe with backoff when the
//! subscription fails, stop on shutdown.

use super::{Bus, Delivery, StartAt};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Doubling waits between retries, capped, cut short by a stop.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// Sleeps the current wait (then doubles it); false when `stop` fired meanwhile.
    pub async fn pause(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = stop.cancelled() => false,
        }
    }

    /// Back to the first, short wait (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(50), Duration::from_secs(5))
    }
}

/// Runs until `stop` fires: each record of `topic` for consumer `group` goes to
/// `handle`, one at a time, in order. A record is committed after `handle` returns
/// `true`; `false` means the service is stopping and leaves it uncommitted, to be
/// delivered again (at-least-once). `handle` owns its retries: this loop never skips a
/// record. A new group starts at the earliest record.
pub async fn consume<F, Fut>(
    bus: Arc<dyn Bus>,
    topic: &str,
    group: &str,
    stop: CancellationToken,
    handle: F,
) where
    F: FnMut(Delivery) -> Fut,
    Fut: Future<Output = bool>,
{
    consume_from(bus, topic, group, StartAt::Earliest, stop, handle).await;
}

/// [`consume`], with a new group starting at `start`.
pub async fn consume_from<F, Fut>(
    bus: Arc<dyn Bus>,
    topic: &str,
    group: &str,
    start: StartAt,
    stop: CancellationToken,
    mut handle: F,
) where
    F: FnMut(Delivery) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut backoff = Backoff::default();
    while !stop.is_cancelled() {
        match bus.subscribe_from(topic, group, start).await {
            Ok(mut subscription) => loop {
                let delivery = tokio::select! {
                    delivery = subscription.next() => delivery,
                    () = stop.cancelled() => return,
                };
                let delivery = match delivery {
                    Ok(delivery) => delivery,
                    Err(error) => {
                        tracing::warn!(%error, topic, group, "subscription failed; resubscribing");
                        break;
                    }
                };
                if !handle(delivery.clone()).await {
                    return;
                }
                if let Err(error) = subscription.commit(&delivery).await {
                    tracing::warn!(%error, topic, group, "cannot commit; resubscribing");
                    break;
                }
                backoff.reset();
            },
            Err(error) => tracing::warn!(%error, topic, group, "cannot subscribe"),
        }
        if !backoff.pause(&stop).await {
            return;
        }
    }
}
