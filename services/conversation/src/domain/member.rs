//! Members and their roles, and the rules of who may do what to whom inside a group.

use super::{GroupSettings, InvitePolicy, Refusal, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        match text {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            _ => Self::Member,
        }
    }

    /// Owners and admins manage a group.
    pub fn is_manager(self) -> bool {
        self >= Self::Admin
    }
}

/// One user's membership of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    /// 0 when not muted.
    pub muted_until_ms: i64,
    pub joined_at_ms: i64,
    /// The member's read cursor (fed by message events).
    pub read_seq: u64,
}

impl Member {
    /// A new member has read everything sent before joining.
    pub fn new(user_id: UserId, role: Role, now_ms: i64, read_seq: u64) -> Self {
        Self {
            user_id,
            role,
            muted_until_ms: 0,
            joined_at_ms: now_ms,
            read_seq,
        }
    }

    pub fn is_muted(&self, now_ms: i64) -> bool {
        self.muted_until_ms > now_ms
    }

    /// Whether the member may not send now: muted personally, or a plain member of a
    /// group where everyone but the owner and admins is muted.
    pub fn is_silenced(&self, settings: &GroupSettings, now_ms: i64) -> bool {
        self.is_muted(now_ms) || (settings.mute_all && !self.role.is_manager())
    }
}

/// Changes asked for one member; each part is checked on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberUpdate {
    /// Admin or member; ownership moves by transfer only.
    pub role: Option<Role>,
    /// 0 unmutes.
    pub muted_until_ms: Option<i64>,
}

/// What leaving means for the member who leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    Leave,
    /// The owner was the last member: the group goes with them.
    Dissolve,
}

/// Settings, announcements and join requests are for the owner and admins.
pub fn may_manage(actor: &Member) -> Result<(), Refusal> {
    if actor.role.is_manager() {
        Ok(())
    } else {
        Err(Refusal::InsufficientRole)
    }
}

pub fn may_invite(actor: &Member, settings: &GroupSettings) -> Result<(), Refusal> {
    match settings.invite_policy {
        InvitePolicy::AnyMember => Ok(()),
        InvitePolicy::AdminsOnly => may_manage(actor),
    }
}

/// Kicking and muting: the owner acts on anyone but himself, an admin on plain members.
pub fn may_discipline(actor: &Member, target: &Member) -> Result<(), Refusal> {
    let allowed = match actor.role {
        Role::Owner => target.user_id != actor.user_id,
        Role::Admin => target.role == Role::Member,
        Role::Member => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::InsufficientRole)
    }
}

/// `target` after `update` by `actor`: roles are the owner's to give (never his own),
/// mutes follow [`may_discipline`].
pub fn updated_member(
    actor: &Member,
    target: &Member,
    update: MemberUpdate,
) -> Result<Member, Refusal> {
    let mut next = target.clone();
    if let Some(role) = update.role {
        if actor.role != Role::Owner || target.role == Role::Owner {
            return Err(Refusal::InsufficientRole);
        }
        next.role = role;
    }
    if let Some(until) = update.muted_until_ms {
        may_discipline(actor, target)?;
        next.muted_until_ms = until;
    }
    Ok(next)
}

/// Whether `member` may leave a group of `member_count` members.
pub fn leaving(member: &Member, member_count: u64) -> Result<Leaving, Refusal> {
    match member.role {
        Role::Owner if member_count <= 1 => Ok(Leaving::Dissolve),
        Role::Owner => Err(Refusal::OwnerMustTransfer),
        Role::Admin | Role::Member => Ok(Leaving::Leave),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: Role) -> Member {
        Member::new(UserId::parse(name).unwrap(), role, 0, 0)
    }

    #[test]
    fn the_owner_disciplines_anyone_but_himself_admins_only_members() {
        let owner = member("o", Role::Owner);
        let admin = member("a", Role::Admin);
        let other_admin = member("a2", Role::Admin);
        let plain = member("m", Role::Member);
        assert!(may_discipline(&owner, &admin).is_ok());
        assert!(may_discipline(&owner, &plain).is_ok());
        assert!(may_discipline(&owner, &owner).is_err());
        assert!(may_discipline(&admin, &plain).is_ok());
        assert!(may_discipline(&admin, &other_admin).is_err());
        assert!(may_discipline(&admin, &owner).is_err());
        assert!(may_discipline(&plain, &member("m2", Role::Member)).is_err());
    }

    #[test]
    fn roles_are_the_owners_to_give() {
        let owner = member("o", Role::Owner);
        let admin = member("a", Role::Admin);
        let plain = member("m", Role::Member);
        let promote = MemberUpdate {
            role: Some(Role::Admin),
            muted_until_ms: None,
        };
        assert_eq!(
            updated_member(&owner, &plain, promote).unwrap().role,
            Role::Admin
        );
        assert_eq!(
            updated_member(&admin, &plain, promote),
            Err(Refusal::InsufficientRole)
        );
        assert_eq!(
            updated_member(&owner, &owner, promote),
            Err(Refusal::InsufficientRole)
        );
    }

    #[test]
    fn mute_all_silences_plain_members_only() {
        let settings = GroupSettings {
            mute_all: true,
            ..GroupSettings::default()
        };
        assert!(member("m", Role::Member).is_silenced(&settings, 0));
        assert!(!member("a", Role::Admin).is_silenced(&settings, 0));
        let mut muted = member("a", Role::Admin);
        muted.muted_until_ms = 100;
        assert!(muted.is_silenced(&GroupSettings::default(), 99));
        assert!(!muted.is_silenced(&GroupSettings::default(), 100));
    }

    #[test]
    fn the_owner_transfers_before_leaving_unless_alone() {
        assert_eq!(
            leaving(&member("o", Role::Owner), 3),
            Err(Refusal::OwnerMustTransfer)
        );
        assert_eq!(leaving(&member("o", Role::Owner), 1), Ok(Leaving::Dissolve));
        assert_eq!(leaving(&member("a", Role::Admin), 3), Ok(Leaving::Leave));
    }
}
