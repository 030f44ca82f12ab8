//! Reads outside transactions and the single-statement writes of the store port.

use super::{SqlBatch, SqlStore, SqlTx, messages};
use crate::domain::{ClientMsgId, ConversationId, Message, MessageId, UserId};
use crate::ports::{Direction, SeqRange, Store};
use async_trait::async_trait;
use im_runtime::db::is_lost_race;
use sea_orm::DbErr;
use std::collections::HashMap;

#[async_trait]
impl Store for SqlStore {
    type Tx = SqlTx;
    type Batch = SqlBatch;

    async fn begin(&self, conversation: &ConversationId) -> anyhow::Result<SqlTx> {
        self.begin_locked(conversation).await
    }

    async fn begin_batch(&self) -> anyhow::Result<SqlBatch> {
        self.begin_send_batch().await
    }

    fn is_transient(&self, error: &anyhow::Error) -> bool {
        error
            .chain()
            .any(|cause| cause.downcast_ref::<DbErr>().is_some_and(is_lost_race))
    }

    async fn message(&self, id: &MessageId) -> anyhow::Result<Option<Message>> {
        Ok(messages::message(&self.db, id).await?)
    }

    async fn message_by_client_id(
        &self,
        conversation: &ConversationId,
        sender: &UserId,
        client_msg_id: &ClientMsgId,
    ) -> anyhow::Result<Option<Message>> {
        Ok(messages::by_client_id(&self.db, conversation, sender, client_msg_id).await?)
    }

    async fn page(
        &self,
        conversation: &ConversationId,
        viewer: &UserId,
        range: SeqRange,
        direction: Direction,
        limit: u64,
    ) -> anyhow::Result<Vec<Message>> {
        Ok(messages::page(&self.db, conversation, viewer, range, direction, limit).await?)
    }

    async fn max_seqs(
        &self,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, u64>> {
        Ok(messages::max_seqs(&self.db, conversations).await?)
    }

    async fn read_seqs(
        &self,
        user: &UserId,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, u64>> {
        Ok(messages::read_seqs(&self.db, user, conversations).await?)
    }

    async fn hide(&self, user: &UserId, message: &Message, now_ms: i64) -> anyhow::Result<()> {
        Ok(messages::hide(&self.db, user, message, now_ms).await?)
    }
}
