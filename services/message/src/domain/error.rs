//! Why an input or a change was refused. A [`ValidationError`] is malformed input (a 400
//! at the edge, never a 500); a [`Refusal`] is a well-formed request the rules forbid.

/// An input that breaks a rule of shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("a user id is 1 to 128 printable ASCII characters")]
    UserId,
    #[error("the user id 'system' is reserved for server-made messages")]
    ReservedUserId,
    #[error("a conversation id is 1 to 128 printable ASCII characters")]
    ConversationId,
    #[error("a message id is 1 to 64 printable ASCII characters")]
    MessageId,
    #[error("a client message id is 1 to 64 printable ASCII characters")]
    ClientMsgId,
    #[error("the message type is not one of the known types")]
    MessageType,
    #[error("system and call messages are made by the server only")]
    TypeNotAllowed,
    #[error("the message body is too large: {0}")]
    BodyTooLarge(&'static str),
    #[error("the message body is not valid: {0}")]
    InvalidBody(String),
    #[error("at most {max} distinct users may be mentioned")]
    TooManyMentions { max: usize },
    #[error("'after_seq' must be below 'before_seq' when both are set")]
    SeqRange,
    #[error("the history direction is not one of the known values")]
    Direction,
    #[error("the read position {seq} is beyond the newest message ({max_seq})")]
    SeqAhead { seq: u64, max_seq: u64 },
    #[error("at most {max} conversations may be named at once")]
    TooManyConversations { max: usize },
}

/// A well-formed request the rules of the domain forbid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("you are muted in this conversation")]
    Muted,
    #[error("one of you has blocked the other")]
    Blocked,
    #[error("only the sender (or, for a recall, a group's owner or admins) may do this")]
    NotAllowed,
    #[error("the time allowed for this has passed")]
    WindowPassed,
    #[error("only text messages can be edited")]
    NotEditable,
    #[error("the message was recalled")]
    Recalled,
}
