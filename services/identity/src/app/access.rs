//! Access control: the rules gateways enforce and who holds which role. Identity only
//! stores them; every change is announced (`AccessChanged`, key `access`) so gateways
//! reload the rules whole and enforce the new ones within a second.
//!
//! Nothing here stops an administrator from locking administrators out — removing the
//! last `admin` assignment, or the rule that lets `admin` reach the admin API. That is
//! deliberate: the store cannot tell a mistake from a decision, and the operator can
//! always recover with `im admin create-user --admin`, which bypasses the rules.

use super::{App, AppError, AppResult};
use crate::domain::{
    ActorId, AssignableRole, IdentityEvent, Policy, RoleAssignment, RoleLink, UserId,
    ValidationError,
};
use crate::ports::{AccessRepository, EventPublisher, Ports, RoleAssignOutcome, StoreError};
use im_access::Rule;

/// Role assignments as listed for administrators, with the inheritance that gives them
/// meaning.
#[derive(Debug, Clone, Default)]
pub struct RoleAssignments {
    pub assignments: Vec<RoleAssignment>,
    pub links: Vec<RoleLink>,
}

impl<P: Ports> App<P> {
    /// Every rule, oldest first.
    pub async fn list_policies(&self) -> AppResult<Vec<Policy>> {
        Ok(self.store.policies().await?)
    }

    /// Stores a rule after checking that every gateway can load it: `object` and
    /// `action` must be valid, bounded regular expressions, `effect` `allow` or `deny`.
    pub async fn add_policy(
        &self,
        subject: &str,
        object: &str,
        action: &str,
        effect: &str,
        actor_id: &str,
    ) -> AppResult<Policy> {
        let rule = Rule::parse(subject, object, action, effect).map_err(ValidationError::Policy)?;
        let actor = ActorId::parse(actor_id)?;
        let policy = Policy::new(rule, actor, self.now_ms());
        match self.store.insert_policy(&policy).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => return Err(AppError::PolicyExists),
            Err(StoreError::Other(error)) => return Err(error.into()),
        }
        tracing::info!(
            id = %policy.id,
            subject = %policy.rule.subject,
            object = %policy.rule.object,
            action = %policy.rule.action,
            effect = %policy.rule.effect,
            actor = %policy.actor_id,
            "access policy added"
        );
        self.announce_access_changed(None).await;
        Ok(policy)
    }

    pub async fn remove_policy(&self, id: &str, actor_id: &str) -> AppResult<()> {
        let actor = ActorId::parse(actor_id)?;
        if id.is_empty() || id.len() > 64 || !self.store.delete_policy(id).await? {
            return Err(AppError::PolicyNotFound);
        }
        tracing::info!(id, actor = actor.as_str(), "access policy removed");
        self.announce_access_changed(None).await;
        Ok(())
    }

    /// Stored role assignments, those of `role` and of `user_id` only when they are not
    /// empty, with every inheritance link. The implicit role `user` is never stored, so
    /// filtering by it is refused rather than answered with a misleading empty list.
    pub async fn list_role_assignments(
        &self,
        role: &str,
        user_id: &str,
    ) -> AppResult<RoleAssignments> {
        let role = match role {
            "" => None,
            role => Some(AssignableRole::parse(role)?),
        };
        let user_id = match user_id {
            "" => None,
            // No user can have this id, so no one matches.
            text => match UserId::parse(text) {
                Some(id) => Some(id),
                None => return self.links_only().await,
            },
        };
        Ok(RoleAssignments {
            assignments: self
                .store
                .role_assignments(role.as_ref(), user_id.as_ref())
                .await?,
            links: self.store.role_links().await?,
        })
    }

    async fn links_only(&self) -> AppResult<RoleAssignments> {
        Ok(RoleAssignments {
            assignments: Vec::new(),
            links: self.store.role_links().await?,
        })
    }

    /// Gives a live user a role. The access tokens the user already holds keep listing
    /// the old roles until they are renewed; gateways enforce the live assignment.
    pub async fn assign_role(
        &self,
        user_id: &str,
        role: &str,
        actor_id: &str,
    ) -> AppResult<RoleAssignment> {
        let role = AssignableRole::parse(role)?;
        let actor = ActorId::parse(actor_id)?;
        let user_id = UserId::parse(user_id).ok_or(AppError::UserNotFound)?;
        match self.store.assign_role(&user_id, &role).await? {
            RoleAssignOutcome::Assigned => {}
            RoleAssignOutcome::AlreadyAssigned => return Err(AppError::RoleAssigned),
            RoleAssignOutcome::NoSuchUser => return Err(AppError::UserNotFound),
        }
        tracing::info!(user_id = %user_id, role = role.as_str(), actor = actor.as_str(), "role assigned");
        self.announce_access_changed(Some(user_id.clone())).await;
        Ok(RoleAssignment {
            user_id,
            role: role.as_str().to_owned(),
        })
    }

    /// Takes a role from a user. Taking `admin` from the last administrator is allowed
    /// (see the module documentation).
    pub async fn unassign_role(&self, user_id: &str, role: &str, actor_id: &str) -> AppResult<()> {
        let role = AssignableRole::parse(role)?;
        let actor = ActorId::parse(actor_id)?;
        let user_id = UserId::parse(user_id).ok_or(AppError::RoleNotAssigned)?;
        if !self.store.unassign_role(&user_id, &role).await? {
            return Err(AppError::RoleNotAssigned);
        }
        tracing::info!(user_id = %user_id, role = role.as_str(), actor = actor.as_str(), "role unassigned");
        self.announce_access_changed(Some(user_id)).await;
        Ok(())
    }

    async fn announce_access_changed(&self, user_id: Option<UserId>) {
        self.events
            .publish(IdentityEvent::AccessChanged { user_id })
            .await;
    }
}
