//! Objects inside frames, shaped like the REST API's (the gateway's views): ids as
//! strings, enums in snake_case, times RFC 3339 UTC, unset values `null`. Messages use
//! the one shape of `im_contracts::views`.

use super::Malformed;
use chrono::{DateTime, Utc};
use im_contracts::v1 as pb;
use serde::Serialize;

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `0` means never.
fn optional_time(ms: i64) -> Option<DateTime<Utc>> {
    (ms != 0).then(|| time(ms))
}

/// proto3's empty string means unset.
pub fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub use im_contracts::views::MessageView;

impl From<im_contracts::views::UntypedMessage> for Malformed {
    fn from(error: im_contracts::views::UntypedMessage) -> Self {
        Malformed(error.to_string())
    }
}

#[derive(Debug, Serialize)]
pub struct GroupSettingsView {
    pub invite_policy: &'static str,
    pub join_policy: &'static str,
    pub mute_all: bool,
}

impl From<pb::GroupSettings> for GroupSettingsView {
    fn from(settings: pb::GroupSettings) -> Self {
        // Unspecified policies mean the defaults (any member invites, invite only).
        Self {
            invite_policy: match settings.invite_policy() {
                pb::InvitePolicy::AdminsOnly => "admins_only",
                pb::InvitePolicy::AnyMember | pb::InvitePolicy::Unspecified => "any_member",
            },
            join_policy: match settings.join_policy() {
                pb::JoinPolicy::Open => "open",
                pb::JoinPolicy::Approval => "approval",
                pb::JoinPolicy::InviteOnly | pb::JoinPolicy::Unspecified => "invite_only",
            },
            mute_all: settings.mute_all,
        }
    }
}

/// A conversation as every member sees it (no viewer-specific read state).
#[derive(Debug, Serialize)]
pub struct ConversationView {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub avatar_file_id: Option<String>,
    pub announcement: String,
    pub owner_id: Option<String>,
    /// A group's settings; `null` for a direct conversation.
    pub settings: Option<GroupSettingsView>,
    pub max_seq: u64,
    pub updated_at: DateTime<Utc>,
}

impl ConversationView {
    pub fn new(
        conversation: pb::Conversation,
        settings: Option<pb::GroupSettings>,
    ) -> Result<Self, Malformed> {
        let kind = match conversation.kind() {
            pb::ConversationKind::Direct => "direct",
            pb::ConversationKind::Group => "group",
            pb::ConversationKind::Unspecified => {
                return Err(Malformed(format!(
                    "conversation {} has no kind",
                    conversation.id
                )));
            }
        };
        Ok(Self {
            id: conversation.id,
            kind,
            name: conversation.name,
            avatar_file_id: non_empty(conversation.avatar_file_id),
            announcement: conversation.announcement,
            owner_id: non_empty(conversation.owner_id),
            settings: settings
                .filter(|_| kind == "group")
                .map(GroupSettingsView::from),
            max_seq: conversation.max_seq,
            updated_at: time(conversation.updated_at_ms),
        })
    }
}

pub fn role(role: pb::MemberRole) -> &'static str {
    match role {
        pb::MemberRole::Owner => "owner",
        pb::MemberRole::Admin => "admin",
        pb::MemberRole::Member | pb::MemberRole::Unspecified => "member",
    }
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub user_id: String,
    pub role: &'static str,
    pub muted_until: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

impl From<pb::Member> for MemberView {
    fn from(member: pb::Member) -> Self {
        Self {
            role: role(member.role()),
            user_id: member.user_id,
            muted_until: optional_time(member.muted_until_ms),
            joined_at: time(member.joined_at_ms),
        }
    }
}

pub fn friend_request_status(status: pb::FriendRequestStatus) -> &'static str {
    match status {
        pb::FriendRequestStatus::Accepted => "accepted",
        pb::FriendRequestStatus::Rejected => "rejected",
        pb::FriendRequestStatus::Cancelled => "cancelled",
        // A request that was never decided is pending, whatever the wire said.
        pb::FriendRequestStatus::Pending | pb::FriendRequestStatus::Unspecified => "pending",
    }
}

#[derive(Debug, Serialize)]
pub struct FriendRequestView {
    pub id: String,
    pub from_user_id: String,
    pub to_user_id: String,
    pub message: String,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<pb::FriendRequest> for FriendRequestView {
    fn from(request: pb::FriendRequest) -> Self {
        Self {
            status: friend_request_status(request.status()),
            id: request.id,
            from_user_id: request.from_user_id,
            to_user_id: request.to_user_id,
            message: request.message,
            created_at: time(request.created_at_ms),
            decided_at: optional_time(request.decided_at_ms),
            updated_at: time(request.updated_at_ms),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JoinRequestView {
    pub id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub message: String,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<pb::JoinRequest> for JoinRequestView {
    fn from(request: pb::JoinRequest) -> Self {
        let status = match request.status() {
            pb::JoinRequestStatus::Approved => "approved",
            pb::JoinRequestStatus::Rejected => "rejected",
            pb::JoinRequestStatus::Pending | pb::JoinRequestStatus::Unspecified => "pending",
        };
        Self {
            status,
            id: request.id,
            conversation_id: request.conversation_id,
            user_id: request.user_id,
            message: request.message,
            created_at: time(request.created_at_ms),
            decided_at: optional_time(request.decided_at_ms),
            decided_by: non_empty(request.decided_by),
            updated_at: time(request.updated_at_ms),
        }
    }
}
