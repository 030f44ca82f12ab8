//! One write transaction holding its lock.

use super::entities::user_pair;
use super::{SqlStore, activity, contacts, conversations, insert_error, membership};
use crate::adapters::events;
use crate::domain::{
    Activity, BlockedUser, Blocks, Conversation, ConversationId, EventEnvelope, FriendRequest,
    JoinRequest, Member, MembershipRecord, RequestId, UserId, UserPair,
};
use crate::ports::{ActivityChange, Lock, ReadAdvance, StoreError, Transaction};
use async_trait::async_trait;
use im_runtime::db::begin_write;
use im_runtime::outbox;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct SqlTx {
    txn: DatabaseTransaction,
    /// Whether outbox records were queued, so the relay is woken after commit.
    enqueued: bool,
    outbox_wake: Arc<Notify>,
}

impl SqlStore {
    pub(super) async fn begin_locked(&self, lock: Lock<'_>) -> anyhow::Result<SqlTx> {
        let txn = match lock {
            Lock::Nothing => begin_write(&self.db).await?,
            Lock::Conversation(id) => {
                let txn = begin_write(&self.db).await?;
                // A missing conversation locks nothing; the use case then finds none.
                conversations::lock(&txn, id).await?;
                txn
            }
            Lock::Pair(pair) => {
                let txn = begin_write(&self.db).await?;
                if lock_pair(&txn, pair).await? {
                    txn
                } else {
                    // First contact between the two: make their row outside this
                    // transaction (rivals doing the same do not deadlock), then lock it.
                    txn.rollback().await?;
                    ensure_pair(&self.db, pair).await?;
                    let txn = begin_write(&self.db).await?;
                    if !lock_pair(&txn, pair).await? {
                        anyhow::bail!("the pair row vanished");
                    }
                    txn
                }
            }
        };
        Ok(SqlTx {
            txn,
            enqueued: false,
            outbox_wake: self.outbox_wake.clone(),
        })
    }
}

async fn lock_pair(db: &DatabaseTransaction, pair: &UserPair) -> Result<bool, DbErr> {
    let locked = user_pair::Entity::update_many()
        .col_expr(
            user_pair::Column::Revision,
            Expr::col(user_pair::Column::Revision).add(1),
        )
        .filter(user_pair::Column::UserLow.eq(pair.low().as_str()))
        .filter(user_pair::Column::UserHigh.eq(pair.high().as_str()))
        .exec(db)
        .await?;
    Ok(locked.rows_affected > 0)
}

