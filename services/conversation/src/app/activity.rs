//! The message activity projection: what the message service announces (messages
//! stored, edited, recalled; read cursors moved) folded into each conversation's newest
//! message and max seq and each member's read cursor. Every step is idempotent and
//! order-safe, so the bus may redeliver or reorder without harm.

use super::{App, AppResult};
use crate::domain::{ConversationId, MessageSnapshot};
use crate::ports::{Ports, Store};

/// Times a compare-and-swap on one conversation's activity is retried.
const SWAP_ATTEMPTS: u32 = 16;

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

impl<P: Ports> App<P> {
    /// Folds one message event into the projection. Events about unknown conversations
    /// or with malformed ids change nothing.
    pub async fn apply_message_activity(&self, activity: MessageActivity) -> AppResult<()> {
        match activity {
            MessageActivity::Message {
                conversation_id,
                message,
            } => {
                let Ok(id) = ConversationId::parse(&conversation_id) else {
                    return Ok(());
                };
                self.apply_message(&id, &message).await?;
                // The sender has read their own message.
                self.store
                    .advance_read(&id, &message.sender_id, message.seq)
                    .await?;
            }
            MessageActivity::Read {
                conversation_id,
                user_id,
                seq,
            } => {
                let Ok(id) = ConversationId::parse(&conversation_id) else {
                    return Ok(());
                };
                self.store.advance_read(&id, &user_id, seq).await?;
            }
        }
        Ok(())
    }

    async fn apply_message(&self, id: &ConversationId, message: &MessageSnapshot) -> AppResult<()> {
        for _ in 0..SWAP_ATTEMPTS {
            let Some(conversation) = self.store.conversation(id).await? else {
                return Ok(());
            };
            let current = conversation.activity;
            let Some(next) = current.apply(message) else {
                return Ok(());
            };
            if self
                .store
                .replace_activity(id, current.revision, &next)
                .await?
            {
                return Ok(());
            }
        }
        Err(anyhow::anyhow!("conversation {id} activity kept changing").into())
    }
}
