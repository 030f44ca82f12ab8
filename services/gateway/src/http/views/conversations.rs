//! Conversations, their members, settings and join requests, as the conversation
//! service reports them.

use super::{MessageView, malformed, message_view, non_empty, optional_time, time};
use crate::http::ApiError;
use chrono::{DateTime, Utc};
use im_contracts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKindView {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    Owner,
    Admin,
    Member,
}

/// Who may invite users into a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitePolicyView {
    AnyMember,
    AdminsOnly,
}

/// How users who are not members get into a group: at once (`open`), through a join
/// request an owner or admin decides (`approval`), or only when invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicyView {
    Open,
    Approval,
    InviteOnly,
}

impl From<InvitePolicyView> for pb::InvitePolicy {
    fn from(policy: InvitePolicyView) -> Self {
        match policy {
            InvitePolicyView::AnyMember => Self::AnyMember,
            InvitePolicyView::AdminsOnly => Self::AdminsOnly,
        }
    }
}

impl From<JoinPolicyView> for pb::JoinPolicy {
    fn from(policy: JoinPolicyView) -> Self {
        match policy {
            JoinPolicyView::Open => Self::Open,
            JoinPolicyView::Approval => Self::Approval,
            JoinPolicyView::InviteOnly => Self::InviteOnly,
        }
    }
}

/// The rules of a group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSettingsView {
    pub invite_policy: InvitePolicyView,
    pub join_policy: JoinPolicyView,
    /// Only the owner and admins may send while set.
    pub mute_all: bool,
}

impl From<pb::GroupSettings> for GroupSettingsView {
    fn from(settings: pb::GroupSettings) -> Self {
        // Unspecified policies mean the defaults (any member invites, invite only).
        Self {
            invite_policy: match settings.invite_policy() {
                pb::InvitePolicy::AdminsOnly => InvitePolicyView::AdminsOnly,
                pb::InvitePolicy::AnyMember | pb::InvitePolicy::Unspecified => {
                    InvitePolicyView::AnyMember
                }
            },
            join_policy: match settings.join_policy() {
                pb::JoinPolicy::Open => JoinPolicyView::Open,
                pb::JoinPolicy::Approval => JoinPolicyView::Approval,
                pb::JoinPolicy::InviteOnly | pb::JoinPolicy::Unspecified => {
                    JoinPolicyView::InviteOnly
                }
            },
            mute_all: settings.mute_all,
        }
    }
}

/// A direct conversation or a group, as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub kind: ConversationKindView,
    /// A group's name; `""` for a direct conversation.
    pub name: String,
    /// `null` when none.
    pub avatar_file_id: Option<String>,
    pub announcement: String,
    /// A group's owner; `null` for a direct conversation.
    pub owner_id: Option<String>,
    /// A direct conversation's other user; `null` for a group.
    pub peer_id: Option<String>,
    /// A group's settings; `null` for a direct conversation, and in lists (read the
    /// conversation for them).
    pub settings: Option<GroupSettingsView>,
    /// How many members it has; `null` in lists.
    pub member_count: Option<u32>,
    /// The seq of its newest message (0 when none).
    pub max_seq: u64,
    /// The caller's read cursor.
    pub read_seq: u64,
    pub unread: u64,
    pub last_message: Option<MessageView>,
    /// Its last activity.
    pub updated_at: DateTime<Utc>,
}

impl ConversationView {
    /// `settings` and `peer_id` are kept only where they belong (a group's, a direct
    /// conversation's).
    pub fn new(
        conversation: pb::Conversation,
        settings: Option<pb::GroupSettings>,
        peer_id: Option<String>,
        member_count: Option<u32>,
    ) -> Result<Self, ApiError> {
        let kind = match conversation.kind() {
            pb::ConversationKind::Direct => ConversationKindView::Direct,
            pb::ConversationKind::Group => ConversationKindView::Group,
            pb::ConversationKind::Unspecified => return Err(malformed("conversation.kind")),
        };
        let group = kind == ConversationKindView::Group;
        Ok(Self {
            id: conversation.id,
            kind,
            name: conversation.name,
            avatar_file_id: non_empty(conversation.avatar_file_id),
            announcement: conversation.announcement,
            owner_id: non_empty(conversation.owner_id),
            peer_id: peer_id.filter(|_| !group).and_then(non_empty),
            settings: settings.filter(|_| group).map(GroupSettingsView::from),
            member_count,
            max_seq: conversation.max_seq,
            read_seq: conversation.read_seq,
            unread: conversation.unread,
            last_message: conversation.last_message.map(message_view).transpose()?,
            updated_at: time(conversation.updated_at_ms),
        })
    }
}

