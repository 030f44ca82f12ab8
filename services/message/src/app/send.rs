//! Sending: a client's message after the membership check, and the server's system
//! messages. Both store a draft the same way, in a batch of the group commit: under the
//! conversation's lock, a retry of a stored message returns the original; otherwise the
//! next seq is taken, the message, the sender's read cursor and the `stored` event are
//! written, and all of it commits at once.

use super::{App, AppError, AppResult};
use crate::domain::{
    Body, ClientMsgId, ConversationId, Draft, Message, MessageId, MessageType, SystemNotice,
    UserId, ValidationError, mentions,
};
use crate::ports::{Ports, Store};

/// A message as a client sends it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub conversation_id: &'a str,
    pub sender_id: &'a str,
    pub client_msg_id: &'a str,
    /// `None` for a type this service does not know.
    pub kind: Option<MessageType>,
    pub body_json: &'a str,
    /// Empty when the message replies to nothing.
    pub reply_to: &'a str,
    pub mentions: &'a [String],
    pub mention_all: bool,
}

/// A stored message; `duplicate` when a retry found it stored already.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    pub duplicate: bool,
}

impl Outgoing<'_> {
    fn draft(&self) -> AppResult<Draft> {
        let kind = self.kind.ok_or(ValidationError::MessageType)?;
        Ok(Draft {
            conversation_id: ConversationId::parse(self.conversation_id)?,
            sender_id: UserId::parse_person(self.sender_id)?,
            client_msg_id: ClientMsgId::parse(self.client_msg_id)?,
            kind,
            body: Body::parse(kind, self.body_json)?,
            reply_to: match self.reply_to {
                "" => None,
                id => Some(MessageId::parse(id)?),
            },
            mentions: mentions(self.mentions)?,
            mention_all: self.mention_all,
        })
    }
}

impl<P: Ports> App<P> {
    /// Stores a client's message with the next seq of its conversation, or returns the
    /// original when the same sender already sent this client message id there.
    pub async fn send(&self, outgoing: Outgoing<'_>) -> AppResult<Sent> {
        let draft = outgoing.draft()?;
        if let Err(refusal) = self.may_send(&draft).await {
            // A retry is answered from what is stored, even while membership cannot be
            // asked or no longer lets the sender post.
            let stored = self
                .store
                .message_by_client_id(
                    &draft.conversation_id,
                    &draft.sender_id,
                    &draft.client_msg_id,
                )
                .await?;
            return match stored {
                Some(original) => Ok(Sent {
                    message: original,
                    duplicate: true,
                }),
                None => Err(refusal),
            };
        }
        self.store_draft(draft, true).await
    }

    /// Whether the draft's sender may post it where it goes.
    async fn may_send(&self, draft: &Draft) -> AppResult<()> {
        self.member(&draft.conversation_id, &draft.sender_id)
            .await?
            .may_post()?;
        if let Some(reply_to) = &draft.reply_to {
            // Messages are never deleted, so what is found now stays found.
            let replied = self.store.message(reply_to).await?;
            if replied.is_none_or(|m| m.conversation_id != draft.conversation_id) {
                return Err(AppError::ReplyNotFound);
            }
        }
        Ok(())
    }

    /// Stores the system message of a conversation change; a redelivered change finds
    /// its message stored and adds nothing.
    pub async fn record_notice(&self, notice: &SystemNotice) -> AppResult<Sent> {
        let draft = notice.draft()?;
        self.store_draft(draft, false).await
    }

    /// Stores `draft` in the next batch (see [`super::group_commit`]).
    async fn store_draft(&self, draft: Draft, sender_reads: bool) -> AppResult<Sent> {
        self.sends
            .store(&self.store, || self.now_ms(), draft, sender_reads)
            .await
    }
}
