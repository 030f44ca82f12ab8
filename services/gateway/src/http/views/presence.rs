//! Online status, as presence reports it: the items of `GET /api/v1/presence` and the
//! `data` of `presence` frames.

use super::optional_time;
use chrono::{DateTime, Utc};
use im_contracts::v1::UserPresence;
use serde::Serialize;
use utoipa::ToSchema;

/// One user's online status.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceView {
    pub user_id: String,
    /// At least one device is connected.
    pub online: bool,
    /// Online: when last confirmed connected; offline: when last seen; `null` when
    /// never seen.
    pub last_seen: Option<DateTime<Utc>>,
}

impl PresenceView {
    pub fn new(user_id: String, online: bool, last_seen_ms: i64) -> Self {
        Self {
            user_id,
            online,
            last_seen: optional_time(last_seen_ms),
        }
    }
}

impl From<UserPresence> for PresenceView {
    fn from(presence: UserPresence) -> Self {
        Self::new(presence.user_id, presence.online, presence.last_seen_ms)
    }
}
