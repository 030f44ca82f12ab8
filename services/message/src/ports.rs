//! What the use cases need from the outside world: a store that runs each change of a
//! conversation in one transaction holding that conversation's lock (so seqs are taken
//! and committed in order), the membership of conversations (the conversation service
//! decides who may send where), and the clock.

use crate::domain::{
    ClientMsgId, ConversationId, EventEnvelope, Message, MessageId, SendCheck, UserId,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

/// A write the store refused because a unique value already exists.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same unique value exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Which end of a conversation's history a page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first, from just after the lower bound.
    Forward,
    /// Newest first, from just before the upper bound.
    Backward,
}

/// Seqs strictly between two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqRange {
    pub after: u64,
    /// `None`: no upper bound.
    pub before: Option<u64>,
}

/// Changes of one conversation, in one transaction holding its lock; rolled back when
/// dropped without commit.
#[async_trait]
pub trait Transaction: Send {
    async fn commit(self) -> anyhow::Result<()>;

    async fn message(&mut self, id: &MessageId) -> anyhow::Result<Option<Message>>;
    /// Saves body, mentions, edit time and recall of an existing message.
    async fn update_message(&mut self, message: &Message) -> anyhow::Result<()>;
    /// The user's read cursor in the conversation (0 when none).
    async fn read_seq(&mut self, user: &UserId) -> anyhow::Result<u64>;
    /// Moves the user's read cursor to `seq` if it is behind.
    async fn advance_read(&mut self, user: &UserId, seq: u64, now_ms: i64) -> anyhow::Result<()>;
    /// Queues an event for the bus; published by the outbox relay after commit.
    async fn enqueue(&mut self, event: &EventEnvelope) -> anyhow::Result<()>;
}

/// What makes a send idempotent: one sender's client message id in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: ClientMsgId,
}

/// A read cursor to move forward (never back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAdvance {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub seq: u64,
    pub at_ms: i64,
}

/// New messages of several conversations stored together, in one transaction; rolled
/// back when dropped without commit. Each method is one round trip however many
/// messages it carries.
#[async_trait]
pub trait SendBatch: Send {
    async fn commit(self) -> anyhow::Result<()>;

    /// Takes the locks of the conversations named (distinct, in ascending order, so
    /// that batches sharing conversations queue behind each other instead of
    /// deadlocking), making the counters of new ones, and takes `count` seqs in each.
    /// Returns the first seq of each conversation's run (1 for its first message); a
    /// count of 0 only takes the lock.
    async fn take_seqs(
        &mut self,
        counts: &[(ConversationId, u64)],
    ) -> anyhow::Result<HashMap<ConversationId, u64>>;
    /// Those of `keys` that are stored already, as their messages.
    async fn stored(&mut self, keys: &[ClientKey]) -> anyhow::Result<Vec<Message>>;
    /// Fails with [`StoreError::Duplicate`] when a seq or a client key is taken.
    async fn insert_messages(&mut self, messages: &[Message]) -> Result<(), StoreError>;
    /// Moves each cursor forward to its seq, leaving those already past it.
    async fn advance_reads(&mut self, cursors: &[ReadAdvance]) -> anyhow::Result<()>;
    /// Queues events for the bus, in this order; published by the outbox relay after
    /// commit.
    async fn enqueue(&mut self, events: &[EventEnvelope]) -> anyhow::Result<()>;
}

/// Everything the message service stores.
#[async_trait]
pub trait Store: Send + Sync {
    type Tx: Transaction + 'static;
    type Batch: SendBatch + 'static;

    /// Starts a transaction holding `conversation`'s lock.
    async fn begin(&self, conversation: &ConversationId) -> anyhow::Result<Self::Tx>;
    /// Starts a transaction for a batch of sends; it takes its locks with
    /// [`SendBatch::take_seqs`].
    async fn begin_batch(&self) -> anyhow::Result<Self::Batch>;

    /// Whether `error` is a lost race (deadlock, lock timeout, busy database) that the same
    /// transaction, retried, may not meet again.
    fn is_transient(&self, error: &anyhow::Error) -> bool;

    async fn message(&self, id: &MessageId) -> anyhow::Result<Option<Message>>;
    async fn message_by_client_id(
        &self,
        conversation: &ConversationId,
        sender: &UserId,
        client_msg_id: &ClientMsgId,
    ) -> anyhow::Result<Option<Message>>;
    /// Up to `limit` messages of `range` that `viewer` has not hidden, from the end
    /// `direction` names, in that direction's order.
    async fn page(
        &self,
        conversation: &ConversationId,
        viewer: &UserId,
        range: SeqRange,
        direction: Direction,
        limit: u64,
    ) -> anyhow::Result<Vec<Message>>;
    /// The newest seq of each conversation that has messages.
    async fn max_seqs(
        &self,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, u64>>;
    /// The user's read cursor in each conversation that has one.
    async fn read_seqs(
        &self,
        user: &UserId,
        conversations: &[ConversationId],
    ) -> anyhow::Result<HashMap<ConversationId, u64>>;
    /// Hides `message` from `user`'s history (idempotent).
    async fn hide(&self, user: &UserId, message: &Message, now_ms: i64) -> anyhow::Result<()>;
}

/// Why the conversation service gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// Unreachable, too slow or overloaded: the caller may retry later.
    #[error("the conversation service is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Who may send where, as the conversation service says.
#[async_trait]
pub trait Membership: Send + Sync {
    /// `user`'s membership, role, mute and block state in `conversation`; an unknown or
    /// dissolved conversation answers "not a member".
    async fn check_send(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Result<SendCheck, MembershipError>;

    /// The conversations `user` is a member of, most recently active first, at most
    /// `limit` of them.
    async fn conversations_of(
        &self,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<ConversationId>, MembershipError>;
}

#[async_trait]
impl<T: Membership + ?Sized> Membership for Arc<T> {
    async fn check_send(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Result<SendCheck, MembershipError> {
        (**self).check_send(conversation, user).await
    }

    async fn conversations_of(
        &self,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<ConversationId>, MembershipError> {
        (**self).conversations_of(user, limit).await
    }
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

/// The adapters one [`crate::app::App`] runs on.
pub trait Ports: Send + Sync + 'static {
    type Store: Store + 'static;
    type Membership: Membership + 'static;
    type Clock: Clock + 'static;
}
