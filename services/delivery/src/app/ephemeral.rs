//! Frames that do not go through the message log (typing, call signaling): checked,
//! addressed like any frame, pushed once per node.

use super::{App, AppError, AppResult, Guarantee, Report};
use crate::domain::{
    Audience, ConversationId, Fanout, Frame, MAX_RECIPIENTS, MemberFilter, SessionId, UserId,
    ValidationError,
};
use crate::ports::Ports;

/// A caller's request, as received.
#[derive(Debug, Clone, Default)]
pub struct EphemeralInput {
    pub recipient_ids: Vec<String>,
    pub conversation_id: String,
    pub sender_id: String,
    pub exclude_session_id: String,
    pub event_type: String,
    pub payload_json: String,
}

/// The request once checked.
struct Ephemeral {
    fanout: Fanout,
    /// The member the frame comes from, when the caller asked to check it.
    sender: Option<(ConversationId, UserId)>,
}

fn optional<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    (!text.is_empty()).then(|| parse(text)).transpose()
}

impl EphemeralInput {
    fn parse(&self) -> Result<Ephemeral, ValidationError> {
        let frame = Frame::parse(&self.event_type, &self.payload_json)?;
        if self.recipient_ids.len() > MAX_RECIPIENTS {
            return Err(ValidationError::TooManyRecipients {
                max: MAX_RECIPIENTS,
            });
        }
        let users = self
            .recipient_ids
            .iter()
            .map(|id| UserId::parse(id))
            .collect::<Result<Vec<_>, _>>()?;
        let conversation = optional(&self.conversation_id, ConversationId::parse)?;
        let sender = optional(&self.sender_id, UserId::parse)?;
        let exclude_session = optional(&self.exclude_session_id, SessionId::parse)?;
        if users.is_empty() && conversation.is_none() {
            return Err(ValidationError::NoRecipients);
        }
        let sender = conversation.clone().zip(sender);
        Ok(Ephemeral {
            fanout: Fanout {
                frame,
                audience: Audience {
                    members_of: conversation.map(|id| (id, MemberFilter::Everyone)),
                    users,
                    exclude_session,
                },
            },
            sender,
        })
    }
}

impl<P: Ports> App<P> {
    /// Pushes a caller's frame once to each gateway node holding a recipient's device.
    /// A named conversation must exist, and the sender, when named, be one of its members.
    pub async fn deliver_ephemeral(&self, input: &EphemeralInput) -> AppResult<Report> {
        let Ephemeral { fanout, sender } = input.parse()?;
        if let Some((conversation, _)) = &fanout.audience.members_of {
            let members = self
                .members(conversation)
                .await?
                .ok_or(AppError::ConversationNotFound)?;
            if let Some((_, sender)) = &sender
                && !members.iter().any(|member| member.user_id == *sender)
            {
                return Err(AppError::ConversationNotFound);
            }
        }
        let addressed = self.address(fanout).await?;
        self.route(&[addressed], Guarantee::BestEffort).await
    }
}
