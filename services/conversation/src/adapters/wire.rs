//! Domain values as protobuf messages (`im.v1`) and back.

use crate::app::{ConversationView, SendCheck};
use crate::domain::{
    BlockedUser, Contact, Conversation, ConversationEvent, ConversationKind, FriendRequest,
    FriendRequestStatus, GroupSettings, InvitePolicy, JoinMethod, JoinPolicy, JoinRequest,
    JoinRequestStatus, Member, MembershipChange, MembershipEntry, MessageSnapshot, RemovalReason,
    RequestDirection, Role, ValidationError, unread,
};
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_event::Kind;
use prost::Message as _;

pub fn role(role: Role) -> pb::MemberRole {
    match role {
        Role::Owner => pb::MemberRole::Owner,
        Role::Admin => pb::MemberRole::Admin,
        Role::Member => pb::MemberRole::Member,
    }
}

pub fn kind(kind: ConversationKind) -> pb::ConversationKind {
    match kind {
        ConversationKind::Direct => pb::ConversationKind::Direct,
        ConversationKind::Group => pb::ConversationKind::Group,
    }
}

pub fn member(member: &Member) -> pb::Member {
    pb::Member {
        user_id: member.user_id.as_str().to_owned(),
        role: role(member.role).into(),
        muted_until_ms: member.muted_until_ms,
        joined_at_ms: member.joined_at_ms,
    }
}

pub fn settings(settings: &GroupSettings) -> pb::GroupSettings {
    pb::GroupSettings {
        invite_policy: match settings.invite_policy {
            InvitePolicy::AnyMember => pb::InvitePolicy::AnyMember,
            InvitePolicy::AdminsOnly => pb::InvitePolicy::AdminsOnly,
        }
        .into(),
        join_policy: match settings.join_policy {
            JoinPolicy::Open => pb::JoinPolicy::Open,
            JoinPolicy::Approval => pb::JoinPolicy::Approval,
            JoinPolicy::InviteOnly => pb::JoinPolicy::InviteOnly,
        }
        .into(),
        mute_all: settings.mute_all,
    }
}

/// A conversation as seen by `viewer` (read cursor and unread count are theirs; zero
/// without a viewer).
pub fn conversation(conversation: &Conversation, viewer: Option<&Member>) -> pb::Conversation {
    let activity = &conversation.activity;
    let read_seq = viewer.map_or(0, |member| member.read_seq);
    pb::Conversation {
        id: conversation.id.as_str().to_owned(),
        kind: kind(conversation.kind).into(),
        name: conversation.name.clone(),
        avatar_file_id: conversation.avatar_file_id.clone(),
        announcement: conversation.announcement.clone(),
        owner_id: conversation
            .owner_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        max_seq: activity.max_seq,
        read_seq: if viewer.is_some() { read_seq } else { 0 },
        unread: if viewer.is_some() {
            unread(activity.max_seq, read_seq)
        } else {
            0
        },
        last_message: activity.last_message.as_ref().map(|message| {
            let mut message = to_message(message);
            message.conversation_id = conversation.id.as_str().to_owned();
            message
        }),
        updated_at_ms: activity.last_activity_ms,
    }
}

pub fn view(view: &ConversationView) -> pb::Conversation {
    conversation(&view.conversation, Some(&view.member))
}

fn friend_request_status(status: FriendRequestStatus) -> pb::FriendRequestStatus {
    match status {
        FriendRequestStatus::Pending => pb::FriendRequestStatus::Pending,
        FriendRequestStatus::Accepted => pb::FriendRequestStatus::Accepted,
        FriendRequestStatus::Rejected => pb::FriendRequestStatus::Rejected,
        FriendRequestStatus::Cancelled => pb::FriendRequestStatus::Cancelled,
    }
}

pub fn friend_request(request: &FriendRequest) -> pb::FriendRequest {
    pb::FriendRequest {
        id: request.id.as_str().to_owned(),
        from_user_id: request.from.as_str().to_owned(),
        to_user_id: request.to.as_str().to_owned(),
        message: request.message.clone(),
        status: friend_request_status(request.status).into(),
        created_at_ms: request.created_at_ms,
        decided_at_ms: request.decided_at_ms.unwrap_or(0),
        updated_at_ms: request.updated_at_ms,
    }
}

