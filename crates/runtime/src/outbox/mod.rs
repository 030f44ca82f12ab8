//! A transactional outbox, generic over what it carries: a change stores its bus
//! records in the `outbox` table in the same transaction ([`enqueue`]), so they commit or
//! roll back with it; a [`Relay`] publishes committed records afterwards, oldest first,
//! retrying with backoff until the bus accepts each one, then marks it sent by deleting
//! it. A bus outage delays events, never loses them; delivery is at-least-once (a crash
//! between publishing and deleting publishes again), so consumers dedupe.
//!
//! Deleting is not on the way of the next record: published rows are left out of the
//! relay's next reads and deleted together, once the oldest has waited
//! [`RelaySettings::delete_after`] or [`DELETES`] have gathered, so a steady trickle of
//! records costs a read per wake-up and one delete (one commit) per interval, not a
//! delete per record.
//!
//! Order: each key's records are published in id order (a packed row's records in their
//! order, [`packed`]), each once the one before was accepted; different keys' records go
//! out side by side, and published rows are deleted together, a packed row once all its
//! records are out (a packed row with records left keeps only those, at once).
//! Records of one key must be written by transactions
//! that hold the same lock (a conversation, a pair of users), so their ids follow commit
//! order and each key's records reach the bus in order. Only one relay publishes at a
//! time: several instances of a service share the database and take turns through a
//! lease row.
//!
//! A service owns its copy of the tables: its first migration that needs them calls
//! [`schema::create`], and its store calls [`enqueue`] (or [`enqueue_many`]) inside its
//! transactions and wakes the relay ([`Relay::waker`]) after commit.

mod entity;
mod packed;
pub mod schema;

use crate::bus::{Bus, Record};
use crate::db::shapes;
use entity::{outbox, outbox_lease};
use futures::{StreamExt as _, stream};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The one lease row relays compete for.
const LEASE_NAME: &str = "relay";

/// A bus record waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub topic: String,
    /// The ordering key (a conversation id …).
    pub key: String,
    pub payload: Vec<u8>,
}

/// Stores `record` for publication; call inside the transaction of the change.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    record: OutboxRecord,
    now_ms: i64,
) -> Result<(), DbErr> {
    let row = outbox::ActiveModel {
        topic: Set(record.topic),
        record_key: Set(record.key),
        payload: Set(record.payload),
        created_at_ms: Set(now_ms),
        ..Default::default()
    };
    outbox::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Stores `records` for publication, in this order; call inside the transaction of the
/// change. They are packed several to a row ([`packed`]), and the rows inserted in runs
/// of up to [`ROWS`] ([`shapes::runs`]).
pub async fn enqueue_many(
    db: &impl ConnectionTrait,
    records: impl IntoIterator<Item = (OutboxRecord, i64)>,
) -> Result<(), DbErr> {
    let mut rows: Vec<outbox::ActiveModel> = packed::groups(records.into_iter().collect())
        .into_iter()
        .map(|mut group| {
            let created_at_ms = group.first().map_or(0, |(_, at_ms)| *at_ms);
            let (topic, record_key, payload) = if group.len() == 1 {
                let (record, _) = group.pop().expect("one record");
                (record.topic, record.key, record.payload)
            } else {
                let payload = packed::pack(group.iter().map(|(record, _)| record));
                (packed::PACKED_TOPIC.to_owned(), String::new(), payload)
            };
            outbox::ActiveModel {
                topic: Set(topic),
                record_key: Set(record_key),
                payload: Set(payload),
                created_at_ms: Set(created_at_ms),
                ..Default::default()
            }
        })
        .collect();
    let runs: Vec<usize> = shapes::runs(&rows, ROWS).map(<[_]>::len).collect();
    for run in runs {
        outbox::Entity::insert_many(rows.drain(..run))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Rows per multi-row insert (4 values each).
const ROWS: usize = 512;
/// Keys whose records are published at the same time.
const PUBLISHING_KEYS: usize = 64;
/// Ids per `DELETE … IN (…)` (and per `NOT IN (…)` leaving published rows out of a
/// read), padded to few shapes ([`shapes::padded`]); this many published rows are
/// deleted without waiting for [`RelaySettings::delete_after`].
const DELETES: usize = 512;

/// How a relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// How often the table is looked at without a wake-up (records committed by other
    /// instances, or left by a crash).
    pub poll_interval: Duration,
    /// Records read per round.
    pub batch_size: u64,
    /// The first wait after a failed publish; doubled up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a relay's turn lasts without renewal.
    pub lease_ttl: Duration,
    /// How long published rows may wait to be deleted together (left out of reads
    /// meanwhile); a crash in between publishes them again.
    pub delete_after: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            batch_size: 500,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(10),
            delete_after: Duration::from_millis(100),
        }
    }
}

