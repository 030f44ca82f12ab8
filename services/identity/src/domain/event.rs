//! What identity tells the rest of the system (the gateways above all) when access is
//! taken away or given back, or when the rules of who may do what change.

use super::{Ban, IpBlock, RevokedSession, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEvent {
    SessionRevoked(RevokedSession),
    UserBanned(Ban),
    UserUnbanned(UserId),
    IpBlocked(IpBlock),
    IpUnblocked {
        id: String,
    },
    /// Rules or role assignments changed; `user_id` is the user whose roles changed.
    AccessChanged {
        user_id: Option<UserId>,
    },
}

impl IdentityEvent {
    /// The ordering key: events about one user stay in order; IP entries share one key,
    /// and so do access changes (gateways reload the rules whole, in order).
    pub fn key(&self) -> &str {
        match self {
            Self::SessionRevoked(revoked) => revoked.user_id.as_str(),
            Self::UserBanned(ban) => ban.user_id.as_str(),
            Self::UserUnbanned(user_id) => user_id.as_str(),
            Self::IpBlocked(_) | Self::IpUnblocked { .. } => "ip-blocks",
            Self::AccessChanged { .. } => "access",
        }
    }
}
