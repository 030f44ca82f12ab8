//! The use cases of the message service, one method each, generic over the [`Ports`]
//! they run on. Every change of a conversation (a message stored, recalled or edited, a
//! read cursor moved) runs in one transaction holding that conversation's lock, decides
//! on what it read under the lock, and commits together with its outbox event; only
//! then does the caller get an answer. A transaction that lost a race is retried.
//!
//! Split by concern: sending (and system messages), history and delete-for-me, read
//! cursors, recall and edit, and sync.

mod changes;
mod group_commit;
mod history;
mod reads;
mod send;
mod sync;

pub use history::HistoryQuery;
pub use send::Outgoing;
use send::Sent;
pub use sync::SyncQuery;

use crate::domain::{ConversationId, Refusal, SendCheck, UserId, ValidationError};
use crate::ports::{Clock, Membership, MembershipError, Ports, Store};
use crate::settings::Settings;
use futures::{StreamExt as _, TryStreamExt as _};
use std::sync::Arc;
use std::time::Duration;

/// Why a use case refused. Mapped once to gRPC statuses by the gRPC adapter.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no such conversation")]
    ConversationNotFound,
    #[error("no such message")]
    MessageNotFound,
    #[error("the message replied to is not in this conversation")]
    ReplyNotFound,
    /// Membership could not be checked; the caller may retry.
    #[error("the conversation service is unavailable; try again")]
    ConversationUnavailable,
    /// A transaction kept losing races; the caller may retry.
    #[error("too many concurrent changes; try again")]
    Contention,
    /// A transaction lost a race it can detect (a unique key taken meanwhile): retried.
    #[error("lost a race")]
    Raced,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<crate::ports::StoreError> for AppError {
    fn from(error: crate::ports::StoreError) -> Self {
        match error {
            crate::ports::StoreError::Duplicate => Self::Raced,
            crate::ports::StoreError::Other(error) => Self::Unexpected(error),
        }
    }
}

impl From<MembershipError> for AppError {
    fn from(error: MembershipError) -> Self {
        match error {
            MembershipError::Unavailable(reason) => {
                tracing::warn!(reason, "conversation service unavailable");
                Self::ConversationUnavailable
            }
            MembershipError::Other(error) => Self::Unexpected(error),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Attempts of one transaction that keeps losing races.
const ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The message service's use cases over one set of adapters.
pub struct App<P: Ports> {
    store: Arc<P::Store>,
    membership: P::Membership,
    clock: P::Clock,
    settings: Settings,
    sends: group_commit::GroupCommit,
}

impl<P: Ports> App<P> {
    pub fn new(
        store: P::Store,
        membership: P::Membership,
        clock: P::Clock,
        settings: Settings,
    ) -> Self {
        Self {
            store: Arc::new(store),
            membership,
            clock,
            sends: group_commit::GroupCommit::new(settings.send_writers, settings.send_batch),
            settings,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// `user`'s standing in `conversation`; not being a member is "not found" (existence
    /// never leaks to outsiders).
    async fn member(&self, conversation: &ConversationId, user: &UserId) -> AppResult<SendCheck> {
        let check = self.membership.check_send(conversation, user).await?;
        if check.is_member {
            Ok(check)
        } else {
            Err(AppError::ConversationNotFound)
        }
    }

    /// Those of `conversations` that `user` is a member of, in the same order, asking
    /// `concurrency` at a time.
    async fn member_of(
        &self,
        user: &UserId,
        conversations: Vec<ConversationId>,
        concurrency: usize,
    ) -> AppResult<Vec<ConversationId>> {
        let checked: Vec<Option<ConversationId>> = futures::stream::iter(conversations)
            .map(|id| async move {
                let check = self.membership.check_send(&id, user).await?;
                Ok::<_, AppError>(check.is_member.then_some(id))
            })
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        Ok(checked.into_iter().flatten().collect())
    }

    /// Runs `attempt` until it does not lose a race, a few times at most.
    async fn retrying<T, F, Fut>(&self, attempt: F) -> AppResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        retrying(&*self.store, attempt).await
    }
}

/// Runs `attempt` until it does not lose a race on `store`, a few times at most.
async fn retrying<S, T, F, Fut>(store: &S, mut attempt: F) -> AppResult<T>
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    for tries in 1..=ATTEMPTS {
        let lost = match attempt().await {
            Err(AppError::Raced) => "a unique key was taken meanwhile".to_owned(),
            Err(AppError::Unexpected(error)) if store.is_transient(&error) => {
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

/// A duration as milliseconds.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `base` plus up to half of it at random, so retrying rivals drift apart.
fn jittered(base: Duration) -> Duration {
    let spread = u64::try_from(base.as_micros() / 2).unwrap_or(0).max(1);
    let random = (uuid::Uuid::new_v4().as_u128() % u128::from(spread)) as u64;
    base + Duration::from_micros(random)
}
