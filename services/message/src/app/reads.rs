//! Read cursors: one per member and conversation, only ever moving forward, each move
//! announced as a `read` event. Unread is what lies past the cursor; sending moves the
//! sender's cursor, so one's own messages never count.

use super::{App, AppResult};
use crate::domain::{
    ConversationId, EventEnvelope, Message, MessageEvent, UserId, ValidationError,
};
use crate::ports::{Direction, Ports, SeqRange, Store, Transaction};
use std::collections::HashSet;

/// The most conversations one read-state query names.
const MAX_READ_STATES: usize = 100;
/// Membership checks of one read-state query in flight at once.
const CONCURRENT_CHECKS: usize = 8;

/// A read cursor after `mark_read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkedRead {
    pub read_seq: u64,
    /// Whether this call moved it.
    pub advanced: bool,
}

/// One member's position in one conversation.
#[derive(Debug, Clone)]
pub struct ReadState {
    pub conversation_id: ConversationId,
    pub read_seq: u64,
    pub max_seq: u64,
    pub unread: u64,
    /// The newest message the member sees.
    pub last_message: Option<Message>,
}

impl<P: Ports> App<P> {
    /// Moves `user`'s read cursor to `seq`; a seq not ahead of it changes nothing, one
    /// beyond the newest message is refused.
    pub async fn mark_read(
        &self,
        conversation_id: &str,
        user: &str,
        seq: u64,
    ) -> AppResult<MarkedRead> {
        let conversation = ConversationId::parse(conversation_id)?;
        let user = UserId::parse_person(user)?;
        self.member(&conversation, &user).await?;
        let ids = std::slice::from_ref(&conversation);
        let current = self
            .store
            .read_seqs(&user, ids)
            .await?
            .get(&conversation)
            .copied()
            .unwrap_or(0);
        if seq <= current {
            return Ok(MarkedRead {
                read_seq: current,
                advanced: false,
            });
        }
        // The newest seq only grows, so a seq it covers now stays covered.
        let max_seq = self
            .store
            .max_seqs(ids)
            .await?
            .get(&conversation)
            .copied()
            .unwrap_or(0);
        if seq > max_seq {
            return Err(ValidationError::SeqAhead { seq, max_seq }.into());
        }
        self.retrying(|| self.advance_read_once(&conversation, &user, seq))
            .await
    }

    async fn advance_read_once(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        seq: u64,
    ) -> AppResult<MarkedRead> {
        let mut tx = self.store.begin(conversation).await?;
        let current = tx.read_seq(user).await?;
        if seq <= current {
            return Ok(MarkedRead {
                read_seq: current,
                advanced: false,
            });
        }
        let now = self.now_ms();
        tx.advance_read(user, seq, now).await?;
        tx.enqueue(&EventEnvelope {
            event: MessageEvent::Read {
                conversation_id: conversation.clone(),
                user_id: user.clone(),
                seq,
            },
            occurred_at_ms: now,
        })
        .await?;
        tx.commit().await?;
        Ok(MarkedRead {
            read_seq: seq,
            advanced: true,
        })
    }

    /// `user`'s read state in each named conversation they are a member of (the others
    /// are left out), in the order named.
    pub async fn read_states(
        &self,
        user: &str,
        conversation_ids: &[String],
    ) -> AppResult<Vec<ReadState>> {
        let user = UserId::parse_person(user)?;
        if conversation_ids.len() > MAX_READ_STATES {
            return Err(ValidationError::TooManyConversations {
                max: MAX_READ_STATES,
            }
            .into());
        }
        let mut seen = HashSet::new();
        let mut ids = Vec::with_capacity(conversation_ids.len());
        for id in conversation_ids {
            let id = ConversationId::parse(id)?;
            if seen.insert(id.clone()) {
                ids.push(id);
            }
        }
        let ids = self.member_of(&user, ids, CONCURRENT_CHECKS).await?;
        let max_seqs = self.store.max_seqs(&ids).await?;
        let read_seqs = self.store.read_seqs(&user, &ids).await?;
        let mut states = Vec::with_capacity(ids.len());
        for id in ids {
            let max_seq = max_seqs.get(&id).copied().unwrap_or(0);
            let read_seq = read_seqs.get(&id).copied().unwrap_or(0);
            let last_message = if max_seq == 0 {
                None
            } else {
                self.store
                    .page(&id, &user, SeqRange::default(), Direction::Backward, 1)
                    .await?
                    .pop()
            };
            states.push(ReadState {
                conversation_id: id,
                read_seq,
                max_seq,
                unread: max_seq.saturating_sub(read_seq),
                last_message,
            });
        }
        Ok(states)
    }
}
