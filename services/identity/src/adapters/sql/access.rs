//! Access rules, role assignments and role inheritance.

use super::entities::{access_policy, role_link, user, user_role};
use super::{SqlStore, insert_error};
use crate::domain::{AssignableRole, Policy, RoleAssignment, RoleLink, UserId};
use crate::ports::{AccessRepository, RoleAssignOutcome, StoreError};
use anyhow::Context as _;
use async_trait::async_trait;
use im_access::{Effect, Rule};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

/// What makes two rules the same, for the unique index: SHA-256 (hex) of the four parts.
/// Indexing the patterns themselves would exceed MySQL's key length with utf8mb4. The
/// patterns are length-prefixed, so no two different rules share an input. Stored keys
/// depend on this exact text: changing it needs a migration that recomputes them.
pub fn rule_key(rule: &Rule) -> String {
    im_token::secret::token_hash(&format!(
        "{}\0{}:{}\0{}:{}\0{}",
        rule.subject,
        rule.object.len(),
        rule.object,
        rule.action.len(),
        rule.action,
        rule.effect.as_str(),
    ))
}

fn to_policy(model: access_policy::Model) -> anyhow::Result<Policy> {
    let effect = Effect::parse(&model.effect)
        .with_context(|| format!("stored policy {} has effect {:?}", model.id, model.effect))?;
    Ok(Policy {
        id: model.id,
        rule: Rule {
            subject: model.subject,
            object: model.object,
            action: model.action,
            effect,
        },
        actor_id: model.actor_id,
        created_at_ms: model.created_at_ms,
    })
}

#[async_trait]
impl AccessRepository for SqlStore {
    async fn policies(&self) -> anyhow::Result<Vec<Policy>> {
        access_policy::Entity::find()
            .order_by_asc(access_policy::Column::CreatedAtMs)
            .order_by_asc(access_policy::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_policy)
            .collect()
    }

    async fn insert_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        let rule = &policy.rule;
        let row = access_policy::ActiveModel {
            id: Set(policy.id.clone()),
            rule_key: Set(rule_key(rule)),
            subject: Set(rule.subject.clone()),
            object: Set(rule.object.clone()),
            action: Set(rule.action.clone()),
            effect: Set(rule.effect.as_str().to_owned()),
            actor_id: Set(policy.actor_id.clone()),
            created_at_ms: Set(policy.created_at_ms),
        };
        access_policy::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn delete_policy(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = access_policy::Entity::delete_by_id(id)
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    async fn role_assignments(
        &self,
        role: Option<&AssignableRole>,
        user_id: Option<&UserId>,
    ) -> anyhow::Result<Vec<RoleAssignment>> {
        let mut query = user_role::Entity::find()
            .order_by_asc(user_role::Column::Role)
            .order_by_asc(user_role::Column::UserId);
        if let Some(role) = role {
            query = query.filter(user_role::Column::Role.eq(role.as_str()));
        }
        if let Some(user_id) = user_id {
            query = query.filter(user_role::Column::UserId.eq(user_id.as_str()));
        }
        Ok(query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| RoleAssignment {
                user_id: UserId::from_stored(row.user_id),
                role: row.role,
            })
            .collect())
    }

    async fn role_links(&self) -> anyhow::Result<Vec<RoleLink>> {
        Ok(role_link::Entity::find()
            .order_by_asc(role_link::Column::Role)
            .order_by_asc(role_link::Column::Parent)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| RoleLink {
                role: row.role,
                parent: row.parent,
            })
            .collect())
    }

    async fn assign_role(
        &self,
        user_id: &UserId,
        role: &AssignableRole,
    ) -> anyhow::Result<RoleAssignOutcome> {
        let txn = self.db.begin().await?;
        let row = user_role::ActiveModel {
            user_id: Set(user_id.as_str().to_owned()),
            role: Set(role.as_str().to_owned()),
        };
        match user_role::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            Ok(_) => {}
            Err(error) if im_runtime::db::is_unique_violation(&error) => {
                return Ok(RoleAssignOutcome::AlreadyAssigned);
            }
            Err(error) => return Err(error.into()),
        }
        // Checked after the insert, in the same transaction: an account deletion either
        // committed first and shows here, or deletes this row when it commits (it waits
        // for it on MySQL; SQLite runs one writer at a time).
        let live = user::Entity::find_by_id(user_id.as_str())
            .filter(user::Column::DeletedAtMs.is_null())
            .one(&txn)
            .await?
            .is_some();
        if !live {
            txn.rollback().await?;
            return Ok(RoleAssignOutcome::NoSuchUser);
        }
        txn.commit().await?;
        Ok(RoleAssignOutcome::Assigned)
    }

    async fn unassign_role(&self, user_id: &UserId, role: &AssignableRole) -> anyhow::Result<bool> {
        let deleted = user_role::Entity::delete_many()
            .filter(user_role::Column::UserId.eq(user_id.as_str()))
            .filter(user_role::Column::Role.eq(role.as_str()))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(subject: &str, object: &str, action: &str, effect: Effect) -> Rule {
        Rule {
            subject: subject.into(),
            object: object.into(),
            action: action.into(),
            effect,
        }
    }

    #[test]
    fn rule_keys_tell_every_part_apart() {
        let base = rule("user", "/a", "GET", Effect::Allow);
        let key = rule_key(&base);
        assert_eq!(key.len(), 64, "fits the indexed column");
        assert_eq!(key, rule_key(&base.clone()));
        for other in [
            rule("admin", "/a", "GET", Effect::Allow),
            rule("user", "/b", "GET", Effect::Allow),
            rule("user", "/a", "POST", Effect::Allow),
            rule("user", "/a", "GET", Effect::Deny),
            // a separator inside a pattern cannot shift a part into its neighbour
            rule("user", "/a\u{0}1:G", "ET", Effect::Allow),
        ] {
            assert_ne!(rule_key(&other), key, "{other:?}");
        }
    }
}
