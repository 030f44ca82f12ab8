//! In-process bus: one append-only log per topic and one cursor per consumer group.
//!
//! Consumers of the same group share the group's cursor, so each record goes to one of
//! them; per-key order across several consumers of one group is therefore only
//! guaranteed with a single consumer per group, which is how the all-in-one process
//! runs. A new subscription resumes from the group's last commit, which redelivers
//! whatever an earlier consumer took but did not commit (at-least-once). A group that
//! joins late starts at the oldest retained record, or at the end of the log for
//! [`StartAt::Latest`]. Each topic is a single partition, numbered 0.

use super::{Bus, BusError, Delivery, Record, StartAt, Subscription};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Records kept after every group has committed them.
const RETAINED: u64 = 10_000;

#[derive(Default)]
pub struct MemoryBus {
    topics: Mutex<HashMap<String, Arc<Topic>>>,
}

#[derive(Default)]
struct Topic {
    log: Mutex<Log>,
    appended: Notify,
}

#[derive(Default)]
struct Log {
    /// Offset of `records[0]`; records every group has committed are dropped.
    base: u64,
    records: Vec<Record>,
    groups: HashMap<String, Group>,
}

#[derive(Default)]
struct Group {
    /// Next offset to hand out.
    next: u64,
    /// Everything below this offset is processed.
    committed: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the log consistent, so a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryBus {
    fn topic(&self, name: &str) -> Arc<Topic> {
        lock(&self.topics)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

impl Log {
    fn end(&self) -> u64 {
        self.base + self.records.len() as u64
    }

    /// Drops what every group has committed, keeping the newest [`RETAINED`] records
    /// for groups that join later (like a broker's retention).
    fn compact(&mut self) {
        let Some(committed) = self.groups.values().map(|g| g.committed).min() else {
            return;
        };
        let floor = committed.min(self.end().saturating_sub(RETAINED));
        if floor > self.base {
            let drop = usize::try_from(floor - self.base)
                .unwrap_or(usize::MAX)
                .min(self.records.len());
            self.records.drain(..drop);
            self.base += drop as u64;
        }
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError> {
        let topic = self.topic(topic);
        lock(&topic.log).records.push(record);
        topic.appended.notify_waiters();
        Ok(())
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<Box<dyn Subscription>, BusError> {
        let name = topic.to_owned();
        let topic = self.topic(topic);
        {
            let mut log = lock(&topic.log);
            let first = match start {
                StartAt::Earliest => log.base,
                StartAt::Latest => log.end(),
            };
            let state = log.groups.entry(group.to_owned()).or_insert(Group {
                next: first,
                committed: first,
            });
            // Resume after the last commit: whatever was handed out but not committed
            // is delivered again.
            state.next = state.committed;
        }
        Ok(Box::new(MemorySubscription {
            name,
            topic,
            group: group.to_owned(),
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}

struct MemorySubscription {
    name: String,
    topic: Arc<Topic>,
    group: String,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            // Register interest before looking, so an append between the look and the
            // wait is not missed.
            let appended = self.topic.appended.notified();
            {
                let mut log = lock(&self.topic.log);
                let end = log.end();
                let base = log.base;
                let group = log.groups.get_mut(&self.group).ok_or(BusError::Closed)?;
                if group.next < end {
                    let offset = group.next.max(base);
                    group.next = offset + 1;
                    let index = usize::try_from(offset - base).map_err(|_| BusError::Closed)?;
                    let record = log.records[index].clone();
                    return Ok(Delivery {
                        topic: self.name.clone(),
                        partition: 0,
                        offset,
                        record,
                    });
                }
            }
            appended.await;
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let mut log = lock(&self.topic.log);
        let group = log.groups.get_mut(&self.group).ok_or(BusError::Closed)?;
        group.committed = group.committed.max(delivery.offset + 1);
        log.compact();
        Ok(())
    }
}
