//! One write transaction holding a conversation's lock.

use super::{SqlStore, messages};
use crate::adapters::events;
use crate::domain::{ConversationId, EventEnvelope, Message, MessageId, UserId};
use crate::ports::Transaction;
use async_trait::async_trait;
use im_runtime::db::begin_write;
use im_runtime::outbox;
use sea_orm::DatabaseTransaction;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct SqlTx {
    txn: DatabaseTransaction,
    conversation: ConversationId,
    /// Whether outbox records were queued, so the relay is woken after commit.
    enqueued: bool,
    outbox_wake: Arc<Notify>,
}

impl SqlStore {
    pub(super) async fn begin_locked(
        &self,
        conversation: &ConversationId,
    ) -> anyhow::Result<SqlTx> {
        let mut txn = begin_write(&self.db).await?;
        if !messages::lock(&txn, conversation).await? {
            // The conversation's first change: make its counter row outside this
            // transaction (rivals doing the same do not deadlock), then lock it.
            txn.rollback().await?;
            messages::ensure_counter(&self.db, conversation).await?;
            txn = begin_write(&self.db).await?;
            if !messages::lock(&txn, conversation).await? {
                anyhow::bail!("the seq counter of {conversation} vanished");
            }
        }
        Ok(SqlTx {
            txn,
            conversation: conversation.clone(),
            enqueued: false,
            outbox_wake: self.outbox_wake.clone(),
        })
    }
}

#[async_trait]
impl Transaction for SqlTx {
    async fn commit(self) -> anyhow::Result<()> {
        self.txn.commit().await?;
        if self.enqueued {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    async fn message(&mut self, id: &MessageId) -> anyhow::Result<Option<Message>> {
        Ok(messages::message(&self.txn, id).await?)
    }

    async fn update_message(&mut self, message: &Message) -> anyhow::Result<()> {
        Ok(messages::update(&self.txn, message).await?)
    }

    async fn read_seq(&mut self, user: &UserId) -> anyhow::Result<u64> {
        let conversations = std::slice::from_ref(&self.conversation);
        let seqs = messages::read_seqs(&self.txn, user, conversations).await?;
        Ok(seqs.get(&self.conversation).copied().unwrap_or(0))
    }

    async fn advance_read(&mut self, user: &UserId, seq: u64, now_ms: i64) -> anyhow::Result<()> {
        Ok(messages::advance_read(&self.txn, &self.conversation, user, seq, now_ms).await?)
    }

    async fn enqueue(&mut self, event: &EventEnvelope) -> anyhow::Result<()> {
        outbox::enqueue(
            &self.txn,
            events::outbox_record(event),
            event.occurred_at_ms,
        )
        .await?;
        self.enqueued = true;
        Ok(())
    }
}
