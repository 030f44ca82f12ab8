//! Callbacks librdkafka makes into the adapter: its log lines and errors go to
//! `tracing`, and a consumer group's rebalances are applied (and logged) here.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", facility, "{message}");
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, "{message}");
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

fn error(error: &KafkaError, reason: &str) {
    // Mostly transport trouble (a broker restarting) that librdkafka retries itself.
    tracing::warn!(target: "librdkafka", %error, "{reason}");
}

/// The context of producers and admin clients.
#[derive(Default)]
pub(crate) struct Tracing;

impl ClientContext for Tracing {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self::error(&error, reason);
    }
}

/// The context of one group consumer.
pub(crate) struct GroupContext {
    /// Offsets some partitions start at when first assigned, overriding the group's
    /// (missing) commit: the start of a `StartAt::Latest` group that could not be
    /// committed up front.
    starts: Mutex<HashMap<i32, i64>>,
    /// Signalled on each assignment: the member has joined the group.
    pub assigned: Notify,
    /// Since when the member has been without an assignment (joining, or
    /// rebalancing); `None` while it holds one, even an empty one.
    unassigned_since: Mutex<Option<Instant>>,
}

impl Default for GroupContext {
    fn default() -> Self {
        Self {
            starts: Mutex::default(),
            assigned: Notify::new(),
            unassigned_since: Mutex::new(Some(Instant::now())),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each value is consistent after every statement, so a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn partitions(tpl: &TopicPartitionList) -> Vec<String> {
    tpl.elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect()
}

impl GroupContext {
    /// How long the member has been waiting for the group to give it partitions.
    pub fn unassigned_for(&self) -> Option<Duration> {
        lock(&self.unassigned_since).map(|since| since.elapsed())
    }

    pub fn start_at(&self, starts: HashMap<i32, i64>) {
        *lock(&self.starts) = starts;
    }

    fn apply_starts(&self, tpl: &mut TopicPartitionList) {
        let mut starts = lock(&self.starts);
        if starts.is_empty() {
            return;
        }
        for mut element in tpl.elements() {
            if let Some(offset) = starts.remove(&element.partition())
                && let Err(error) = element.set_offset(Offset::Offset(offset))
            {
                tracing::warn!(%error, partition = element.partition(), "cannot set the start offset");
            }
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self::error(&error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let applied = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.apply_starts(tpl);
                tracing::info!(partitions = ?partitions(tpl), "partitions assigned");
                let assigned = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                *lock(&self.unassigned_since) = None;
                self.assigned.notify_one();
                assigned
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                lock(&self.unassigned_since).get_or_insert_with(Instant::now);
                tracing::info!(partitions = ?partitions(tpl), "partitions revoked");
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                lock(&self.unassigned_since).get_or_insert_with(Instant::now);
                tracing::warn!(error = ?other, "rebalance failed; dropping the assignment");
                consumer.unassign()
            }
        };
        if let Err(error) = applied {
            tracing::warn!(%error, "cannot apply the rebalance");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {}
            // Nothing was committed since the last commit: not a failure.
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(
                %error,
                partitions = ?partitions(offsets),
                "commit failed; the group will see these records again"
            ),
        }
    }
}
