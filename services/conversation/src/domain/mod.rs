//! The conversation domain: who may talk to whom. Value objects that only hold valid
//! values ("parse, don't validate"), the records the service keeps (friend requests,
//! contacts, blocks, conversations, members, join requests), the rules deciding each
//! change, and the events the service announces. Pure: no I/O, no async, no storage or
//! wire types.

mod activity;
mod contact;
mod conversation;
mod error;
mod event;
mod ids;
mod join;
mod member;
mod text;

pub use activity::{Activity, MessageSnapshot, unread};
pub use contact::{
    Befriending, BlockedUser, Blocks, Contact, FriendRequest, FriendRequestStatus, PairState,
    RequestDirection, befriend,
};
pub use conversation::{
    Conversation, ConversationKind, DirectPolicy, GroupSettings, InvitePolicy, JoinPolicy,
};
pub use error::{Refusal, ValidationError};
pub use event::{
    ConversationEvent, EventEnvelope, JoinMethod, MembershipChange, MembershipEntry,
    MembershipRecord, RemovalReason,
};
pub use ids::{ConversationId, RequestId, UserId, UserPair};
pub use join::{JoinRequest, JoinRequestStatus};
pub use member::{
    Leaving, Member, MemberUpdate, Role, leaving, may_discipline, may_invite, may_manage,
    updated_member,
};
pub use text::{Announcement, AvatarFileId, GroupName, Remark, RequestMessage};

/// A fresh time-ordered id (uuid v7), so rows inserted together stay near each other and
/// ids sort by creation.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
