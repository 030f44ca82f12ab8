//! Domain values as protobuf messages (`im.v1`).

use crate::app::TokenPair;
use crate::domain::{
    Ban, IdentityEvent, IpBlock, Policy, RevokedSession, RoleAssignment, RoleLink, Session, User,
};
use im_access::Effect;
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
        IdentityEvent::AccessChanged { user_id } => Kind::AccessChanged(pb::AccessChanged {
            user_id: user_id.map(|id| id.as_str().to_owned()).unwrap_or_default(),
        }),
    }
}

pub fn policy(policy: Policy) -> pb::Policy {
    let effect = match policy.rule.effect {
        Effect::Allow => pb::PolicyEffect::Allow,
        Effect::Deny => pb::PolicyEffect::Deny,
    };
    pb::Policy {
        id: policy.id,
        subject: policy.rule.subject,
        object: policy.rule.object,
        action: policy.rule.action,
        effect: effect.into(),
    }
}

/// The effect's name as rules spell it; empty (which the rule check refuses) when it is
/// unspecified or unknown to this version.
pub fn effect_name(effect: i32) -> &'static str {
    match pb::PolicyEffect::try_from(effect) {
        Ok(pb::PolicyEffect::Allow) => Effect::Allow.as_str(),
        Ok(pb::PolicyEffect::Deny) => Effect::Deny.as_str(),
        Ok(pb::PolicyEffect::Unspecified) | Err(_) => "",
    }
}

pub fn role_assignment(assignment: RoleAssignment) -> pb::RoleAssignment {
    pb::RoleAssignment {
        user_id: assignment.user_id.as_str().to_owned(),
        role: assignment.role,
    }
}

pub fn role_link(link: RoleLink) -> pb::RoleLink {
    pb::RoleLink {
        role: link.role,
        parent: link.parent,
    }
}
