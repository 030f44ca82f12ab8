//! [`KafkaBus`]: publishing through one shared idempotent producer, subscribing as a
//! member of a consumer group.

use crate::address::Address;
use crate::context::{GroupContext, Tracing};
use crate::subscription::{self, Closing, KafkaSubscription};
use crate::topics::Topics;
use crate::unavailable;
use async_trait::async_trait;
use im_runtime::bus::{Bus, BusError, Record, StartAt, Subscription};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long `publish` waits for the brokers to acknowledge a record.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of the other broker requests: creating a topic, fetching offsets.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a silent group member keeps its partitions before they move. Longer than a
/// short broker outage: a broker frozen for 10 s must not expel every member when it
/// returns (tansu then leaves groups rebalancing until the members rejoin).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(15);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// A consumer that does not ask for its next record for this long (a service stuck
/// on one record) leaves the group, so a rebalance never waits longer on it.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// How long dropping the bus waits for its consumers to leave their groups.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const METADATA_REFRESH: Duration = Duration::from_secs(10);
/// How long `publish` waits for room in the producer's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) struct KafkaBus {
    address: Address,
    producer: RwLock<Producer>,
    topics: Topics,
    closing: Arc<Closing>,
}

impl Drop for KafkaBus {
    fn drop(&mut self) {
        self.closing.wait(CLOSE_TIMEOUT);
    }
}

/// The shared producer, numbered so that a failed one is replaced only once.
#[derive(Clone)]
struct Producer {
    generation: u64,
    client: FutureProducer<Tracing>,
}

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

impl KafkaBus {
    pub fn new(address: Address) -> Result<Self, BusError> {
        let client = new_producer(&address)?;
        let admin = client_config(&address)
            .create_with_context(Tracing)
            .map_err(unavailable("cannot create the kafka admin client"))?;
        let topics = Topics::new(admin, &address, REQUEST_TIMEOUT);
        Ok(Self {
            address,
            producer: RwLock::new(Producer {
                generation: 0,
                client,
            }),
            topics,
            closing: Arc::default(),
        })
    }

    fn producer(&self) -> Producer {
        self.producer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces `failed` (see [`needs_new_producer`]), once however many publishes saw
    /// it fail.
    fn replace(&self, failed: &Producer) {
        let mut current = self
            .producer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.generation != failed.generation {
            return; // another publish replaced it already
        }
        match new_producer(&self.address) {
            Ok(client) => {
                let retired = std::mem::replace(
                    &mut *current,
                    Producer {
                        generation: failed.generation + 1,
                        client,
                    },
                );
                // Dropping a producer purges and joins its thread: not on the runtime.
                let _ = std::thread::Builder::new()
                    .name("im-kafka-retire".into())
                    .spawn(move || drop(retired));
            }
            Err(error) => tracing::warn!(%error, "cannot replace the failed kafka producer"),
        }
    }

    fn consumer_config(&self, group: &str, start: StartAt) -> ClientConfig {
        let mut config = client_config(&self.address);
        config
            .set("group.id", self.address.scoped(group))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.offset.reset",
                match start {
                    StartAt::Earliest => "earliest",
                    StartAt::Latest => "latest",
                },
            )
            .set("session.timeout.ms", millis(SESSION_TIMEOUT))
            .set("heartbeat.interval.ms", millis(HEARTBEAT_INTERVAL))
            .set("max.poll.interval.ms", millis(MAX_POLL_INTERVAL))
            // A topic that appears (created again after a broker lost it) or grows
            // partitions is noticed, and assigned, this soon (librdkafka: 5 min).
            .set(
                "topic.metadata.refresh.interval.ms",
                millis(METADATA_REFRESH),
            );
        config
    }
}

fn new_producer(address: &Address) -> Result<FutureProducer<Tracing>, BusError> {
    client_config(address)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", millis(DELIVERY_TIMEOUT))
        // A record waits at most 1 ms for others to share its request.
        .set("linger.ms", "1")
        // The partitioner of the Java client: keys land where other clients put them.
        .set("partitioner", "murmur2_random")
        .create_with_context(Tracing)
        .map_err(unavailable("cannot create the kafka producer"))
}

/// Whether `producer` should give way to a new one after failing with `error`.
/// librdkafka never recovers an idempotent producer whose identity the broker no
/// longer accepts: tansu fences it when librdkafka bumps its epoch after a request
/// timed out, and forgets it on restart (librdkafka then bumps epochs locally until
/// every record times out). A fresh producer gets a fresh identity; replacing one
/// after a mere outage costs nothing, its failed records were reported already.
fn needs_new_producer(producer: &FutureProducer<Tracing>, error: &KafkaError) -> bool {
    producer.client().fatal_error().is_some()
        || matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::MessageTimedOut
                    | RDKafkaErrorCode::Fatal
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::InvalidProducerIdMapping
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
            )
        )
}

/// What every client of `address` shares.
fn client_config(address: &Address) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &address.bootstrap)
        .set("client.id", "im")
        // librdkafka leaves Nagle's algorithm on: a small request written while an
        // earlier one is unacknowledged would wait for the broker's delayed ACK.
        .set("socket.nagle.disable", "true")
        // A paused or vanished broker fails requests instead of holding them a minute.
        .set("socket.timeout.ms", millis(REQUEST_TIMEOUT));
    config
}

fn headers(record: &Record) -> OwnedHeaders {
    record
        .headers
        .iter()
        .fold(OwnedHeaders::new(), |headers, (name, value)| {
            headers.insert(Header {
                key: name,
                value: Some(value),
            })
        })
}

#[async_trait]
impl Bus for KafkaBus {
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError> {
        let topic = self.address.scoped(topic);
        self.topics.ensure(&topic).await?;
        let message = FutureRecord::to(&topic)
            .key(record.key.as_bytes())
            .payload(&record.payload[..])
            .headers(headers(&record));
        let producer = self.producer();
        match producer.client.send(message, QUEUE_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err((error, _)) => {
                // the topic may be gone with a broker that lost its data
                self.topics.forget(&topic);
                if needs_new_producer(&producer.client, &error) {
                    tracing::warn!(%error, "replacing the kafka producer");
                    self.replace(&producer);
                }
                Err(BusError::Unavailable(format!(
                    "cannot publish to {topic}: {error}"
                )))
            }
        }
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<Box<dyn Subscription>, BusError> {
        let scoped = self.address.scoped(topic);
        self.topics.ensure(&scoped).await?;
        let consumer: StreamConsumer<GroupContext> = self
            .consumer_config(group, start)
            .create_with_context(GroupContext::default())
            .map_err(unavailable("cannot create a kafka consumer"))?;
        let consumer = Arc::new(consumer);
        if start == StartAt::Latest {
            let (consumer, scoped) = (Arc::clone(&consumer), scoped.clone());
            tokio::task::spawn_blocking(move || {
                subscription::start_at_end(&consumer, &scoped, REQUEST_TIMEOUT)
            })
            .await
            .map_err(unavailable("cannot find where the group starts"))??;
        }
        consumer
            .subscribe(&[&scoped])
            .map_err(unavailable(format!("cannot subscribe to {scoped}")))?;
        let closing = Arc::clone(&self.closing);
        let subscription =
            KafkaSubscription::join(topic.to_owned(), scoped, consumer, closing).await?;
        Ok(Box::new(subscription))
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.producer().client;
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, PING_TIMEOUT)
                .map(drop)
        })
        .await
        .map_err(unavailable("cannot reach the kafka brokers"))?
        .map_err(unavailable("cannot reach the kafka brokers"))
    }
}