async fn ensure_pair(db: &impl sea_orm::ConnectionTrait, pair: &UserPair) -> Result<(), DbErr> {
    let row = user_pair::ActiveModel {
        user_low: Set(pair.low().as_str().to_owned()),
        user_high: Set(pair.high().as_str().to_owned()),
        revision: Set(0),
    };
    user_pair::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
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

    async fn friend_request(&mut self, id: &RequestId) -> anyhow::Result<Option<FriendRequest>> {
        Ok(contacts::friend_request(&self.txn, id).await?)
    }

    async fn pending_request(
        &mut self,
        from: &UserId,
        to: &UserId,
    ) -> anyhow::Result<Option<FriendRequest>> {
        Ok(contacts::pending_request(&self.txn, from, to).await?)
    }

    async fn insert_request(&mut self, request: &FriendRequest) -> anyhow::Result<()> {
        Ok(contacts::insert_request(&self.txn, request).await?)
    }

    async fn update_request(&mut self, request: &FriendRequest) -> anyhow::Result<()> {
        Ok(contacts::update_request(&self.txn, request).await?)
    }

    async fn cancel_pending_requests(
        &mut self,
        pair: &UserPair,
        now_ms: i64,
    ) -> anyhow::Result<Vec<FriendRequest>> {
        Ok(contacts::cancel_pending(&self.txn, pair, now_ms).await?)
    }

    async fn are_contacts(&mut self, pair: &UserPair) -> anyhow::Result<bool> {
        Ok(contacts::are_contacts(&self.txn, pair).await?)
    }

    async fn add_contacts(&mut self, pair: &UserPair, now_ms: i64) -> anyhow::Result<()> {
        Ok(contacts::add_contacts(&self.txn, pair, now_ms).await?)
    }

    async fn remove_contacts(&mut self, pair: &UserPair) -> anyhow::Result<bool> {
        Ok(contacts::remove_contacts(&self.txn, pair).await?)
    }

    async fn blocks(&mut self, a: &UserId, b: &UserId) -> anyhow::Result<Blocks> {
        Ok(contacts::blocks(&self.txn, a, b).await?)
    }

    async fn add_block(&mut self, block: &BlockedUser) -> anyhow::Result<Option<BlockedUser>> {
        Ok(contacts::add_block(&self.txn, block).await?)
    }

    async fn remove_block(&mut self, user: &UserId, blocked: &UserId) -> anyhow::Result<bool> {
        Ok(contacts::remove_block(&self.txn, user, blocked).await?)
    }

    async fn direct_conversation(
        &mut self,
        pair: &UserPair,
    ) -> anyhow::Result<Option<Conversation>> {
        Ok(conversations::direct_conversation(&self.txn, pair).await?)
    }

    async fn conversation(&mut self, id: &ConversationId) -> anyhow::Result<Option<Conversation>> {
        Ok(conversations::conversation(&self.txn, id).await?)
    }

    async fn insert_conversation(&mut self, conversation: &Conversation) -> Result<(), StoreError> {
        conversations::insert_conversation(&self.txn, conversation)
            .await
            .map_err(insert_error)
    }

    async fn update_conversation(&mut self, conversation: &Conversation) -> anyhow::Result<()> {
        Ok(conversations::update_conversation(&self.txn, conversation).await?)
    }

    async fn member(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<Member>> {
        Ok(conversations::member(&self.txn, conversation, user).await?)
    }

    async fn members_among(
        &mut self,
        conversation: &ConversationId,
        users: &[UserId],
    ) -> anyhow::Result<Vec<UserId>> {
        Ok(conversations::members_among(&self.txn, conversation, users).await?)
    }

    async fn member_count(&mut self, conversation: &ConversationId) -> anyhow::Result<u64> {
        Ok(conversations::member_count(&self.txn, conversation).await?)
    }

    async fn member_ids(&mut self, conversation: &ConversationId) -> anyhow::Result<Vec<UserId>> {
        Ok(conversations::member_ids(&self.txn, conversation).await?)
    }

    async fn insert_members(
        &mut self,
        conversation: &ConversationId,
        members: &[Member],
    ) -> anyhow::Result<()> {
        Ok(conversations::insert_members(&self.txn, conversation, members).await?)
    }

    async fn update_member(
        &mut self,
        conversation: &ConversationId,
        member: &Member,
    ) -> anyhow::Result<()> {
        Ok(conversations::update_member(&self.txn, conversation, member).await?)
    }

    async fn remove_member(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<bool> {
        Ok(conversations::remove_member(&self.txn, conversation, user).await?)
    }

    async fn remove_all_members(&mut self, conversation: &ConversationId) -> anyhow::Result<()> {
        Ok(conversations::remove_all_members(&self.txn, conversation).await?)
    }

    async fn join_request(&mut self, id: &RequestId) -> anyhow::Result<Option<JoinRequest>> {
        Ok(conversations::join_request(&self.txn, id).await?)
    }

    async fn pending_join_request(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<JoinRequest>> {
        Ok(conversations::pending_join_request(&self.txn, conversation, user).await?)
    }

    async fn insert_join_request(&mut self, request: &JoinRequest) -> anyhow::Result<()> {
        Ok(conversations::insert_join_request(&self.txn, request).await?)
    }

    async fn update_join_request(&mut self, request: &JoinRequest) -> anyhow::Result<()> {
        Ok(conversations::update_join_request(&self.txn, request).await?)
    }

    async fn log_membership(&mut self, records: &[MembershipRecord]) -> anyhow::Result<u64> {
        Ok(membership::append(&self.txn, records).await?)
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

    async fn activities(
        &mut self,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, Activity>> {
        Ok(activity::activities(&self.txn, conversations).await?)
    }

    async fn replace_activities(&mut self, changes: &[ActivityChange]) -> anyhow::Result<bool> {
        let replaced = activity::replace_activities(&self.txn, changes).await?;
        Ok(replaced == changes.len() as u64)
    }

    async fn advance_reads(&mut self, reads: &[ReadAdvance]) -> anyhow::Result<()> {
        Ok(activity::advance_reads(&self.txn, reads).await?)
    }
}
