//! Conversations: exactly one direct conversation per pair of users, and groups with an
//! owner, a name and settings.

use super::{Activity, ConversationId, GroupName, Refusal, UserId, UserPair};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        if text == "direct" {
            Self::Direct
        } else {
            Self::Group
        }
    }
}

/// Who may start a direct conversation with whom.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DirectPolicy {
    /// Only contacts (the default).
    #[default]
    FriendsOnly,
    /// Any two users who have not blocked each other.
    Anyone,
}

/// Who may invite users into a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvitePolicy {
    #[default]
    AnyMember,
    AdminsOnly,
}

impl InvitePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnyMember => "any_member",
            Self::AdminsOnly => "admins_only",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        if text == "admins_only" {
            Self::AdminsOnly
        } else {
            Self::AnyMember
        }
    }
}

/// How users who are not members get into a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JoinPolicy {
    Open,
    Approval,
    #[default]
    InviteOnly,
}

impl JoinPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approval => "approval",
            Self::InviteOnly => "invite_only",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        match text {
            "open" => Self::Open,
            "approval" => Self::Approval,
            _ => Self::InviteOnly,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSettings {
    pub invite_policy: InvitePolicy,
    pub join_policy: JoinPolicy,
    /// Only the owner and admins may send while set.
    pub mute_all: bool,
}

/// A conversation as stored: what every member sees alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// Empty for direct conversations.
    pub name: String,
    pub avatar_file_id: String,
    pub announcement: String,
    /// `None` for direct conversations.
    pub owner_id: Option<UserId>,
    pub settings: GroupSettings,
    /// The two users of a direct conversation.
    pub pair: Option<UserPair>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub dissolved_at_ms: Option<i64>,
    pub activity: Activity,
}

impl Conversation {
    pub fn direct(pair: UserPair, now_ms: i64) -> Self {
        Self {
            id: ConversationId::generate(),
            kind: ConversationKind::Direct,
            name: String::new(),
            avatar_file_id: String::new(),
            announcement: String::new(),
            owner_id: None,
            settings: GroupSettings::default(),
            pair: Some(pair),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            dissolved_at_ms: None,
            activity: Activity::starting(now_ms),
        }
    }

    pub fn group(owner: UserId, name: GroupName, settings: GroupSettings, now_ms: i64) -> Self {
        Self {
            id: ConversationId::generate(),
            kind: ConversationKind::Group,
            name: name.into_string(),
            avatar_file_id: String::new(),
            announcement: String::new(),
            owner_id: Some(owner),
            settings,
            pair: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            dissolved_at_ms: None,
            activity: Activity::starting(now_ms),
        }
    }

    pub fn is_dissolved(&self) -> bool {
        self.dissolved_at_ms.is_some()
    }

    /// Group operations refuse direct conversations.
    pub fn ensure_group(&self) -> Result<(), Refusal> {
        match self.kind {
            ConversationKind::Group => Ok(()),
            ConversationKind::Direct => Err(Refusal::NotAGroup),
        }
    }

    /// For a direct conversation, the user that is not `user`.
    pub fn peer_of(&self, user: &UserId) -> Option<&UserId> {
        self.pair.as_ref().map(|pair| pair.other(user))
    }
}
