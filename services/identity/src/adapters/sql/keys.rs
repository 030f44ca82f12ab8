//! Signing keys.

use super::SqlStore;
use super::entities::signing_key;
use crate::ports::{KeyRepository, StoredKey};
use anyhow::Context as _;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

#[async_trait]
impl KeyRepository for SqlStore {
    async fn signing_keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        signing_key::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                Ok(StoredKey {
                    secret: STANDARD
                        .decode(&row.secret)
                        .with_context(|| format!("secret of signing key {}", row.kid))?,
                    public: STANDARD
                        .decode(&row.public)
                        .with_context(|| format!("public key of signing key {}", row.kid))?,
                    kid: row.kid,
                    created_at_ms: row.created_at_ms,
                    retired_at_ms: row.retired_at_ms,
                })
            })
            .collect()
    }

    async fn insert_key(
        &self,
        key: &StoredKey,
        retire_others_at: Option<i64>,
    ) -> anyhow::Result<()> {
        let row = signing_key::ActiveModel {
            kid: Set(key.kid.clone()),
            secret: Set(STANDARD.encode(&key.secret)),
            public: Set(STANDARD.encode(&key.public)),
            created_at_ms: Set(key.created_at_ms),
            retired_at_ms: Set(key.retired_at_ms),
        };
        let txn = self.db.begin().await?;
        signing_key::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
        if let Some(now_ms) = retire_others_at {
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::RetiredAtMs, Expr::value(now_ms))
                .filter(signing_key::Column::Kid.ne(key.kid.as_str()))
                .filter(signing_key::Column::RetiredAtMs.is_null())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
