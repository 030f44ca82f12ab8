//! Malformed input: an INVALID_ARGUMENT at the edge, never an internal error.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("a user id is 1 to 128 printable ASCII characters")]
    UserId,
    #[error("a session id is 1 to 128 printable ASCII characters")]
    SessionId,
    #[error("a conversation id is 1 to 128 printable ASCII characters")]
    ConversationId,
    #[error("a node id is 1 to 128 printable ASCII characters")]
    NodeId,
    #[error(
        "an event type is 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter"
    )]
    EventType,
    #[error("the payload must be a JSON object")]
    Payload,
    #[error("the payload is larger than {max} bytes")]
    PayloadTooLarge { max: usize },
    #[error("at most {max} recipients may be named at once")]
    TooManyRecipients { max: usize },
    #[error("name recipients, a conversation, or both")]
    NoRecipients,
}
