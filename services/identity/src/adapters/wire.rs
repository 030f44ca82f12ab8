//! Domain values as protobuf messages (`im.v1`).

use crate::app::TokenPair;
use crate::domain::{Ban, IdentityEvent, IpBlock, RevokedSession, Session, User};
use im_contracts::v1 as pb;
use im_contracts::v1::identity_event::Kind;

pub fn user(user: User) -> pb::User {
    pb::User {
        id: user.id.as_str().to_owned(),
        username: user.username,
        display_name: user.display_name,
        avatar_file_id: user.avatar_file_id,
        bio: user.bio,
        created_at_ms: user.created_at_ms,
        roles: user.roles,
    }
}

pub fn session(session: Session, current: bool) -> pb::Session {
    pb::Session {
        id: session.id.as_str().to_owned(),
        user_id: session.user_id.as_str().to_owned(),
        device_id: session.device_id,
        user_agent: session.user_agent,
        client_ip: session.client_ip,
        created_at_ms: session.created_at_ms,
        last_used_at_ms: session.last_used_at_ms,
        expires_at_ms: session.expires_at_ms,
        current,
    }
}

pub fn token_pair(pair: TokenPair) -> pb::TokenPair {
    pb::TokenPair {
        access_token: pair.access_token,
        token_type: "Bearer".to_owned(),
        expires_in_s: pair.expires_in_s,
        refresh_token: pair.refresh_token,
        refresh_expires_in_s: pair.refresh_expires_in_s,
        user: Some(user(pair.user)),
        session_id: pair.session_id.as_str().to_owned(),
    }
}

pub fn ban(ban: Ban) -> pb::Ban {
    pb::Ban {
        user_id: ban.user_id.as_str().to_owned(),
        reason: ban.reason,
        until_ms: ban.until_ms.unwrap_or(0),
        actor_id: ban.actor_id,
        created_at_ms: ban.created_at_ms,
    }
}

pub fn ip_block(block: IpBlock) -> pb::IpBlock {
    pb::IpBlock {
        id: block.id,
        cidr: block.cidr,
        reason: block.reason,
        until_ms: block.until_ms.unwrap_or(0),
        created_at_ms: block.created_at_ms,
    }
}

pub fn revoked_session(revoked: RevokedSession) -> pb::RevokedSession {
    pb::RevokedSession {
        session_id: revoked.session_id.as_str().to_owned(),
        user_id: revoked.user_id.as_str().to_owned(),
        forget_after_ms: revoked.forget_after_ms,
    }
}

pub fn event_kind(event: IdentityEvent) -> Kind {
    match event {
        IdentityEvent::SessionRevoked(revoked) => Kind::SessionRevoked(revoked_session(revoked)),
        IdentityEvent::UserBanned(banned) => Kind::UserBanned(ban(banned)),
        IdentityEvent::UserUnbanned(user_id) => Kind::UserUnbanned(pb::UserUnbanned {
            user_id: user_id.as_str().to_owned(),
        }),
        IdentityEvent::IpBlocked(block) => Kind::IpBlocked(ip_block(block)),
        IdentityEvent::IpUnblocked { id } => Kind::IpUnblocked(pb::IpUnblocked { id }),
    }
}