pub fn contact(contact: &Contact) -> pb::Contact {
    pb::Contact {
        user_id: contact.contact_id.as_str().to_owned(),
        remark: contact.remark.clone(),
        created_at_ms: contact.created_at_ms,
    }
}

pub fn blocked_user(block: &BlockedUser) -> pb::BlockedUser {
    pb::BlockedUser {
        user_id: block.blocked_user_id.as_str().to_owned(),
        created_at_ms: block.created_at_ms,
    }
}

pub fn join_request(request: &JoinRequest) -> pb::JoinRequest {
    pb::JoinRequest {
        id: request.id.as_str().to_owned(),
        conversation_id: request.conversation_id.as_str().to_owned(),
        user_id: request.user_id.as_str().to_owned(),
        message: request.message.clone(),
        status: match request.status {
            JoinRequestStatus::Pending => pb::JoinRequestStatus::Pending,
            JoinRequestStatus::Approved => pb::JoinRequestStatus::Approved,
            JoinRequestStatus::Rejected => pb::JoinRequestStatus::Rejected,
        }
        .into(),
        created_at_ms: request.created_at_ms,
        decided_at_ms: request.decided_at_ms.unwrap_or(0),
        decided_by: request
            .decided_by
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        updated_at_ms: request.updated_at_ms,
    }
}

pub fn send_check(check: &SendCheck) -> pb::CheckSendResponse {
    pb::CheckSendResponse {
        is_member: check.is_member,
        role: check.role.map_or(pb::MemberRole::Unspecified, role).into(),
        muted: check.muted,
        muted_until_ms: check.muted_until_ms,
        blocked: check.blocked,
        membership_version: check.membership_version,
        kind: check
            .kind
            .map_or(pb::ConversationKind::Unspecified, kind)
            .into(),
        mute_all: check.mute_all,
    }
}

pub fn membership_event(entry: &MembershipEntry) -> pb::MembershipEvent {
    use pb::MembershipEventKind as K;
    let record = &entry.record;
    let mut event = pb::MembershipEvent {
        version: entry.version,
        conversation_id: record
            .conversation_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        conversation_kind: record
            .conversation_kind
            .map_or(pb::ConversationKind::Unspecified, kind)
            .into(),
        actor_id: record.actor_id.as_str().to_owned(),
        occurred_at_ms: record.occurred_at_ms,
        ..pb::MembershipEvent::default()
    };
    let event_kind = match &record.change {
        MembershipChange::ConversationCreated => K::ConversationCreated,
        MembershipChange::ConversationDissolved => K::ConversationDissolved,
        MembershipChange::SettingsChanged { mute_all } => {
            event.mute_all = *mute_all;
            K::ConversationUpdated
        }
        MembershipChange::MemberJoined(joined) | MembershipChange::MemberUpdated(joined) => {
            event.user_id = joined.user_id.as_str().to_owned();
            event.role = role(joined.role).into();
            event.muted_until_ms = joined.muted_until_ms;
            if matches!(record.change, MembershipChange::MemberJoined(_)) {
                K::MemberJoined
            } else {
                K::MemberUpdated
            }
        }
        MembershipChange::MemberRemoved(user) => {
            event.user_id = user.as_str().to_owned();
            K::MemberRemoved
        }
        MembershipChange::BlockChanged {
            user,
            peer,
            blocked,
        } => {
            event.user_id = user.as_str().to_owned();
            event.peer_id = peer.as_str().to_owned();
            event.blocked = *blocked;
            K::BlockChanged
        }
    };
    event.kind = event_kind.into();
    event
}

pub fn reset_event(version: u64) -> pb::MembershipEvent {
    pb::MembershipEvent {
        version,
        kind: pb::MembershipEventKind::Reset.into(),
        ..pb::MembershipEvent::default()
    }
}

