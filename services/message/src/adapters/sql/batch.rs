//! One write transaction storing new messages of several conversations at once (the
//! group commit of sends): every statement carries the whole batch.

use super::{SqlStore, insert_error, messages};
use crate::adapters::events;
use crate::domain::{ConversationId, EventEnvelope, Message};
use crate::ports::{ClientKey, ReadAdvance, SendBatch, StoreError};
use async_trait::async_trait;
use im_runtime::db::begin_write;
use im_runtime::outbox;
use sea_orm::DatabaseTransaction;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct SqlBatch {
    txn: DatabaseTransaction,
    /// Whether outbox records were queued, so the relay is woken after commit.
    enqueued: bool,
    outbox_wake: Arc<Notify>,
}

impl SqlStore {
    pub(super) async fn begin_send_batch(&self) -> anyhow::Result<SqlBatch> {
        let txn = begin_write(&self.db).await?;
        Ok(SqlBatch {
            txn,
            enqueued: false,
            outbox_wake: self.outbox_wake.clone(),
        })
    }
}

#[async_trait]
impl SendBatch for SqlBatch {
    async fn commit(self) -> anyhow::Result<()> {
        self.txn.commit().await?;
        if self.enqueued {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    async fn take_seqs(
        &mut self,
        counts: &[(ConversationId, u64)],
    ) -> anyhow::Result<HashMap<ConversationId, u64>> {
        debug_assert!(
            counts.is_sorted_by(|a, b| a.0 < b.0),
            "locks are taken in one order"
        );
        let current = messages::add_to_max_seqs(&self.txn, counts).await?;
        counts
            .iter()
            .map(|(conversation, count)| {
                let max = current
                    .get(conversation)
                    .ok_or_else(|| anyhow::anyhow!("the seq counter of {conversation} vanished"))?;
                // A counter below what this batch just added to it would hand out seqs
                // already taken: fail the batch rather than wrap around.
                let first = (max + 1).checked_sub(*count).filter(|first| *first >= 1);
                let first = first.ok_or_else(|| {
                    anyhow::anyhow!(
                        "the seq counter of {conversation} reads {max} after adding {count}"
                    )
                })?;
                Ok((conversation.clone(), first))
            })
            .collect()
    }

    async fn stored(&mut self, keys: &[ClientKey]) -> anyhow::Result<Vec<Message>> {
        Ok(messages::by_client_ids(&self.txn, keys).await?)
    }

    async fn insert_messages(&mut self, messages: &[Message]) -> Result<(), StoreError> {
        messages::insert_many(&self.txn, messages)
            .await
            .map_err(insert_error)
    }

    async fn advance_reads(&mut self, cursors: &[ReadAdvance]) -> anyhow::Result<()> {
        Ok(messages::advance_reads(&self.txn, cursors).await?)
    }

    async fn enqueue(&mut self, events: &[EventEnvelope]) -> anyhow::Result<()> {
        let records = events
            .iter()
            .map(|event| (events::outbox_record(event), event.occurred_at_ms));
        outbox::enqueue_many(&self.txn, records).await?;
        self.enqueued |= !events.is_empty();
        Ok(())
    }
}
