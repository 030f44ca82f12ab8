//! The consumer loop every service writes otherwise: subscribe, hand records to the
//! service in order (one at a time or in batches of what is waiting), commit them once
//! handled, resubscribe with backoff when the subscription fails, stop on shutdown.

use super::{Bus, Delivery, StartAt};
use futures::FutureExt as _;
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
    let consumer = Consumer {
        topic,
        group,
        start,
        max_batch: 1,
        backoff: Backoff::default(),
    };
    consume_batches(bus, consumer, stop, |mut batch| {
        handle(batch.swap_remove(0))
    })
    .await;
}

/// Where and how [`consume_batches`] reads.
#[derive(Debug, Clone)]
pub struct Consumer<'a> {
    pub topic: &'a str,
    pub group: &'a str,
    /// Where a group without commits starts.
    pub start: StartAt,
    /// The most records handed over at once.
    pub max_batch: usize,
    /// The waits between attempts to subscribe again.
    pub backoff: Backoff,
}

/// Runs until `stop` fires: the records of `consumer.topic` for its group go to `handle`
/// in batches, in order: the first record that comes and whatever else is already
/// waiting, up to `max_batch`. Nothing waits for a batch to fill. A batch is committed
/// (its last record of each partition) after `handle` returns `true`; `false` means the
/// service is stopping and leaves the batch uncommitted, to be delivered again
/// (at-least-once). `handle` owns its retries: this loop never skips a record.
pub async fn consume_batches<F, Fut>(
    bus: Arc<dyn Bus>,
    consumer: Consumer<'_>,
    stop: CancellationToken,
    mut handle: F,
) where
    F: FnMut(Vec<Delivery>) -> Fut,
    Fut: Future<Output = bool>,
{
    let Consumer {
        topic,
        group,
        start,
        max_batch,
        mut backoff,
    } = consumer;
    while !stop.is_cancelled() {
        match bus.subscribe_from(topic, group, start).await {
            Ok(mut subscription) => loop {
                let first = tokio::select! {
                    // Stopping first: a stopped consumer must not take a record it will
                    // not handle.
                    biased;
                    () = stop.cancelled() => return,
                    first = subscription.next() => first,
                };
                let first = match first {
                    Ok(delivery) => delivery,
                    Err(error) => {
                        tracing::warn!(%error, topic, group, "subscription failed; resubscribing");
                        break;
                    }
                };
                let mut batch = vec![first];
                let mut failed = false;
                while batch.len() < max_batch.max(1) {
                    // Only what is ready now: a pending `next` is dropped unharmed (a
                    // subscription hands a record over only when it returns it).
                    match subscription.next().now_or_never() {
                        Some(Ok(delivery)) => batch.push(delivery),
                        Some(Err(error)) => {
                            tracing::warn!(%error, topic, group, "subscription failed; resubscribing");
                            failed = true;
                            break;
                        }
                        None => break,
                    }
                }
                let to_commit = last_per_partition(&batch);
                if !handle(batch).await {
                    return;
                }
                let mut committed = true;
                for last in &to_commit {
                    if let Err(error) = subscription.commit(last).await {
                        tracing::warn!(%error, topic, group, "cannot commit; resubscribing");
                        committed = false;
                        break;
                    }
                }
                if !committed || failed {
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

/// The last record of each partition in `batch`: committing it commits the records
/// before it in that partition (offsets of different partitions do not compare).
fn last_per_partition(batch: &[Delivery]) -> Vec<Delivery> {
    let mut last: Vec<&Delivery> = Vec::new();
    for delivery in batch {
        match last.iter_mut().find(|d| d.partition == delivery.partition) {
            Some(known) if known.offset < delivery.offset => *known = delivery,
            Some(_) => {}
            None => last.push(delivery),
        }
    }
    last.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{MemoryBus, Record};
    use std::sync::Mutex;
    use std::time::Duration;

    async fn publish(bus: &MemoryBus, range: std::ops::Range<u32>) {
        for i in range {
            bus.publish("t", Record::new(format!("k{}", i % 3), i.to_string()))
                .await
                .unwrap();
        }
    }

    fn consumer(max_batch: usize) -> Consumer<'static> {
        Consumer {
            topic: "t",
            group: "g",
            start: StartAt::Earliest,
            max_batch,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
        }
    }

    fn numbers(batch: &[Delivery]) -> Vec<u32> {
        batch
            .iter()
            .map(|d| {
                std::str::from_utf8(&d.record.payload)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    /// Consumes until `until` records were handled, `accept` deciding each batch's fate;
    /// returns the batches seen.
    async fn run(
        bus: &Arc<MemoryBus>,
        max_batch: usize,
        until: usize,
        accept: bool,
    ) -> Vec<Vec<u32>> {
        let seen = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let stop = CancellationToken::new();
        let (seen_in, stop_in) = (seen.clone(), stop.clone());
        let task = tokio::spawn(consume_batches(
            bus.clone(),
            consumer(max_batch),
            stop.clone(),
            move |batch| {
                let mut seen = seen_in.lock().unwrap();
                seen.push(numbers(&batch));
                if seen.iter().map(Vec::len).sum::<usize>() >= until {
                    stop_in.cancel();
                }
                std::future::ready(accept)
            },
        ));
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the consumer stops")
            .unwrap();
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    #[tokio::test]
    async fn waiting_records_come_in_order_in_batches_and_are_committed() {
        let bus = Arc::new(MemoryBus::default());
        publish(&bus, 0..10).await;
        let batches = run(&bus, 4, 10, true).await;
        assert_eq!(batches, [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);

        // Committed: a new subscription of the group sees only what comes next.
        publish(&bus, 10..12).await;
        assert_eq!(run(&bus, 4, 2, true).await, [vec![10, 11]]);
    }

    #[tokio::test]
    async fn a_batch_not_handled_is_delivered_again() {
        let bus = Arc::new(MemoryBus::default());
        publish(&bus, 0..3).await;
        assert_eq!(run(&bus, 8, 3, false).await, [vec![0, 1, 2]]);
        assert_eq!(run(&bus, 2, 3, true).await, [vec![0, 1], vec![2]]);
    }

    #[tokio::test]
    async fn one_at_a_time_consumers_see_every_record_once_in_order() {
        let bus = Arc::new(MemoryBus::default());
        publish(&bus, 0..5).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (seen_in, stop_in) = (seen.clone(), stop.clone());
        let task = tokio::spawn(consume(bus.clone(), "t", "g", stop, move |delivery| {
            let mut seen = seen_in.lock().unwrap();
            seen.extend(numbers(std::slice::from_ref(&delivery)));
            if seen.len() == 5 {
                stop_in.cancel();
            }
            std::future::ready(true)
        }));
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4]);
    }
}