/// Publishes the outbox to the bus until stopped.
pub struct Relay {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    settings: RelaySettings,
    wake: Arc<Notify>,
    /// This relay's name in the lease.
    holder: String,
    /// Until when this relay holds the lease, as far as it knows (0: it does not).
    held_until_ms: AtomicI64,
}

/// One record read from the outbox, the row it came from and its place in the row.
struct Entry {
    row: i64,
    index: usize,
    record: OutboxRecord,
}

/// What a round published of one row.
struct RowProgress {
    /// A packed row's payload.
    packed: Option<Vec<u8>>,
    records: usize,
    /// The places of its records that went out.
    published: Vec<usize>,
}

/// A row's records, and its payload when they are packed.
fn records_of(row: outbox::Model) -> anyhow::Result<(Vec<OutboxRecord>, Option<Vec<u8>>)> {
    if row.topic == packed::PACKED_TOPIC {
        let records = packed::unpack(&row.payload)
            .map_err(|error| error.context(format!("outbox row {}", row.id)))?;
        return Ok((records, Some(row.payload)));
    }
    let record = OutboxRecord {
        topic: row.topic,
        key: row.record_key,
        payload: row.payload,
    };
    Ok((vec![record], None))
}

/// Rewrites packed row `id` to hold only its records not `published`.
async fn keep_unpublished(
    db: &DatabaseConnection,
    id: i64,
    payload: &[u8],
    published: &[usize],
) -> anyhow::Result<()> {
    let left: Vec<OutboxRecord> = packed::unpack(payload)?
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !published.contains(index))
        .map(|(_, record)| record)
        .collect();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Payload, Expr::value(packed::pack(&left)))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Rows published and not deleted yet: left out of reads, deleted together.
#[derive(Default)]
struct Published {
    ids: Vec<i64>,
    /// When the oldest of them went out.
    since: Option<Instant>,
}

impl Published {
    fn add(&mut self, ids: impl IntoIterator<Item = i64>) {
        let before = self.ids.len();
        self.ids.extend(ids);
        if before == 0 && !self.ids.is_empty() {
            self.since = Some(Instant::now());
        }
    }

    /// How long until they are due for deleting (`None`: there are none).
    fn due_in(&self, delete_after: Duration) -> Option<Duration> {
        if self.ids.len() >= DELETES {
            return Some(Duration::ZERO);
        }
        self.since
            .map(|since| delete_after.saturating_sub(since.elapsed()))
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.since = None;
    }
}

/// What one round did.
enum Round {
    /// `drained`: it read fewer rows than a batch, so all there was.
    Published {
        drained: bool,
    },
    Idle,
    /// Another relay holds the lease.
    Waiting,
}

