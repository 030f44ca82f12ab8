//! Who a frame is for: members of a conversation (looked up when it is delivered), named
//! users besides, minus one session (usually the sender's).

use super::{ConversationId, Frame, SessionId, UserId};
use std::sync::Arc;

/// Which members of a conversation receive a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFilter {
    Everyone,
    /// The owner and admins (join requests).
    Moderators,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience {
    pub members_of: Option<(ConversationId, MemberFilter)>,
    /// Users who receive the frame whether members or not (a removed member, the users
    /// of a friend request).
    pub users: Vec<UserId>,
    pub exclude_session: Option<SessionId>,
}

impl Audience {
    /// Every member of the conversation.
    pub fn members(conversation: ConversationId) -> Self {
        Self {
            members_of: Some((conversation, MemberFilter::Everyone)),
            ..Self::default()
        }
    }

    /// Exactly these users.
    pub fn users(users: Vec<UserId>) -> Self {
        Self {
            users,
            ..Self::default()
        }
    }

    /// These users as well.
    pub fn and(mut self, users: impl IntoIterator<Item = UserId>) -> Self {
        self.users.extend(users);
        self
    }
}

/// A frame and who it is for, before the members are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    pub frame: Frame,
    pub audience: Audience,
}

/// A frame and the users it goes to, after the lookup: distinct, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub frame: Arc<Frame>,
    pub users: Vec<UserId>,
    pub exclude_session: Option<SessionId>,
}

/// The most users a caller may name for one frame.
pub const MAX_RECIPIENTS: usize = 2000;