/// One member of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub role: RoleView,
    /// Until when the member may not send; `null` when not muted.
    pub muted_until: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

impl TryFrom<pb::Member> for MemberView {
    type Error = ApiError;

    fn try_from(member: pb::Member) -> Result<Self, ApiError> {
        let role = match member.role() {
            pb::MemberRole::Owner => RoleView::Owner,
            pb::MemberRole::Admin => RoleView::Admin,
            pb::MemberRole::Member => RoleView::Member,
            pb::MemberRole::Unspecified => return Err(malformed("member.role")),
        };
        Ok(Self {
            user_id: member.user_id,
            role,
            muted_until: optional_time(member.muted_until_ms),
            joined_at: time(member.joined_at_ms),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinRequestStatusView {
    Pending,
    Approved,
    Rejected,
}

/// A user's request to join a group that needs approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinRequestView {
    pub id: String,
    pub conversation_id: String,
    /// Who asks to join.
    pub user_id: String,
    /// The note sent with the request; `""` when none.
    pub message: String,
    pub status: JoinRequestStatusView,
    pub created_at: DateTime<Utc>,
    /// `null` while pending.
    pub decided_at: Option<DateTime<Utc>>,
    /// The owner or admin who decided; `null` while pending.
    pub decided_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<pb::JoinRequest> for JoinRequestView {
    fn from(request: pb::JoinRequest) -> Self {
        let status = match request.status() {
            pb::JoinRequestStatus::Approved => JoinRequestStatusView::Approved,
            pb::JoinRequestStatus::Rejected => JoinRequestStatusView::Rejected,
            pb::JoinRequestStatus::Pending | pb::JoinRequestStatus::Unspecified => {
                JoinRequestStatusView::Pending
            }
        };
        Self {
            id: request.id,
            conversation_id: request.conversation_id,
            user_id: request.user_id,
            message: request.message,
            status,
            created_at: time(request.created_at_ms),
            decided_at: optional_time(request.decided_at_ms),
            decided_by: non_empty(request.decided_by),
            updated_at: time(request.updated_at_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> pb::Conversation {
        pb::Conversation {
            id: "c1".into(),
            kind: pb::ConversationKind::Group.into(),
            name: "Team".into(),
            owner_id: "u1".into(),
            updated_at_ms: 1_700_000_000_000,
            ..pb::Conversation::default()
        }
    }

    #[test]
    fn settings_belong_to_groups_and_peers_to_direct_conversations() {
        let settings = pb::GroupSettings {
            invite_policy: pb::InvitePolicy::AdminsOnly.into(),
            join_policy: pb::JoinPolicy::Approval.into(),
            mute_all: true,
        };
        let view = ConversationView::new(group(), Some(settings), Some("u2".into()), None).unwrap();
        let json = serde_json::to_value(view).unwrap();
        assert_eq!(
            json["settings"],
            serde_json::json!({"invite_policy": "admins_only", "join_policy": "approval", "mute_all": true})
        );
        assert!(json["peer_id"].is_null());
        assert!(json["avatar_file_id"].is_null());
        assert!(json["last_message"].is_null());

        let mut direct = group();
        direct.kind = pb::ConversationKind::Direct.into();
        direct.owner_id = String::new();
        let view = ConversationView::new(
            direct,
            Some(pb::GroupSettings::default()),
            Some("u2".into()),
            None,
        )
        .unwrap();
        let json = serde_json::to_value(view).unwrap();
        assert_eq!(json["kind"], "direct");
        assert_eq!(json["peer_id"], "u2");
        assert!(json["settings"].is_null());
        assert!(json["owner_id"].is_null());
    }

    #[test]
    fn unknown_enum_values_are_a_contract_breach() {
        let mut conversation = group();
        conversation.kind = 0;
        assert!(ConversationView::new(conversation, None, None, None).is_err());
        let member = pb::Member {
            role: 42,
            ..pb::Member::default()
        };
        assert!(MemberView::try_from(member).is_err());
    }
}
