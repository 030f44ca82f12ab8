//! Access control: the rules gateways enforce (Casbin policies), who holds which role,
//! and which role inherits which. Rules are judged by `im_access`, the same crate gateways
//! load them with, so identity never stores a rule a gateway would refuse.

use super::{ActorId, UserId, ValidationError, new_id};
use im_access::{IMPLICIT_ROLE, Rule};

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub rule: Rule,
    pub actor_id: String,
    pub created_at_ms: i64,
}

impl Policy {
    pub fn new(rule: Rule, actor: ActorId, now_ms: i64) -> Self {
        Self {
            id: new_id(),
            rule,
            actor_id: actor.as_str().to_owned(),
            created_at_ms: now_ms,
        }
    }
}

/// A role that can be given to or taken from a user: a valid role name other than the
/// implicit `user`, which every signed-in user holds without being assigned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignableRole(String);

impl AssignableRole {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text == IMPLICIT_ROLE {
            return Err(ValidationError::ImplicitRole);
        }
        im_access::validate_role(text).map_err(|_| ValidationError::Role)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A role held by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub user_id: UserId,
    pub role: String,
}

/// `role` has every permission of `parent` (`admin` inherits `user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLink {
    pub role: String,
    pub parent: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_implicit_role_is_not_assignable() {
        assert_eq!(
            AssignableRole::parse("user"),
            Err(ValidationError::ImplicitRole)
        );
        assert_eq!(AssignableRole::parse("admin").unwrap().as_str(), "admin");
        assert_eq!(
            AssignableRole::parse("moderator-2").unwrap().as_str(),
            "moderator-2"
        );
        for bad in ["", "Admin", "ad min", "admin\n", "rôle", &"r".repeat(33)] {
            assert_eq!(
                AssignableRole::parse(bad),
                Err(ValidationError::Role),
                "{bad:?}"
            );
        }
    }
}