impl Relay {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn Bus>, settings: RelaySettings) -> Self {
        Self {
            db,
            bus,
            settings,
            wake: Arc::new(Notify::new()),
            holder: uuid::Uuid::new_v4().to_string(),
            held_until_ms: AtomicI64::new(0),
        }
    }

    /// Notify it (`notify_one`) after committing records, so they go out at once rather
    /// than at the next poll. A round that read all there was waits for this before it
    /// reads again: a commit during the round leaves its permit behind.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = self.settings.first_backoff;
        let mut published = Published::default();
        while !stop.is_cancelled() {
            let pause = match self.round(&mut published, &stop).await {
                Ok(Round::Published { drained }) => {
                    backoff = self.settings.first_backoff;
                    if !drained {
                        continue;
                    }
                    // Whatever committed since the read woke us meanwhile (a stored
                    // permit), so reading again at once would mostly find nothing.
                    self.idle_pause(&published, self.settings.poll_interval)
                }
                Ok(Round::Idle) => self.idle_pause(&published, self.settings.poll_interval),
                Ok(Round::Waiting) => self.settings.lease_ttl / 2,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "outbox relay round failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    pause
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => {}
            }
        }
        // What went out leaves the table now rather than going out again.
        if let Err(error) = self.delete_published(&mut published).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "deleting published outbox rows failed"
            );
        }
    }

    /// `pause`, cut short when published rows fall due for deleting before it ends.
    fn idle_pause(&self, published: &Published, pause: Duration) -> Duration {
        published
            .due_in(self.settings.delete_after)
            .map_or(pause, |due| due.min(pause))
    }

    /// Publishes what is waiting, then deletes the published rows that are due (all of
    /// them when the lease went to another relay), even after a failed publish.
    async fn round(
        &self,
        published: &mut Published,
        stop: &CancellationToken,
    ) -> anyhow::Result<Round> {
        let round = self.publish_round(published, stop).await;
        let due = published
            .due_in(self.settings.delete_after)
            .is_some_and(|due| due.is_zero());
        if due || matches!(round, Ok(Round::Waiting)) {
            self.delete_published(published).await?;
        }
        round
    }

    /// Deletes the published rows; on failure they stay listed, to be deleted later.
    async fn delete_published(&self, published: &mut Published) -> anyhow::Result<()> {
        for ids in shapes::padded(&published.ids, DELETES) {
            outbox::Entity::delete_many()
                .filter(outbox::Column::Id.is_in(ids))
                .exec(&self.db)
                .await?;
        }
        published.clear();
        Ok(())
    }

    /// Reads up to a batch of rows not published yet, oldest first, and publishes them;
    /// the rows all of whose records went out join `published`.
    async fn publish_round(
        &self,
        published: &mut Published,
        stop: &CancellationToken,
    ) -> anyhow::Result<Round> {
        if !self.hold_lease().await? {
            return Ok(Round::Waiting);
        }
        let mut find = outbox::Entity::find();
        for ids in shapes::padded(&published.ids, DELETES) {
            find = find.filter(outbox::Column::Id.is_not_in(ids));
        }
        let rows = find
            .order_by_asc(outbox::Column::Id)
            .limit(self.settings.batch_size)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Round::Idle);
        }
        let drained = (rows.len() as u64) < self.settings.batch_size;
        // Each key's records one after another, in id order; different keys at once.
        let mut chains: Vec<Vec<Entry>> = Vec::new();
        let mut chain_of: HashMap<String, usize> = HashMap::new();
        let mut progress: HashMap<i64, RowProgress> = HashMap::new();
        for row in rows {
            let id = row.id;
            let (records, packed) = records_of(row)?;
            progress.insert(
                id,
                RowProgress {
                    packed,
                    records: records.len(),
                    published: Vec::new(),
                },
            );
            for (index, record) in records.into_iter().enumerate() {
                let next = chains.len();
                let chain = *chain_of.entry(record.key.clone()).or_insert(next);
                if chain == next {
                    chains.push(Vec::new());
                }
                chains[chain].push(Entry {
                    row: id,
                    index,
                    record,
                });
            }
        }
        let chains: Vec<anyhow::Result<Vec<(i64, usize)>>> = stream::iter(chains)
            .map(|chain| self.publish_chain(chain, stop))
            .buffer_unordered(PUBLISHING_KEYS)
            .collect()
            .await;
        let mut failure = None;
        for chain in chains {
            match chain {
                Ok(records) => {
                    for (row, index) in records {
                        if let Some(row) = progress.get_mut(&row) {
                            row.published.push(index);
                        }
                    }
                }
                Err(error) => failure = Some(error),
            }
        }
        let (sent, partly): (Vec<_>, Vec<_>) = progress
            .into_iter()
            .filter(|(_, row)| !row.published.is_empty())
            .partition(|(_, row)| row.published.len() == row.records);
        published.add(sent.into_iter().map(|(id, _)| id));
        // Of a packed row partly out, only what is left stays, so what went out does not
        // go out again.
        for (id, row) in partly {
            if let Some(payload) = row.packed {
                keep_unpublished(&self.db, id, &payload, &row.published).await?;
            }
        }
        match failure {
            Some(error) => Err(error),
            None if stop.is_cancelled() => Ok(Round::Idle),
            None => Ok(Round::Published { drained }),
        }
    }

    /// Publishes one key's records in order, each once the one before is accepted;
    /// returns the row and place of each record published, which stop short when
    /// stopped.
    async fn publish_chain(
        &self,
        chain: Vec<Entry>,
        stop: &CancellationToken,
    ) -> anyhow::Result<Vec<(i64, usize)>> {
        let mut published = Vec::with_capacity(chain.len());
        for Entry { row, index, record } in chain {
            let topic = record.topic;
            let record = Record::new(record.key, record.payload);
            if !self.publish(&topic, record, stop).await? {
                break;
            }
            published.push((row, index));
        }
        Ok(published)
    }

    /// Publishes until the bus accepts; false when stopped first. Keeps the lease while
    /// it waits, and gives up (an error) if the lease went to another relay.
    async fn publish(
        &self,
        topic: &str,
        record: Record,
        stop: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let mut backoff = self.settings.first_backoff;
        loop {
            match self.bus.publish(topic, record.clone()).await {
                Ok(()) => return Ok(true),
                Err(error) => {
                    tracing::warn!(%error, topic, key = record.key, "publishing an outbox record failed; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => return Ok(false),
            }
            backoff = (backoff * 2).min(self.settings.max_backoff);
            if !self.hold_lease().await? {
                anyhow::bail!("the outbox lease went to another relay");
            }
        }
    }

    /// Takes or renews the lease; true while this relay holds it. The row is written
    /// only once half the lease has passed.
    async fn hold_lease(&self) -> anyhow::Result<bool> {
        let now = now_ms();
        let ttl = i64::try_from(self.settings.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        if now
            < self
                .held_until_ms
                .load(Ordering::Relaxed)
                .saturating_sub(ttl / 2)
        {
            return Ok(true);
        }
        let taken = outbox_lease::Entity::update_many()
            .col_expr(
                outbox_lease::Column::Holder,
                Expr::value(self.holder.as_str()),
            )
            .col_expr(
                outbox_lease::Column::ExpiresAtMs,
                Expr::value(now.saturating_add(ttl)),
            )
            .filter(outbox_lease::Column::Name.eq(LEASE_NAME))
            .filter(
                Expr::col(outbox_lease::Column::Holder)
                    .eq(self.holder.as_str())
                    .or(Expr::col(outbox_lease::Column::ExpiresAtMs).lt(now)),
            )
            .exec(&self.db)
            .await;
        let held = match taken {
            Ok(taken) => taken.rows_affected > 0,
            Err(error) => {
                self.held_until_ms.store(0, Ordering::Relaxed);
                return Err(error.into());
            }
        };
        let until = if held { now.saturating_add(ttl) } else { 0 };
        self.held_until_ms.store(until, Ordering::Relaxed);
        Ok(held)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
