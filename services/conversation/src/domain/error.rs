//! Why an input or a change was refused. A [`ValidationError`] is malformed input (a 400
//! at the edge, never a 500); a [`Refusal`] is a well-formed request the rules forbid.

/// An input that breaks a rule of shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("a user id is 1 to 128 printable ASCII characters")]
    UserId,
    #[error("a conversation id is 1 to 128 printable ASCII characters")]
    ConversationId,
    #[error("a request id is 1 to 128 printable ASCII characters")]
    RequestId,
    #[error("a group name is 1 to 64 characters without control characters")]
    GroupName,
    #[error("a remark is at most 64 characters without control characters")]
    Remark,
    #[error("a request message is at most 200 characters")]
    RequestMessage,
    #[error("an announcement is at most 2000 characters")]
    Announcement,
    #[error("an avatar file id is at most 128 printable ASCII characters")]
    AvatarFileId,
    #[error("'muted_until_ms' must be 0 (unmute) or a time in the future")]
    MutedUntil,
    #[error("a role set on a member is admin or member; ownership moves by transfer")]
    Role,
    #[error("the direction must be incoming or outgoing")]
    Direction,
    #[error("the policy is not one of the known values")]
    Policy,
    #[error("at most {max} users may be named at once")]
    TooManyUsers { max: usize },
    #[error("this needs another user than yourself")]
    SelfTarget,
}

/// A well-formed request the rules of the domain forbid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("you cannot send a friend request to yourself")]
    CannotBefriendSelf,
    #[error("one of you has blocked the other")]
    Blocked,
    #[error("you are already contacts")]
    AlreadyContacts,
    #[error("you are not contacts")]
    NotContacts,
    #[error("the request was already decided")]
    RequestNotPending,
    #[error("this is not a group")]
    NotAGroup,
    #[error("your role in this group does not allow this")]
    InsufficientRole,
    #[error("the owner must transfer ownership before leaving")]
    OwnerMustTransfer,
    #[error("the group is full ({limit} members)")]
    MemberLimit { limit: u32 },
    #[error("this group is joined by invitation only")]
    InviteOnly,
    #[error("you are already a member of this group")]
    AlreadyMember,
}