pub fn event_kind(event: &ConversationEvent) -> Kind {
    match event {
        ConversationEvent::Created {
            conversation: created,
            members,
        } => Kind::ConversationCreated(pb::ConversationCreated {
            conversation: Some(conversation(created, None)),
            settings: Some(settings(&created.settings)),
            members: members.iter().map(member).collect(),
        }),
        ConversationEvent::Updated {
            conversation: updated,
        } => Kind::ConversationUpdated(pb::ConversationUpdated {
            conversation: Some(conversation(updated, None)),
            settings: Some(settings(&updated.settings)),
        }),
        ConversationEvent::Dissolved {
            conversation_id,
            member_ids,
        } => Kind::ConversationDissolved(pb::ConversationDissolved {
            conversation_id: conversation_id.as_str().to_owned(),
            member_ids: member_ids.iter().map(|id| id.as_str().to_owned()).collect(),
        }),
        ConversationEvent::MembersJoined {
            conversation_id,
            members,
            method,
        } => Kind::MembersJoined(pb::MembersJoined {
            conversation_id: conversation_id.as_str().to_owned(),
            members: members.iter().map(member).collect(),
            method: match method {
                JoinMethod::Invited => pb::JoinMethod::Invited,
                JoinMethod::Joined => pb::JoinMethod::Joined,
                JoinMethod::Approved => pb::JoinMethod::Approved,
            }
            .into(),
        }),
        ConversationEvent::MemberRemoved {
            conversation_id,
            user_id,
            reason,
        } => Kind::MemberRemoved(pb::MemberRemoved {
            conversation_id: conversation_id.as_str().to_owned(),
            user_id: user_id.as_str().to_owned(),
            reason: match reason {
                RemovalReason::Left => pb::RemovalReason::Left,
                RemovalReason::Kicked => pb::RemovalReason::Kicked,
            }
            .into(),
        }),
        ConversationEvent::MemberUpdated {
            conversation_id,
            member: updated,
        } => Kind::MemberUpdated(pb::MemberUpdated {
            conversation_id: conversation_id.as_str().to_owned(),
            member: Some(member(updated)),
        }),
        ConversationEvent::OwnershipTransferred {
            conversation_id,
            previous_owner,
            new_owner,
        } => Kind::OwnershipTransferred(pb::OwnershipTransferred {
            conversation_id: conversation_id.as_str().to_owned(),
            previous_owner_id: previous_owner.as_str().to_owned(),
            new_owner_id: new_owner.as_str().to_owned(),
        }),
        ConversationEvent::FriendRequestChanged(request) => {
            Kind::FriendRequestChanged(pb::FriendRequestChanged {
                friend_request: Some(friend_request(request)),
            })
        }
        ConversationEvent::ContactAdded {
            user_id,
            contact_id,
        } => Kind::ContactAdded(pb::ContactAdded {
            user_id: user_id.as_str().to_owned(),
            contact_id: contact_id.as_str().to_owned(),
        }),
        ConversationEvent::ContactRemoved {
            user_id,
            contact_id,
        } => Kind::ContactRemoved(pb::ContactRemoved {
            user_id: user_id.as_str().to_owned(),
            contact_id: contact_id.as_str().to_owned(),
        }),
        ConversationEvent::BlockChanged {
            user_id,
            blocked_user_id,
            blocked,
            direct_conversation_id,
        } => Kind::BlockChanged(pb::BlockChanged {
            user_id: user_id.as_str().to_owned(),
            blocked_user_id: blocked_user_id.as_str().to_owned(),
            blocked: *blocked,
            direct_conversation_id: direct_conversation_id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
        }),
        ConversationEvent::JoinRequestChanged(request) => {
            Kind::JoinRequestChanged(pb::JoinRequestChanged {
                join_request: Some(join_request(request)),
            })
        }
    }
}

// Inbound values.

pub fn direction(value: i32) -> Option<RequestDirection> {
    match pb::FriendRequestDirection::try_from(value).ok()? {
        pb::FriendRequestDirection::Incoming => Some(RequestDirection::Incoming),
        pb::FriendRequestDirection::Outgoing => Some(RequestDirection::Outgoing),
        pb::FriendRequestDirection::Unspecified => None,
    }
}

