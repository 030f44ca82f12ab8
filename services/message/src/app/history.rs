//! History as one member sees it, and hiding a message from one member's view.

use super::{App, AppError, AppResult};
use crate::domain::{ConversationId, Message, MessageId, UserId, ValidationError};
use crate::ports::{Direction, Ports, SeqRange, Store};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// A page of history as asked: seq bounds (0 for none), a direction (`None` derives it:
/// forward after a lower bound, else backward from the newest) and a size (0 for the
/// default, capped at 200).
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery<'a> {
    pub conversation_id: &'a str,
    pub viewer_id: &'a str,
    pub after_seq: u64,
    pub before_seq: u64,
    pub direction: Option<Direction>,
    pub limit: u32,
}

/// Messages in ascending seq order; `has_more` when more lie further in the direction
/// the page was read.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

impl<P: Ports> App<P> {
    pub async fn history(&self, query: HistoryQuery<'_>) -> AppResult<HistoryPage> {
        let conversation = ConversationId::parse(query.conversation_id)?;
        let viewer = UserId::parse_person(query.viewer_id)?;
        let range = SeqRange {
            after: query.after_seq,
            before: (query.before_seq > 0).then_some(query.before_seq),
        };
        if range.before.is_some_and(|before| before <= range.after) {
            return Err(ValidationError::SeqRange.into());
        }
        let direction = query.direction.unwrap_or(if range.after > 0 {
            Direction::Forward
        } else {
            Direction::Backward
        });
        let limit = match query.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        self.member(&conversation, &viewer).await?;
        let mut messages = self
            .store
            .page(
                &conversation,
                &viewer,
                range,
                direction,
                u64::from(limit) + 1,
            )
            .await?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        if direction == Direction::Backward {
            messages.reverse();
        }
        Ok(HistoryPage { messages, has_more })
    }

    /// Hides a message from `user`'s own history only.
    pub async fn delete_for_me(&self, message_id: &str, user: &str) -> AppResult<()> {
        let id = MessageId::parse(message_id)?;
        let user = UserId::parse_person(user)?;
        let message = self
            .store
            .message(&id)
            .await?
            .ok_or(AppError::MessageNotFound)?;
        self.member(&message.conversation_id, &user)
            .await
            .map_err(not_found_as_message)?;
        self.store.hide(&user, &message, self.now_ms()).await?;
        Ok(())
    }
}

/// A message of a conversation the user is not in does not exist for them.
pub(super) fn not_found_as_message(error: AppError) -> AppError {
    match error {
        AppError::ConversationNotFound => AppError::MessageNotFound,
        other => other,
    }
}
