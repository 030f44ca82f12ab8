//! Friend requests, contacts and blocks, as the conversation service reports them.

use super::{UserView, optional_time, time};
use chrono::{DateTime, Utc};
use im_contracts::v1::{BlockedUser, Contact, FriendRequest, FriendRequestStatus, User};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestStatusView {
    Pending,
    Accepted,
    Rejected,
    Cancelled,
}

/// A request from one user to become another user's contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct FriendRequestView {
    pub id: String,
    pub from_user_id: String,
    pub to_user_id: String,
    /// The note sent with the request; `""` when none.
    pub message: String,
    pub status: FriendRequestStatusView,
    pub created_at: DateTime<Utc>,
    /// When it was accepted, rejected or cancelled; `null` while pending.
    pub decided_at: Option<DateTime<Utc>>,
    /// Changes when the sender repeats a pending request.
    pub updated_at: DateTime<Utc>,
}

impl From<FriendRequest> for FriendRequestView {
    fn from(request: FriendRequest) -> Self {
        let status = match request.status() {
            FriendRequestStatus::Accepted => FriendRequestStatusView::Accepted,
            FriendRequestStatus::Rejected => FriendRequestStatusView::Rejected,
            FriendRequestStatus::Cancelled => FriendRequestStatusView::Cancelled,
            // A request that was never decided is pending, whatever the wire said.
            FriendRequestStatus::Pending | FriendRequestStatus::Unspecified => {
                FriendRequestStatusView::Pending
            }
        };
        Self {
            id: request.id,
            from_user_id: request.from_user_id,
            to_user_id: request.to_user_id,
            message: request.message,
            status,
            created_at: time(request.created_at_ms),
            decided_at: optional_time(request.decided_at_ms),
            updated_at: time(request.updated_at_ms),
        }
    }
}

/// One entry of the caller's contact list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    /// The contact (the other user).
    pub user_id: String,
    /// The caller's private name for the contact; `""` when none.
    pub remark: String,
    /// The contact's public profile; `null` when the account no longer exists or
    /// identity could not be asked.
    pub user: Option<UserView>,
    /// When the two became contacts.
    pub created_at: DateTime<Utc>,
}

impl ContactView {
    pub fn new(contact: Contact, user: Option<User>) -> Self {
        Self {
            user_id: contact.user_id,
            remark: contact.remark,
            user: user.map(UserView::public),
            created_at: time(contact.created_at_ms),
        }
    }
}

/// One entry of the caller's block list.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockView {
    /// The blocked user.
    pub user_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<BlockedUser> for BlockView {
    fn from(block: BlockedUser) -> Self {
        Self {
            user_id: block.user_id,
            created_at: time(block.created_at_ms),
        }
    }
}
