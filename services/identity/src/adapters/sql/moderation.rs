//! Bans and IP blocks.

use super::entities::{ip_block, user_ban};
use super::{SqlStore, insert_error};
use crate::domain::{Ban, IpBlock, UserId};
use crate::ports::{ModerationRepository, StoreError};
use async_trait::async_trait;
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

fn to_ban(model: user_ban::Model) -> Ban {
    Ban {
        user_id: UserId::from_stored(model.user_id),
        reason: model.reason,
        until_ms: model.until_ms,
        actor_id: model.actor_id,
        created_at_ms: model.created_at_ms,
    }
}

fn to_ip_block(model: ip_block::Model) -> IpBlock {
    IpBlock {
        id: model.id,
        cidr: model.cidr,
        reason: model.reason,
        until_ms: model.until_ms,
        actor_id: model.actor_id,
        created_at_ms: model.created_at_ms,
    }
}

/// Rows whose `until` column is unset (forever) or after `now_ms`.
fn in_force(until: impl ColumnTrait, now_ms: i64) -> Condition {
    Condition::any().add(until.is_null()).add(until.gt(now_ms))
}

#[async_trait]
impl ModerationRepository for SqlStore {
    async fn upsert_ban(&self, ban: &Ban) -> anyhow::Result<()> {
        let row = user_ban::ActiveModel {
            user_id: Set(ban.user_id.as_str().to_owned()),
            reason: Set(ban.reason.clone()),
            until_ms: Set(ban.until_ms),
            actor_id: Set(ban.actor_id.clone()),
            created_at_ms: Set(ban.created_at_ms),
        };
        user_ban::Entity::insert(row)
            .on_conflict(
                OnConflict::column(user_ban::Column::UserId)
                    .update_columns([
                        user_ban::Column::Reason,
                        user_ban::Column::UntilMs,
                        user_ban::Column::ActorId,
                        user_ban::Column::CreatedAtMs,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn ban(&self, user_id: &UserId) -> anyhow::Result<Option<Ban>> {
        Ok(user_ban::Entity::find_by_id(user_id.as_str())
            .one(&self.db)
            .await?
            .map(to_ban))
    }

    async fn delete_ban(&self, user_id: &UserId) -> anyhow::Result<bool> {
        let deleted = user_ban::Entity::delete_by_id(user_id.as_str())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    async fn active_bans(
        &self,
        now_ms: i64,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> anyhow::Result<Vec<Ban>> {
        let mut query = user_ban::Entity::find()
            .filter(in_force(user_ban::Column::UntilMs, now_ms))
            .order_by_asc(user_ban::Column::UserId);
        if let Some(after) = after {
            query = query.filter(user_ban::Column::UserId.gt(after));
        }
        if let Some(limit) = limit {
            query = query.limit(limit);
        }
        Ok(query.all(&self.db).await?.into_iter().map(to_ban).collect())
    }

    async fn insert_ip_block(&self, block: &IpBlock) -> Result<(), StoreError> {
        let row = ip_block::ActiveModel {
            id: Set(block.id.clone()),
            cidr: Set(block.cidr.clone()),
            reason: Set(block.reason.clone()),
            until_ms: Set(block.until_ms),
            actor_id: Set(block.actor_id.clone()),
            created_at_ms: Set(block.created_at_ms),
        };
        ip_block::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn ip_block_by_cidr(&self, cidr: &str) -> anyhow::Result<Option<IpBlock>> {
        Ok(ip_block::Entity::find()
            .filter(ip_block::Column::Cidr.eq(cidr))
            .one(&self.db)
            .await?
            .map(to_ip_block))
    }

    async fn delete_ip_block(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = ip_block::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(deleted.rows_affected > 0)
    }

    async fn active_ip_blocks(&self, now_ms: i64) -> anyhow::Result<Vec<IpBlock>> {
        Ok(ip_block::Entity::find()
            .filter(in_force(ip_block::Column::UntilMs, now_ms))
            .order_by_asc(ip_block::Column::CreatedAtMs)
            .order_by_asc(ip_block::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_ip_block)
            .collect())
    }
}