/// A role to set; unknown or unspecified values are invalid.
pub fn role_in(value: i32) -> Result<Role, ValidationError> {
    match pb::MemberRole::try_from(value) {
        Ok(pb::MemberRole::Owner) => Ok(Role::Owner),
        Ok(pb::MemberRole::Admin) => Ok(Role::Admin),
        Ok(pb::MemberRole::Member) => Ok(Role::Member),
        _ => Err(ValidationError::Role),
    }
}

/// An invite policy; unspecified is `None` (the caller decides what that means).
pub fn invite_policy_in(value: i32) -> Result<Option<InvitePolicy>, ValidationError> {
    match pb::InvitePolicy::try_from(value) {
        Ok(pb::InvitePolicy::Unspecified) => Ok(None),
        Ok(pb::InvitePolicy::AnyMember) => Ok(Some(InvitePolicy::AnyMember)),
        Ok(pb::InvitePolicy::AdminsOnly) => Ok(Some(InvitePolicy::AdminsOnly)),
        Err(_) => Err(ValidationError::Policy),
    }
}

/// A join policy; unspecified is `None`.
pub fn join_policy_in(value: i32) -> Result<Option<JoinPolicy>, ValidationError> {
    match pb::JoinPolicy::try_from(value) {
        Ok(pb::JoinPolicy::Unspecified) => Ok(None),
        Ok(pb::JoinPolicy::Open) => Ok(Some(JoinPolicy::Open)),
        Ok(pb::JoinPolicy::Approval) => Ok(Some(JoinPolicy::Approval)),
        Ok(pb::JoinPolicy::InviteOnly) => Ok(Some(JoinPolicy::InviteOnly)),
        Err(_) => Err(ValidationError::Policy),
    }
}

/// Settings for a new group: unset parts take the defaults.
pub fn settings_in(settings: Option<&pb::GroupSettings>) -> Result<GroupSettings, ValidationError> {
    let Some(settings) = settings else {
        return Ok(GroupSettings::default());
    };
    Ok(GroupSettings {
        invite_policy: invite_policy_in(settings.invite_policy)?.unwrap_or_default(),
        join_policy: join_policy_in(settings.join_policy)?.unwrap_or_default(),
        mute_all: settings.mute_all,
    })
}

// Messages, as the message service publishes them and as the preview is stored.

pub fn snapshot(message: pb::Message) -> MessageSnapshot {
    MessageSnapshot {
        id: message.id,
        seq: message.seq,
        sender_id: message.sender_id,
        client_msg_id: message.client_msg_id,
        message_type: message.r#type,
        body_json: message.body_json,
        reply_to: message.reply_to,
        mentions: message.mentions,
        mention_all: message.mention_all,
        created_at_ms: message.created_at_ms,
        edited_at_ms: message.edited_at_ms,
        recalled: message.recalled,
    }
}

fn to_message(snapshot: &MessageSnapshot) -> pb::Message {
    pb::Message {
        id: snapshot.id.clone(),
        conversation_id: String::new(),
        seq: snapshot.seq,
        sender_id: snapshot.sender_id.clone(),
        client_msg_id: snapshot.client_msg_id.clone(),
        r#type: snapshot.message_type,
        body_json: snapshot.body_json.clone(),
        reply_to: snapshot.reply_to.clone(),
        mentions: snapshot.mentions.clone(),
        mention_all: snapshot.mention_all,
        created_at_ms: snapshot.created_at_ms,
        edited_at_ms: snapshot.edited_at_ms,
        recalled: snapshot.recalled,
    }
}

/// The stored form of a preview: an encoded `im.v1.Message`.
pub fn encode_snapshot(snapshot: &MessageSnapshot) -> Vec<u8> {
    to_message(snapshot).encode_to_vec()
}

pub fn decode_snapshot(bytes: &[u8]) -> Option<MessageSnapshot> {
    pb::Message::decode(bytes).ok().map(snapshot)
}
