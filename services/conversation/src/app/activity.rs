//! The message activity projection: what the message service announces (messages
//! stored, edited, recalled; read cursors moved) folded into each conversation's newest
//! message and max seq and each member's read cursor. Every step is idempotent and
//! order-safe, so the bus may redeliver or reorder without harm.
//!
//! Events come in batches (what the bus has waiting), and a batch is folded in memory
//! and written in one transaction: the conversations' activity read in one statement and
//! the changed ones replaced in another, each member's cursor moved once, to the
//! furthest seq, in a third. A busy service pays five statements per batch (with the
//! transaction's begin and commit), not a few per message.

use super::{App, AppError, AppResult};
use crate::domain::{Activity, ConversationId, MessageSnapshot};
use crate::ports::{ActivityChange, Lock, Ports, ReadAdvance, Store, Transaction};
use std::collections::BTreeMap;

/// One message event, as far as this service cares.
#[derive(Debug, Clone)]
pub enum MessageActivity {
    /// A message in a state: stored, edited or recalled.
    Message {
        conversation_id: String,
        message: MessageSnapshot,
    },
    /// A member's read cursor moved.
    Read {
        conversation_id: String,
        user_id: String,
        seq: u64,
    },
}

/// A batch of events folded: per conversation its message states in event order, and
/// per member the furthest seq read.
#[derive(Debug, Default)]
struct Folded {
    messages: BTreeMap<ConversationId, Vec<MessageSnapshot>>,
    reads: BTreeMap<(ConversationId, String), u64>,
}

impl Folded {
    /// Events about malformed conversation ids are left out.
    fn of(batch: Vec<MessageActivity>) -> Self {
        let mut folded = Self::default();
        for activity in batch {
            match activity {
                MessageActivity::Message {
                    conversation_id,
                    message,
                } => {
                    let Ok(id) = ConversationId::parse(&conversation_id) else {
                        continue;
                    };
                    // The sender has read their own message.
                    folded.read(&id, &message.sender_id, message.seq);
                    folded.messages.entry(id).or_default().push(message);
                }
                MessageActivity::Read {
                    conversation_id,
                    user_id,
                    seq,
                } => {
                    if let Ok(id) = ConversationId::parse(&conversation_id) {
                        folded.read(&id, &user_id, seq);
                    }
                }
            }
        }
        folded
    }

    fn read(&mut self, conversation: &ConversationId, user: &str, seq: u64) {
        let cursor = self
            .reads
            .entry((conversation.clone(), user.to_owned()))
            .or_default();
        *cursor = (*cursor).max(seq);
    }

    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.reads.is_empty()
    }
}

impl<P: Ports> App<P> {
    /// Folds a batch of message events, in their order, into the projection. Events
    /// about unknown conversations or with malformed ids change nothing.
    pub async fn apply_message_activity(&self, batch: Vec<MessageActivity>) -> AppResult<()> {
        let folded = Folded::of(batch);
        if folded.is_empty() {
            return Ok(());
        }
        self.retrying(|| self.apply_folded(&folded)).await
    }

    /// One attempt, in one transaction: the batch's conversations read at once, the
    /// changed ones written at once. A conversation whose activity changed between the
    /// read and the write is a lost race: the whole batch is tried again.
    async fn apply_folded(&self, folded: &Folded) -> AppResult<()> {
        let mut tx = self.store.begin(Lock::Nothing).await?;
        let ids: Vec<ConversationId> = folded.messages.keys().cloned().collect();
        let current = tx.activities(&ids).await?;
        let changes: Vec<ActivityChange> = folded
            .messages
            .iter()
            .filter_map(|(id, messages)| {
                let current = current.get(id)?;
                let next = messages.iter().fold(None::<Activity>, |next, message| {
                    next.as_ref().unwrap_or(current).apply(message).or(next)
                })?;
                Some(ActivityChange {
                    conversation: id.clone(),
                    expected_revision: current.revision,
                    next,
                })
            })
            .collect();
        if !tx.replace_activities(&changes).await? {
            return Err(AppError::Raced);
        }
        let reads: Vec<ReadAdvance> = folded
            .reads
            .iter()
            .map(|((conversation, user), seq)| ReadAdvance {
                conversation: conversation.clone(),
                user: user.clone(),
                seq: *seq,
            })
            .collect();
        tx.advance_reads(&reads).await?;
        tx.commit().await?;
        Ok(())
    }
}
