//! Users and roles.

use super::entities::{session, user, user_role};
use super::{SqlStore, insert_error};
use crate::domain::{Account, NewUser, ProfileUpdate, Role, SessionId, User, UserId};
use crate::ports::{StoreError, UserRepository};
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use std::collections::HashMap;

/// `LIKE` escape character; `%`, `_` and itself are escaped in user input.
const ESCAPE: char = '\\';

/// `prefix` as a `LIKE` pattern that matches exactly the strings starting with it.
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            pattern.push(ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn to_user(model: user::Model, roles: Vec<String>) -> User {
    User {
        id: UserId::from_stored(model.id),
        username: model.username,
        display_name: model.display_name,
        avatar_file_id: model.avatar_file_id,
        bio: model.bio,
        created_at_ms: model.created_at_ms,
        roles: Role::effective(roles),
    }
}

/// The stored roles of each of `ids`.
async fn roles_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(roles);
    }
    let rows = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(ids.iter().cloned()))
        .all(db)
        .await?;
    for row in rows {
        roles.entry(row.user_id).or_default().push(row.role);
    }
    Ok(roles)
}

impl SqlStore {
    async fn with_roles(&self, models: Vec<user::Model>) -> anyhow::Result<Vec<User>> {
        let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
        let mut roles = roles_of(&self.db, &ids).await?;
        Ok(models
            .into_iter()
            .map(|model| {
                let stored = roles.remove(&model.id).unwrap_or_default();
                to_user(model, stored)
            })
            .collect())
    }

    async fn account(&self, model: Option<user::Model>) -> anyhow::Result<Option<Account>> {
        let Some(model) = model else {
            return Ok(None);
        };
        let password_hash = model.password_hash.clone();
        let deleted_at_ms = model.deleted_at_ms;
        let user = self.with_roles(vec![model]).await?.pop();
        Ok(user.map(|user| Account {
            user,
            password_hash,
            deleted_at_ms,
        }))
    }
}

#[async_trait]
impl UserRepository for SqlStore {
    async fn insert_user(&self, new: &NewUser) -> Result<(), StoreError> {
        let row = user::ActiveModel {
            id: Set(new.id.as_str().to_owned()),
            username: Set(new.username.as_str().to_owned()),
            username_key: Set(new.username.key()),
            display_name: Set(new.display_name.as_str().to_owned()),
            avatar_file_id: Set(String::new()),
            bio: Set(String::new()),
            password_hash: Set(new.password_hash.clone()),
            created_at_ms: Set(new.created_at_ms),
            updated_at_ms: Set(new.created_at_ms),
            deleted_at_ms: Set(None),
        };
        user::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn account_by_id(&self, id: &UserId) -> anyhow::Result<Option<Account>> {
        let model = user::Entity::find_by_id(id.as_str()).one(&self.db).await?;
        self.account(model).await
    }

    async fn account_by_username(&self, key: &str) -> anyhow::Result<Option<Account>> {
        let model = user::Entity::find()
            .filter(user::Column::UsernameKey.eq(key))
            .one(&self.db)
            .await?;
        self.account(model).await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> anyhow::Result<Vec<User>> {
        let models = user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().map(|id| id.as_str().to_owned())))
            .filter(user::Column::DeletedAtMs.is_null())
            .all(&self.db)
            .await?;
        self.with_roles(models).await
    }

    async fn search_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<User>> {
        let mut query = user::Entity::find().filter(user::Column::DeletedAtMs.is_null());
        if !prefix.is_empty() {
            let pattern = LikeExpr::new(starts_with_pattern(prefix)).escape(ESCAPE);
            query = query.filter(Expr::col(user::Column::UsernameKey).like(pattern));
        }
        if let Some(after) = after {
            query = query.filter(user::Column::UsernameKey.gt(after));
        }
        let models = query
            .order_by_asc(user::Column::UsernameKey)
            .limit(limit)
            .all(&self.db)
            .await?;
        self.with_roles(models).await
    }

    async fn update_profile(
        &self,
        id: &UserId,
        update: &ProfileUpdate,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let mut query = user::Entity::update_many()
            .col_expr(user::Column::UpdatedAtMs, Expr::value(now_ms))
            .filter(user::Column::Id.eq(id.as_str()))
            .filter(user::Column::DeletedAtMs.is_null());
        if let Some(name) = &update.display_name {
            query = query.col_expr(user::Column::DisplayName, Expr::value(name.as_str()));
        }
        if let Some(avatar) = &update.avatar_file_id {
            query = query.col_expr(user::Column::AvatarFileId, Expr::value(avatar.as_str()));
        }
        if let Some(bio) = &update.bio {
            query = query.col_expr(user::Column::Bio, Expr::value(bio.as_str()));
        }
        Ok(query.exec(&self.db).await?.rows_affected > 0)
    }

    async fn set_password_hash(&self, id: &UserId, hash: &str, now_ms: i64) -> anyhow::Result<()> {
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAtMs, Expr::value(now_ms))
            .filter(user::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, id: &UserId, now_ms: i64) -> anyhow::Result<Vec<SessionId>> {
        let txn = self.db.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::DeletedAtMs, Expr::value(now_ms))
            .col_expr(user::Column::UpdatedAtMs, Expr::value(now_ms))
            .col_expr(user::Column::PasswordHash, Expr::value(""))
            .col_expr(
                user::Column::DisplayName,
                Expr::value(Account::DELETED_DISPLAY_NAME),
            )
            .col_expr(user::Column::AvatarFileId, Expr::value(""))
            .col_expr(user::Column::Bio, Expr::value(""))
            .filter(user::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await?;
        user_role::Entity::delete_many()
            .filter(user_role::Column::UserId.eq(id.as_str()))
            .exec(&txn)
            .await?;
        let revoked = super::sessions::revoke_where(
            &txn,
            session::Column::UserId.eq(id.as_str()),
            "account_deleted",
            now_ms,
        )
        .await?;
        txn.commit().await?;
        Ok(revoked)
    }

    async fn add_role(&self, id: &UserId, role: &str) -> anyhow::Result<()> {
        let row = user_role::ActiveModel {
            user_id: Set(id.as_str().to_owned()),
            role: Set(role.to_owned()),
        };
        match user_role::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(()),
            // Holding the role already is the desired state.
            Err(error) if im_runtime::db::is_unique_violation(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(starts_with_pattern("bob"), "bob%");
        assert_eq!(starts_with_pattern("%"), "\\%%");
        assert_eq!(starts_with_pattern("a_b"), "a\\_b%");
        assert_eq!(starts_with_pattern("\\"), "\\\\%");
        assert_eq!(starts_with_pattern(""), "%");
    }
}
