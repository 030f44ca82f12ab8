//! [`KafkaSubscription`]: one member of a consumer group on one topic.
//!
//! A subscription is returned once the member joined the group and got its
//! partitions: a member dropped halfway through joining is a ghost some brokers
//! (tansu) keep in the group, stalling the next rebalance. Commits are asynchronous
//! (the consume loop commits each record; waiting for the broker would add a round
//! trip to every one) and are sent before the member leaves the group when the
//! subscription is dropped, so what was committed stays committed.

use crate::context::GroupContext;
use crate::unavailable;
use async_trait::async_trait;
use bytes::Bytes;
use im_runtime::bus::{BusError, Delivery, Record, Subscription};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

pub(crate) type GroupConsumer = StreamConsumer<GroupContext>;

/// Pause after a consumer error, so a persistent one cannot flood the logs.
const ERROR_PAUSE: Duration = Duration::from_millis(200);
/// How often a waiting `next` checks that the member is not stuck out of its group.
const STUCK_CHECK: Duration = Duration::from_secs(5);
/// How long `subscribe` waits for the member to join its group (tansu makes each
/// member after the first wait 3 s; a rebalance waits for every member to rejoin).
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A member without partitions for this long is stuck: longer than a rebalance
/// waiting for the slowest member (`max.poll.interval.ms`, 30 s) plus a join.
const STUCK_AFTER: Duration = Duration::from_secs(45);

pub(crate) struct KafkaSubscription {
    /// The topic as the service names it (without the namespace).
    topic: String,
    /// The topic as the brokers name it.
    scoped: String,
    /// `None` once dropped: closing is handed to a thread of its own.
    consumer: Option<Arc<GroupConsumer>>,
    /// Records received while joining, handed out first.
    pending: VecDeque<Delivery>,
    /// The highest offset committed per partition, so commits never move back.
    committed: HashMap<i32, i64>,
    closing: Arc<Closing>,
}

impl KafkaSubscription {
    /// Joins the group `consumer` subscribed to, waiting up to [`JOIN_TIMEOUT`] for
    /// its first assignment; past that the subscription is returned anyway and the
    /// join goes on in the background. Dropped, it closes through `closing`.
    pub async fn join(
        topic: String,
        scoped: String,
        consumer: Arc<GroupConsumer>,
        closing: Arc<Closing>,
    ) -> Result<Self, BusError> {
        let mut subscription = Self {
            topic,
            scoped,
            consumer: Some(consumer),
            pending: VecDeque::new(),
            committed: HashMap::new(),
            closing,
        };
        let joined = tokio::time::timeout(JOIN_TIMEOUT, subscription.wait_for_assignment()).await;
        match joined {
            Ok(result) => result?,
            Err(_) => tracing::warn!(
                topic = %subscription.scoped,
                "no partitions assigned within {JOIN_TIMEOUT:?}; still joining the group"
            ),
        }
        Ok(subscription)
    }

    async fn wait_for_assignment(&mut self) -> Result<(), BusError> {
        let consumer = Arc::clone(self.consumer.as_ref().ok_or(BusError::Closed)?);
        let assigned = consumer.context().assigned.notified();
        tokio::pin!(assigned);
        loop {
            tokio::select! {
                biased;
                () = &mut assigned => return Ok(()),
                // The assignment arrives while the consumer is polled.
                received = consumer.recv() => match received {
                    Ok(message) => {
                        let delivery = delivery(&self.topic, &message)?;
                        self.pending.push_back(delivery);
                    }
                    Err(error) => self.consumer_error(error).await?,
                },
            }
        }
    }

    /// A member left without partitions for longer than any healthy rebalance takes
    /// is wedged: tansu 0.6 keeps a group whose leader it expelled (a broker paused
    /// past the session timeout, a killed instance) rebalancing forever. Failing lets
    /// the caller subscribe again with a new member, which gets the group going.
    fn check_not_stuck(&self) -> Result<(), BusError> {
        let waiting = self.consumer()?.context().unassigned_for();
        match waiting {
            Some(waiting) if waiting > STUCK_AFTER => Err(BusError::Unavailable(format!(
                "no partitions of {} assigned for {waiting:?}; the group is stuck rebalancing",
                self.scoped
            ))),
            _ => Ok(()),
        }
    }

    fn consumer(&self) -> Result<&GroupConsumer, BusError> {
        self.consumer.as_deref().ok_or(BusError::Closed)
    }

    /// Fatal errors end the subscription; librdkafka recovers from the others
    /// (broker restarts, rebalances, a missed poll interval) by itself.
    async fn consumer_error(&self, error: KafkaError) -> Result<(), BusError> {
        if matches!(error, KafkaError::MessageConsumptionFatal(_)) {
            return Err(BusError::Unavailable(format!(
                "cannot consume {}: {error}",
                self.scoped
            )));
        }
        tracing::warn!(%error, topic = %self.scoped, "consumer error; retrying");
        tokio::time::sleep(ERROR_PAUSE).await;
        Ok(())
    }
}

