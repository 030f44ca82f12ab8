//! The JSON objects the public API answers with (API.md "Core objects"), made from
//! the services' messages: identity's here, the conversation service's in [`contacts`]
//! and [`conversations`], messages in [`messages`], online status in [`presence`]. Times are RFC 3339 UTC; "never" and "none" are `null`.

mod contacts;
mod conversations;
mod messages;
mod presence;

pub use contacts::{BlockView, ContactView, FriendRequestView};
pub use conversations::{
    ConversationView, InvitePolicyView, JoinPolicyView, JoinRequestView, MemberView,
};
pub use messages::{MessageView, message_view};
pub use presence::PresenceView;

use super::ApiError;
use chrono::{DateTime, Utc};
use im_contracts::v1::{Ban, IpBlock, Session, TokenPair, User};
use serde::Serialize;
use utoipa::ToSchema;

/// Unix milliseconds as a UTC time (the epoch for values out of range).
pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Unix milliseconds where `0` means "never".
pub fn optional_time(ms: i64) -> Option<DateTime<Utc>> {
    (ms != 0).then(|| time(ms))
}

/// `None` for the empty string (proto3's "unset").
pub fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// A field a service must always fill; its absence is that service's bug, not the
/// client's.
pub fn required<T>(value: Option<T>, what: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| malformed(what))
}

/// A 500 for a reply that breaks its contract (a missing field, an unknown enum value),
/// logged with the field it concerns.
pub fn malformed(what: &str) -> ApiError {
    tracing::error!(field = what, "a downstream reply broke its contract");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

/// A user's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// The uploaded file shown as avatar; `null` when none.
    pub avatar_file_id: Option<String>,
    pub bio: String,
    pub created_at: DateTime<Utc>,
    /// Shown to the user themself and to administrators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl UserView {
    /// As anyone may see it.
    pub fn public(user: User) -> Self {
        let mut view = Self::private(user);
        view.roles = None;
        view
    }

    /// As the user themself or an administrator sees it: with roles.
    pub fn private(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            avatar_file_id: non_empty(user.avatar_file_id),
            bio: user.bio,
            created_at: time(user.created_at_ms),
            roles: Some(user.roles),
        }
    }
}

/// A login session of one device.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub device_id: String,
    pub user_agent: String,
    pub client_ip: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        Self {
            id: session.id,
            device_id: session.device_id,
            user_agent: session.user_agent,
            client_ip: session.client_ip,
            created_at: time(session.created_at_ms),
            last_used_at: time(session.last_used_at_ms),
            expires_at: time(session.expires_at_ms),
            current: session.current,
        }
    }
}

/// A user ban.
#[derive(Debug, Serialize, ToSchema)]
pub struct BanView {
    pub user_id: String,
    pub reason: String,
    /// When the ban ends; `null` for never.
    pub until: Option<DateTime<Utc>>,
    /// The administrator who banned.
    pub actor_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<Ban> for BanView {
    fn from(ban: Ban) -> Self {
        Self {
            user_id: ban.user_id,
            reason: ban.reason,
            until: optional_time(ban.until_ms),
            actor_id: ban.actor_id,
            created_at: time(ban.created_at_ms),
        }
    }
}

/// An IP / CIDR blacklist entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct IpBlockView {
    pub id: String,
    pub cidr: String,
    pub reason: String,
    /// When the block ends; `null` for never.
    pub until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<IpBlock> for IpBlockView {
    fn from(block: IpBlock) -> Self {
        Self {
            id: block.id,
            cidr: block.cidr,
            reason: block.reason,
            until: optional_time(block.until_ms),
            created_at: time(block.created_at_ms),
        }
    }
}

/// An access token plus a refresh token (login and refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token stays valid.
    pub expires_in: u32,
    /// Opaque; rotated on every refresh.
    pub refresh_token: String,
    /// Seconds the refresh token stays valid.
    pub refresh_expires_in: u32,
    pub user: UserView,
    pub session_id: String,
}

impl TryFrom<Option<TokenPair>> for TokenView {
    type Error = ApiError;

    fn try_from(pair: Option<TokenPair>) -> Result<Self, ApiError> {
        let pair = required(pair, "tokens")?;
        Ok(Self {
            access_token: pair.access_token,
            token_type: non_empty(pair.token_type).unwrap_or_else(|| "Bearer".to_owned()),
            expires_in: pair.expires_in_s,
            refresh_token: pair.refresh_token,
            refresh_expires_in: pair.refresh_expires_in_s,
            user: UserView::private(required(pair.user, "tokens.user")?),
            session_id: pair.session_id,
        })
    }
}

/// One page of a list: `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Self {
            items,
            next_cursor: next_cursor.and_then(non_empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_and_zero_is_null() {
        let ban = BanView::from(Ban {
            user_id: "u1".into(),
            reason: "spam".into(),
            until_ms: 0,
            actor_id: "a1".into(),
            created_at_ms: 1_700_000_000_123,
        });
        let json = serde_json::to_value(ban).unwrap();
        assert_eq!(json["created_at"], "2023-11-14T22:13:20.123Z");
        assert!(json["until"].is_null());
    }

    #[test]
    fn public_profiles_hide_roles_and_empty_avatars_are_null() {
        let user = User {
            id: "u1".into(),
            roles: vec!["admin".into()],
            ..User::default()
        };
        let json = serde_json::to_value(UserView::public(user)).unwrap();
        assert!(json.get("roles").is_none());
        assert!(json["avatar_file_id"].is_null());
    }
}
