//! Reads outside transactions and the single-statement writes of the store port.

use super::{SqlStore, SqlTx, contacts, conversations, membership};
use crate::domain::{
    BlockedUser, Blocks, Contact, Conversation, ConversationId, FriendRequest, JoinRequest, Member,
    RequestDirection, RequestId, UserId,
};
use crate::ports::{Lock, MembershipLogPage, Store, UserConversation};
use async_trait::async_trait;
use im_runtime::db::is_lost_race;
use sea_orm::DbErr;

#[async_trait]
impl Store for SqlStore {
    type Tx = SqlTx;

    async fn begin(&self, lock: Lock<'_>) -> anyhow::Result<SqlTx> {
        self.begin_locked(lock).await
    }

    fn is_transient(&self, error: &anyhow::Error) -> bool {
        error
            .chain()
            .any(|cause| cause.downcast_ref::<DbErr>().is_some_and(is_lost_race))
    }

    async fn friend_request(&self, id: &RequestId) -> anyhow::Result<Option<FriendRequest>> {
        Ok(contacts::friend_request(&self.db, id).await?)
    }

    async fn pending_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        before: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<FriendRequest>> {
        Ok(contacts::pending_requests(&self.db, user, direction, before, limit).await?)
    }

    async fn contact(&self, user: &UserId, contact: &UserId) -> anyhow::Result<Option<Contact>> {
        Ok(contacts::contact(&self.db, user, contact).await?)
    }

    async fn contacts(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<Contact>> {
        Ok(contacts::contacts(&self.db, user, after, limit).await?)
    }

    async fn set_remark(
        &self,
        user: &UserId,
        contact: &UserId,
        remark: &str,
    ) -> anyhow::Result<bool> {
        Ok(contacts::set_remark(&self.db, user, contact, remark).await?)
    }

    async fn blocked_users(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<BlockedUser>> {
        Ok(contacts::blocked_users(&self.db, user, after, limit).await?)
    }

    async fn blocks(&self, a: &UserId, b: &UserId) -> anyhow::Result<Blocks> {
        Ok(contacts::blocks(&self.db, a, b).await?)
    }

    async fn conversation(&self, id: &ConversationId) -> anyhow::Result<Option<Conversation>> {
        Ok(conversations::conversation(&self.db, id).await?)
    }

    async fn member(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<Member>> {
        Ok(conversations::member(&self.db, conversation, user).await?)
    }

    async fn member_count(&self, conversation: &ConversationId) -> anyhow::Result<u64> {
        Ok(conversations::member_count(&self.db, conversation).await?)
    }

    async fn members(
        &self,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<Member>> {
        Ok(conversations::members(&self.db, conversation, after, limit).await?)
    }

    async fn user_conversations(
        &self,
        user: &UserId,
        after: Option<(i64, &str)>,
        limit: u64,
    ) -> anyhow::Result<Vec<UserConversation>> {
        Ok(conversations::user_conversations(&self.db, user, after, limit).await?)
    }

    async fn join_request(&self, id: &RequestId) -> anyhow::Result<Option<JoinRequest>> {
        Ok(conversations::join_request(&self.db, id).await?)
    }

    async fn pending_join_requests(
        &self,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<JoinRequest>> {
        Ok(conversations::pending_join_requests(&self.db, conversation, after, limit).await?)
    }

    async fn membership_version(&self) -> anyhow::Result<u64> {
        Ok(membership::version(&self.db).await?)
    }

    async fn membership_log(&self, after: u64, limit: u64) -> anyhow::Result<MembershipLogPage> {
        Ok(membership::page(&self.db, after, limit).await?)
    }

    async fn prune_membership_log(&self, keep: u64) -> anyhow::Result<u64> {
        Ok(membership::prune(&self.db, keep).await?)
    }
}
