//! The use cases of the conversation service, one method each, generic over the
//! [`Ports`] they run on. Each change runs in one transaction holding the lock of what
//! it changes (a pair of users or a conversation), decides with the domain's rules on
//! what it read under that lock, and commits the change together with its membership
//! log records and outbox events. A transaction that lost a race is retried.
//!
//! Split by concern: contacts (friend requests, contacts, blocks), direct conversations,
//! groups (lifecycle and settings), members, join requests, queries (lists and the send
//! check), message activity, and the membership feed.

mod activity;
mod contacts;
mod direct;
mod groups;
mod joins;
mod members;
mod membership;
mod queries;
mod send_facts;
mod version_reads;

pub use activity::MessageActivity;
pub use groups::{ConversationChanges, NewGroup};
pub use joins::JoinOutcome;

pub use im_runtime::paging::{PageRequest, Paged};
pub use queries::{ConversationView, SendCheck};

use crate::domain::{
    Conversation, ConversationEvent, ConversationId, EventEnvelope, Member, MembershipRecord,
    Refusal, UserId, ValidationError,
};
use crate::ports::{Clock, Ports, Store, Transaction};
use crate::settings::Settings;
use std::time::Duration;
use tokio::sync::Notify;

/// Why a use case refused. Mapped once to gRPC status codes by the gRPC adapter.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no such conversation")]
    ConversationNotFound,
    #[error("no such member in this conversation")]
    MemberNotFound,
    #[error("no such friend request")]
    FriendRequestNotFound,
    #[error("no such join request")]
    JoinRequestNotFound,
    #[error("no such contact")]
    ContactNotFound,
    #[error("this user is not blocked")]
    BlockNotFound,
    #[error("the page cursor is not valid")]
    InvalidCursor,
    /// A transaction kept losing races; the caller may retry.
    #[error("too many concurrent changes; try again")]
    Contention,
    /// A transaction lost a race it can detect (a unique key taken meanwhile): retried.
    #[error("lost a race")]
    Raced,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A cursor no page of ours handed out is the client's mistake (400 `invalid_cursor`).
impl From<im_runtime::paging::InvalidCursor> for AppError {
    fn from(_: im_runtime::paging::InvalidCursor) -> Self {
        Self::InvalidCursor
    }
}

impl From<crate::ports::StoreError> for AppError {
    fn from(error: crate::ports::StoreError) -> Self {
        match error {
            crate::ports::StoreError::Duplicate => Self::Raced,
            crate::ports::StoreError::Other(error) => Self::Unexpected(error),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Attempts of one transaction that keeps losing races.
const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The conversation service's use cases over one set of adapters.
pub struct App<P: Ports> {
    store: P::Store,
    clock: P::Clock,
    settings: Settings,
    /// Woken after each commit that appended to the membership log.
    membership_changed: Notify,
    send_facts: send_facts::SendFactsCache,
    /// Concurrent send checks share their read of the membership version.
    version_reads: version_reads::SharedReads,
}

impl<P: Ports> App<P> {
    pub fn new(store: P::Store, clock: P::Clock, settings: Settings) -> Self {
        Self {
            store,
            clock,
            settings,
            membership_changed: Notify::new(),
            send_facts: send_facts::SendFactsCache::default(),
            version_reads: version_reads::SharedReads::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Runs `attempt` until it does not lose a race, a few times at most.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> AppResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let mut backoff = FIRST_BACKOFF;
        for tries in 1..=ATTEMPTS {
            let lost = match attempt().await {
                Err(AppError::Raced) => "a unique key was taken meanwhile".to_owned(),
                Err(AppError::Unexpected(error)) if self.store.is_transient(&error) => {
                    format!("{error:#}")
                }
                other => return other,
            };
            tracing::debug!(tries, lost, "transaction lost a race; retrying");
            if tries < ATTEMPTS {
                tokio::time::sleep(jittered(backoff)).await;
                backoff *= 2;
            }
        }
        Err(AppError::Contention)
    }

    /// Logs `records` (taking the next membership versions), queues `events` stamped with
    /// the last version, commits, and wakes membership watchers. Returns that version (0
    /// when nothing was logged).
    async fn commit(
        &self,
        mut tx: <P::Store as Store>::Tx,
        actor: &UserId,
        now_ms: i64,
        records: &[MembershipRecord],
        events: Vec<ConversationEvent>,
    ) -> AppResult<u64> {
        let version = if records.is_empty() {
            0
        } else {
            tx.log_membership(records).await?
        };
        for event in events {
            tx.enqueue(&EventEnvelope {
                event,
                actor_id: actor.clone(),
                occurred_at_ms: now_ms,
                membership_version: version,
            })
            .await?;
        }
        tx.commit().await?;
        if version > 0 {
            self.membership_changed.notify_waiters();
        }
        Ok(version)
    }

    /// The live conversation `id` and `actor`'s membership, read under the transaction's
    /// lock; a dissolved group or a non-member actor is "not found" (existence never
    /// leaks to outsiders).
    async fn member_view(
        tx: &mut <P::Store as Store>::Tx,
        id: &ConversationId,
        actor: &UserId,
    ) -> AppResult<(Conversation, Member)> {
        let conversation = live(tx.conversation(id).await?)?;
        let member = tx
            .member(id, actor)
            .await?
            .ok_or(AppError::ConversationNotFound)?;
        Ok((conversation, member))
    }

    /// The member limit as a count.
    fn member_limit(&self) -> u64 {
        u64::from(self.settings.member_limit)
    }

    /// Refuses when `count` members exceed the limit.
    fn within_limit(&self, count: u64) -> AppResult<()> {
        if count > self.member_limit() {
            Err(Refusal::MemberLimit {
                limit: self.settings.member_limit,
            }
            .into())
        } else {
            Ok(())
        }
    }
}

/// A conversation that exists and is not dissolved.
fn live(conversation: Option<Conversation>) -> AppResult<Conversation> {
    conversation
        .filter(|c| !c.is_dissolved())
        .ok_or(AppError::ConversationNotFound)
}

/// Parses a list of user ids, at most `max`, dropping repeats but keeping order.
fn user_ids(ids: &[String], max: usize) -> AppResult<Vec<UserId>> {
    if ids.len() > max {
        return Err(ValidationError::TooManyUsers { max }.into());
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        let id = UserId::parse(id)?;
        if seen.insert(id.clone()) {
            parsed.push(id);
        }
    }
    Ok(parsed)
}

/// `base` plus up to half of it at random, so retrying rivals drift apart.
fn jittered(base: Duration) -> Duration {
    let spread = u64::try_from(base.as_micros() / 2).unwrap_or(0).max(1);
    let random = (uuid::Uuid::new_v4().as_u128() % u128::from(spread)) as u64;
    base + Duration::from_micros(random)
}
