//! What the use cases need from the outside world: a store that runs each change in one
//! transaction under a lock (so concurrent changes to one pair or one conversation
//! serialize), queries outside transactions, and the clock. The store also keeps the
//! membership log and the outbox, written in the same transaction as the change.
//!
//! Deciding whether a target user exists is the gateway's business for now; a
//! `UserDirectory` port would sit here when this service starts asking identity.

use crate::domain::{
    Activity, BlockedUser, Blocks, Contact, Conversation, ConversationId, EventEnvelope,
    FriendRequest, JoinRequest, Member, MembershipEntry, MembershipRecord, RequestDirection,
    RequestId, UserId, UserPair,
};
use async_trait::async_trait;
use std::collections::HashMap;

/// A write the store refused because a unique value already exists.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same unique value exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What a transaction holds exclusively until it ends.
#[derive(Debug, Clone, Copy)]
pub enum Lock<'a> {
    /// The relation of two users: requests, contacts, blocks, their direct conversation.
    Pair(&'a UserPair),
    /// One conversation: its settings, members and join requests.
    Conversation(&'a ConversationId),
    /// Nothing existing (a new group).
    Nothing,
}

/// One page of the membership log.
#[derive(Debug, Clone, Default)]
pub struct MembershipLogPage {
    /// Entries after the asked version, in version order.
    pub entries: Vec<MembershipEntry>,
    /// Versions up to this one are no longer retained; read after the entries.
    pub pruned_through: u64,
    /// The newest version.
    pub current: u64,
}

/// One conversation of a user's list with the user's membership.
#[derive(Debug, Clone)]
pub struct UserConversation {
    pub conversation: Conversation,
    pub member: Member,
}

/// Changes, each in one transaction; rolled back when dropped without commit.
#[async_trait]
pub trait Transaction: Send {
    async fn commit(self) -> anyhow::Result<()>;

    // Friend requests, contacts and blocks (under a pair lock).
    async fn friend_request(&mut self, id: &RequestId) -> anyhow::Result<Option<FriendRequest>>;
    async fn pending_request(
        &mut self,
        from: &UserId,
        to: &UserId,
    ) -> anyhow::Result<Option<FriendRequest>>;
    async fn insert_request(&mut self, request: &FriendRequest) -> anyhow::Result<()>;
    /// Saves message, status and times of an existing request.
    async fn update_request(&mut self, request: &FriendRequest) -> anyhow::Result<()>;
    /// Cancels every pending request between the pair; returns them as cancelled.
    async fn cancel_pending_requests(
        &mut self,
        pair: &UserPair,
        now_ms: i64,
    ) -> anyhow::Result<Vec<FriendRequest>>;
    async fn are_contacts(&mut self, pair: &UserPair) -> anyhow::Result<bool>;
    /// Both sides of the relation, with empty remarks.
    async fn add_contacts(&mut self, pair: &UserPair, now_ms: i64) -> anyhow::Result<()>;
    /// Removes both sides; returns whether there was a relation.
    async fn remove_contacts(&mut self, pair: &UserPair) -> anyhow::Result<bool>;
    async fn blocks(&mut self, a: &UserId, b: &UserId) -> anyhow::Result<Blocks>;
    /// Stores the block; returns the existing one instead when there was one.
    async fn add_block(&mut self, block: &BlockedUser) -> anyhow::Result<Option<BlockedUser>>;
    /// Returns whether there was a block.
    async fn remove_block(&mut self, user: &UserId, blocked: &UserId) -> anyhow::Result<bool>;
    async fn direct_conversation(
        &mut self,
        pair: &UserPair,
    ) -> anyhow::Result<Option<Conversation>>;

    // Conversations, members and join requests (under a conversation lock).
    async fn conversation(&mut self, id: &ConversationId) -> anyhow::Result<Option<Conversation>>;
    /// Fails with [`StoreError::Duplicate`] when the pair has a direct conversation.
    async fn insert_conversation(&mut self, conversation: &Conversation) -> Result<(), StoreError>;
    /// Saves name, avatar, announcement, settings, owner and dissolution.
    async fn update_conversation(&mut self, conversation: &Conversation) -> anyhow::Result<()>;
    async fn member(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<Member>>;
    /// Which of `users` are members already.
    async fn members_among(
        &mut self,
        conversation: &ConversationId,
        users: &[UserId],
    ) -> anyhow::Result<Vec<UserId>>;
    async fn member_count(&mut self, conversation: &ConversationId) -> anyhow::Result<u64>;
    async fn member_ids(&mut self, conversation: &ConversationId) -> anyhow::Result<Vec<UserId>>;
    async fn insert_members(
        &mut self,
        conversation: &ConversationId,
        members: &[Member],
    ) -> anyhow::Result<()>;
    /// Saves role and mute.
    async fn update_member(
        &mut self,
        conversation: &ConversationId,
        member: &Member,
    ) -> anyhow::Result<()>;
    async fn remove_member(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<bool>;
    async fn remove_all_members(&mut self, conversation: &ConversationId) -> anyhow::Result<()>;
    async fn join_request(&mut self, id: &RequestId) -> anyhow::Result<Option<JoinRequest>>;
    async fn pending_join_request(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<JoinRequest>>;
    async fn insert_join_request(&mut self, request: &JoinRequest) -> anyhow::Result<()>;
    async fn update_join_request(&mut self, request: &JoinRequest) -> anyhow::Result<()>;

    // What the change tells the world, committed with it.
    /// Appends `records` to the membership log with the next versions (taken under the
    /// log's own lock, so versions are gapless and committed in order); returns the last
    /// version. Called last, to hold that lock briefly.
    async fn log_membership(&mut self, records: &[MembershipRecord]) -> anyhow::Result<u64>;
    /// Queues an event for the bus; published by the outbox relay after commit.
    async fn enqueue(&mut self, event: &EventEnvelope) -> anyhow::Result<()>;

    // The message activity projection: idempotent, forward-only writes.
    /// The activity of those of `conversations` that exist.
    async fn activities(
        &mut self,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, Activity>>;
    /// Replaces each activity that is still at its expected revision; returns whether
    /// all were. One change per conversation.
    async fn replace_activities(&mut self, changes: &[ActivityChange]) -> anyhow::Result<bool>;
    /// Moves each member's read cursor to its seq where it is behind; cursors of
    /// non-members are left alone.
    async fn advance_reads(&mut self, reads: &[ReadAdvance]) -> anyhow::Result<()>;
}

/// A conversation's activity to replace, if still at `expected_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityChange {
    pub conversation: ConversationId,
    pub expected_revision: i64,
    pub next: Activity,
}

/// A member's read cursor, to move forward to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAdvance {
    pub conversation: ConversationId,
    pub user: String,
    pub seq: u64,
}

/// Everything the conversation service stores.
#[async_trait]
pub trait Store: Send + Sync {
    type Tx: Transaction + 'static;

    /// Starts a transaction holding `lock`.
    async fn begin(&self, lock: Lock<'_>) -> anyhow::Result<Self::Tx>;

    /// Whether `error` is a lost race (deadlock, lock timeout, busy database) that the same
    /// transaction, retried, may not meet again.
    fn is_transient(&self, error: &anyhow::Error) -> bool;

    // Contacts.
    async fn friend_request(&self, id: &RequestId) -> anyhow::Result<Option<FriendRequest>>;
    /// Pending requests, newest first, ids before `before`.
    async fn pending_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        before: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<FriendRequest>>;
    async fn contact(&self, user: &UserId, contact: &UserId) -> anyhow::Result<Option<Contact>>;
    /// By contact id after `after`.
    async fn contacts(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<Contact>>;
    /// Returns false when there is no such contact.
    async fn set_remark(
        &self,
        user: &UserId,
        contact: &UserId,
        remark: &str,
    ) -> anyhow::Result<bool>;
    /// By blocked user id after `after`.
    async fn blocked_users(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<BlockedUser>>;
    async fn blocks(&self, a: &UserId, b: &UserId) -> anyhow::Result<Blocks>;

    // Conversations.
    async fn conversation(&self, id: &ConversationId) -> anyhow::Result<Option<Conversation>>;
    async fn member(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> anyhow::Result<Option<Member>>;
    async fn member_count(&self, conversation: &ConversationId) -> anyhow::Result<u64>;
    /// By user id after `after`.
    async fn members(
        &self,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<Member>>;
    /// The user's live conversations, newest activity first, after the keyset
    /// `(last_activity_ms, id)` in that order.
    async fn user_conversations(
        &self,
        user: &UserId,
        after: Option<(i64, &str)>,
        limit: u64,
    ) -> anyhow::Result<Vec<UserConversation>>;
    async fn join_request(&self, id: &RequestId) -> anyhow::Result<Option<JoinRequest>>;
    /// Pending, oldest first, ids after `after`.
    async fn pending_join_requests(
        &self,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<JoinRequest>>;

    // The membership log.
    async fn membership_version(&self) -> anyhow::Result<u64>;
    async fn membership_log(&self, after: u64, limit: u64) -> anyhow::Result<MembershipLogPage>;
    /// Drops all but the newest `keep` entries; returns the new `pruned_through`.
    async fn prune_membership_log(&self, keep: u64) -> anyhow::Result<u64>;
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The adapters one [`crate::app::App`] runs on.
pub trait Ports: Send + Sync + 'static {
    type Store: Store + 'static;
    type Clock: Clock + 'static;
}
