//! Topics exist before anyone produces to or consumes from them: brokers such as
//! tansu (and most production clusters) do not create them on first use.

use crate::address::Address;
use crate::context::Tracing;
use crate::unavailable;
use im_runtime::bus::BusError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub(crate) struct Topics {
    admin: AdminClient<Tracing>,
    partitions: i32,
    replication: i32,
    /// Broker-side names known to exist, so each is created at most once per process.
    known: Mutex<HashSet<String>>,
    timeout: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A set of names is consistent after every statement: a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Topics {
    pub fn new(admin: AdminClient<Tracing>, address: &Address, timeout: Duration) -> Self {
        Self {
            admin,
            partitions: address.partitions,
            replication: address.replication,
            known: Mutex::default(),
            timeout,
        }
    }

    /// Creates `topic` (a broker-side name) unless it already exists.
    pub async fn ensure(&self, topic: &str) -> Result<(), BusError> {
        if lock(&self.known).contains(topic) {
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            self.partitions,
            TopicReplication::Fixed(self.replication),
        );
        let options = AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(unavailable(format!("cannot create topic {topic}")))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "cannot create topic {name}: {code}"
                    )));
                }
            }
        }
        lock(&self.known).insert(topic.to_owned());
        Ok(())
    }

    /// After a failure that may mean `topic` is gone (a broker that lost its data):
    /// the next use creates it again.
    pub fn forget(&self, topic: &str) {
        lock(&self.known).remove(topic);
    }
}
