//! What identity tells the rest of the system (the gateways above all) when access is
//! taken away or given back.

use super::{Ban, IpBlock, RevokedSession, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEvent {
    SessionRevoked(RevokedSession),
    UserBanned(Ban),
    UserUnbanned(UserId),
    IpBlocked(IpBlock),
    IpUnblocked { id: String },
}

impl IdentityEvent {
    /// The ordering key: events about one user stay in order; IP entries share one key.
    pub fn key(&self) -> &str {
        match self {
            Self::SessionRevoked(revoked) => revoked.user_id.as_str(),
            Self::UserBanned(ban) => ban.user_id.as_str(),
            Self::UserUnbanned(user_id) => user_id.as_str(),
            Self::IpBlocked(_) | Self::IpUnblocked { .. } => "ip-blocks",
        }
    }
}