fn delivery(topic: &str, message: &BorrowedMessage<'_>) -> Result<Delivery, BusError> {
    let position = |what: &str| BusError::Unavailable(format!("{what} out of range"));
    let headers = message.headers().map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|header| {
                let value = header.value.map(String::from_utf8_lossy);
                (
                    header.key.to_owned(),
                    value.unwrap_or_default().into_owned(),
                )
            })
            .collect()
    });
    Ok(Delivery {
        topic: topic.to_owned(),
        partition: u32::try_from(message.partition()).map_err(|_| position("partition"))?,
        offset: u64::try_from(message.offset()).map_err(|_| position("offset"))?,
        record: Record {
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned())
                .unwrap_or_default(),
            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
            headers,
        },
    })
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        if let Some(delivery) = self.pending.pop_front() {
            return Ok(delivery);
        }
        loop {
            let consumer = self.consumer()?;
            let received = tokio::select! {
                received = consumer.recv() => received,
                () = tokio::time::sleep(STUCK_CHECK) => {
                    self.check_not_stuck()?;
                    continue;
                }
            };
            match received {
                Ok(message) => return delivery(&self.topic, &message),
                Err(error) => self.consumer_error(error).await?,
            }
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let out_of_range = |_| BusError::Unavailable("offset out of range".into());
        let partition = i32::try_from(delivery.partition).map_err(out_of_range)?;
        let next = i64::try_from(delivery.offset)
            .map_err(out_of_range)?
            .saturating_add(1);
        if self
            .committed
            .get(&partition)
            .is_some_and(|done| *done >= next)
        {
            return Ok(());
        }
        let consumer = self.consumer()?;
        let assignment = consumer
            .assignment()
            .map_err(unavailable("cannot read the assignment"))?;
        if assignment.find_partition(&self.scoped, partition).is_none() {
            // The partition moved to another member during a rebalance: committing
            // would overwrite that member's progress. It reads the record again.
            tracing::debug!(topic = %self.scoped, partition, "not committing a partition no longer assigned");
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&self.scoped, partition, Offset::Offset(next))
            .map_err(unavailable("cannot commit"))?;
        consumer
            .commit(&offsets, CommitMode::Async)
            .map_err(unavailable("cannot commit"))?;
        self.committed.insert(partition, next);
        Ok(())
    }
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            self.closing.close(consumer);
        }
    }
}

/// Consumers being closed. Closing sends pending commits and leaves the group,
/// blocking for a round trip or more, so it runs on a thread of its own; the bus
/// waits for these threads when it is dropped, so a process shutting down leaves
/// its groups instead of holding partitions until the session times out.
#[derive(Default)]
pub(crate) struct Closing {
    running: Mutex<usize>,
    finished: Condvar,
}

impl Closing {
    fn close(self: &Arc<Self>, consumer: Arc<GroupConsumer>) {
        *lock(&self.running) += 1;
        let closing = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("im-kafka-close".into())
            .spawn(move || {
                drop(consumer);
                *lock(&closing.running) -= 1;
                closing.finished.notify_all();
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot close a kafka consumer in the background");
            *lock(&self.running) -= 1;
        }
    }

    /// Waits up to `timeout` for every consumer being closed.
    pub fn wait(&self, timeout: Duration) {
        let running = lock(&self.running);
        let (running, waited) = self
            .finished
            .wait_timeout_while(running, timeout, |running| *running > 0)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if waited.timed_out() {
            tracing::warn!(
                still_closing = *running,
                "kafka consumers did not close in {timeout:?}"
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A counter is consistent after every statement: a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the start of a [`StartAt::Latest`](im_runtime::bus::StartAt) subscription
/// the group's: each partition of `topic` the group never committed gets the current
/// end committed, so what is published from now on reaches the group even if this
/// member goes away before reading anything. Brokers that refuse commits from outside
/// the group's generation get the same start applied on first assignment instead.
pub(crate) fn start_at_end(
    consumer: &GroupConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<(), BusError> {
    let failed = || unavailable(format!("cannot find where the group starts on {topic}"));
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(failed())?;
    let mut partitions = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
    {
        partitions.add_partition(topic, partition.id());
    }
    if partitions.count() == 0 {
        return Err(BusError::Unavailable(format!(
            "no partitions of {topic} known yet"
        )));
    }
    let committed = consumer
        .committed_offsets(partitions, timeout)
        .map_err(failed())?;

    let mut starts = TopicPartitionList::new();
    let mut by_partition = HashMap::new();
    for element in committed.elements() {
        if matches!(element.offset(), Offset::Offset(_)) {
            continue;
        }
        let (_, end) = consumer
            .fetch_watermarks(topic, element.partition(), timeout)
            .map_err(failed())?;
        starts
            .add_partition_offset(topic, element.partition(), Offset::Offset(end))
            .map_err(failed())?;
        by_partition.insert(element.partition(), end);
    }
    if by_partition.is_empty() {
        return Ok(());
    }
    if let Err(error) = consumer.commit(&starts, CommitMode::Sync) {
        tracing::warn!(%error, topic, "cannot commit the start of a new group; applying it on assignment");
        consumer.context().start_at(by_partition);
    }
    Ok(())
}
