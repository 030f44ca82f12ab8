//! Recall and edit: a message keeps its seq and changes in place, under its
//! conversation's lock, and the change is announced with the message's new state.

use super::history::not_found_as_message;
use super::{App, AppError, AppResult, millis};
use crate::domain::{
    Body, EventEnvelope, Message, MessageEvent, MessageId, MessageType, Recall, SendCheck, UserId,
    decide_edit, decide_recall,
};
use crate::ports::{Ports, Store, Transaction};

impl<P: Ports> App<P> {
    /// Recalls a message: its sender within the recall window, or a group's owner or
    /// admins at any time. Recalling a recalled message returns it unchanged.
    pub async fn recall(&self, message_id: &str, actor: &str) -> AppResult<Message> {
        let id = MessageId::parse(message_id)?;
        let actor = UserId::parse_person(actor)?;
        let (message, check) = self.message_for(&id, &actor).await?;
        let window = millis(self.settings.recall_window);
        if decide_recall(&message, &actor, &check, self.now_ms(), window)? == Recall::Unchanged {
            return Ok(message);
        }
        self.retrying(|| async {
            let mut tx = self.store.begin(&message.conversation_id).await?;
            let message = tx.message(&id).await?.ok_or(AppError::MessageNotFound)?;
            let now = self.now_ms();
            if decide_recall(&message, &actor, &check, now, window)? == Recall::Unchanged {
                return Ok(message);
            }
            let recalled = message.recall();
            tx.update_message(&recalled).await?;
            tx.enqueue(&EventEnvelope {
                event: MessageEvent::Recalled(recalled.clone()),
                occurred_at_ms: now,
            })
            .await?;
            tx.commit().await?;
            Ok(recalled)
        })
        .await
    }

    /// Replaces the text of a message its sender wrote within the edit window.
    pub async fn edit(
        &self,
        message_id: &str,
        editor: &str,
        body_json: &str,
    ) -> AppResult<Message> {
        let id = MessageId::parse(message_id)?;
        let editor = UserId::parse_person(editor)?;
        let body = Body::parse(MessageType::Text, body_json)?;
        let (message, check) = self.message_for(&id, &editor).await?;
        let window = millis(self.settings.edit_window);
        decide_edit(&message, &editor, &check, self.now_ms(), window)?;
        self.retrying(|| async {
            let mut tx = self.store.begin(&message.conversation_id).await?;
            let message = tx.message(&id).await?.ok_or(AppError::MessageNotFound)?;
            let now = self.now_ms();
            decide_edit(&message, &editor, &check, now, window)?;
            let edited = message.edit(body.clone(), now);
            tx.update_message(&edited).await?;
            tx.enqueue(&EventEnvelope {
                event: MessageEvent::Edited(edited.clone()),
                occurred_at_ms: now,
            })
            .await?;
            tx.commit().await?;
            Ok(edited)
        })
        .await
    }

    /// The message and the user's standing in its conversation; a message of a
    /// conversation the user is not in is not found.
    async fn message_for(&self, id: &MessageId, user: &UserId) -> AppResult<(Message, SendCheck)> {
        let message = self
            .store
            .message(id)
            .await?
            .ok_or(AppError::MessageNotFound)?;
        let check = self
            .member(&message.conversation_id, user)
            .await
            .map_err(not_found_as_message)?;
        Ok((message, check))
    }
}
