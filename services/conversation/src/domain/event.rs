//! What the service records and announces: membership changes (versioned, for callers
//! that cache membership) and conversation events (for the bus, and through it for the
//! users' devices).

use super::{
    Conversation, ConversationId, ConversationKind, FriendRequest, JoinRequest, Member, UserId,
};

/// One change of who may send where, before the log gives it a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    ConversationCreated,
    /// Every membership of the conversation is gone.
    ConversationDissolved,
    MemberJoined(Member),
    MemberRemoved(UserId),
    /// A member's role or mute changed.
    MemberUpdated(Member),
    /// `user` blocked or unblocked `peer`; the record names their direct conversation.
    BlockChanged {
        user: UserId,
        peer: UserId,
        blocked: bool,
    },
    /// `mute_all` changed.
    SettingsChanged {
        mute_all: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    /// `None` only for a block between users without a direct conversation.
    pub conversation_id: Option<ConversationId>,
    pub conversation_kind: Option<ConversationKind>,
    pub change: MembershipChange,
    pub actor_id: UserId,
    pub occurred_at_ms: i64,
}

impl MembershipRecord {
    pub fn of(
        conversation: &Conversation,
        change: MembershipChange,
        actor_id: &UserId,
        occurred_at_ms: i64,
    ) -> Self {
        Self {
            conversation_id: Some(conversation.id.clone()),
            conversation_kind: Some(conversation.kind),
            change,
            actor_id: actor_id.clone(),
            occurred_at_ms,
        }
    }
}

/// A record of the membership log with its global, gapless version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipEntry {
    pub version: u64,
    pub record: MembershipRecord,
}

/// How users became members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMethod {
    Invited,
    Joined,
    Approved,
}

/// Why a member is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    Left,
    Kicked,
}

/// Something users should hear about, published on the bus after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationEvent {
    Created {
        conversation: Conversation,
        members: Vec<Member>,
    },
    Updated {
        conversation: Conversation,
    },
    Dissolved {
        conversation_id: ConversationId,
        member_ids: Vec<UserId>,
    },
    MembersJoined {
        conversation_id: ConversationId,
        members: Vec<Member>,
        method: JoinMethod,
    },
    MemberRemoved {
        conversation_id: ConversationId,
        user_id: UserId,
        reason: RemovalReason,
    },
    MemberUpdated {
        conversation_id: ConversationId,
        member: Member,
    },
    OwnershipTransferred {
        conversation_id: ConversationId,
        previous_owner: UserId,
        new_owner: UserId,
    },
    FriendRequestChanged(FriendRequest),
    ContactAdded {
        user_id: UserId,
        contact_id: UserId,
    },
    ContactRemoved {
        user_id: UserId,
        contact_id: UserId,
    },
    BlockChanged {
        user_id: UserId,
        blocked_user_id: UserId,
        blocked: bool,
        direct_conversation_id: Option<ConversationId>,
    },
    JoinRequestChanged(JoinRequest),
}

impl ConversationEvent {
    /// The ordering key: the conversation, or for contact-level events the smaller user
    /// id of the pair, so each conversation's and each pair's events stay in order.
    pub fn key(&self) -> &str {
        fn pair_key<'a>(a: &'a UserId, b: &'a UserId) -> &'a str {
            a.min(b).as_str()
        }
        match self {
            Self::Created { conversation, .. } | Self::Updated { conversation } => {
                conversation.id.as_str()
            }
            Self::Dissolved {
                conversation_id, ..
            }
            | Self::MembersJoined {
                conversation_id, ..
            }
            | Self::MemberRemoved {
                conversation_id, ..
            }
            | Self::MemberUpdated {
                conversation_id, ..
            }
            | Self::OwnershipTransferred {
                conversation_id, ..
            } => conversation_id.as_str(),
            Self::JoinRequestChanged(request) => request.conversation_id.as_str(),
            Self::FriendRequestChanged(request) => pair_key(&request.from, &request.to),
            Self::ContactAdded {
                user_id,
                contact_id,
            }
            | Self::ContactRemoved {
                user_id,
                contact_id,
            } => pair_key(user_id, contact_id),
            Self::BlockChanged {
                user_id,
                blocked_user_id,
                ..
            } => pair_key(user_id, blocked_user_id),
        }
    }
}

/// An event with who caused it, when, and the membership version it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    pub event: ConversationEvent,
    pub actor_id: UserId,
    pub occurred_at_ms: i64,
    /// 0 when the change did not touch membership.
    pub membership_version: u64,
}
