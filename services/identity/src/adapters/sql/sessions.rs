//! Sessions and refresh tokens.

use super::SqlStore;
use super::entities::{refresh_token, session};
use crate::domain::{RefreshTokenRecord, Session, SessionId, UserId};
use crate::ports::{Rotation, SessionRepository};
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

fn to_session(model: session::Model) -> Session {
    Session {
        id: SessionId::from_stored(model.id),
        user_id: UserId::from_stored(model.user_id),
        device_id: model.device_id,
        user_agent: model.user_agent,
        client_ip: model.client_ip,
        created_at_ms: model.created_at_ms,
        last_used_at_ms: model.last_used_at_ms,
        expires_at_ms: model.expires_at_ms,
        revoked_at_ms: model.revoked_at_ms,
    }
}

fn to_record(model: refresh_token::Model) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: model.token_hash,
        session_id: SessionId::from_stored(model.session_id),
        created_at_ms: model.created_at_ms,
        expires_at_ms: model.expires_at_ms,
        used_at_ms: model.used_at_ms,
    }
}

fn refresh_row(record: &RefreshTokenRecord) -> refresh_token::ActiveModel {
    refresh_token::ActiveModel {
        token_hash: Set(record.token_hash.clone()),
        session_id: Set(record.session_id.as_str().to_owned()),
        created_at_ms: Set(record.created_at_ms),
        expires_at_ms: Set(record.expires_at_ms),
        used_at_ms: Set(record.used_at_ms),
    }
}

/// Revokes the live sessions matching `condition` and returns their ids. Sessions
/// revoked or expired already are left alone, so each revocation is announced once.
pub(super) async fn revoke_where(
    db: &impl ConnectionTrait,
    condition: SimpleExpr,
    reason: &str,
    now_ms: i64,
) -> anyhow::Result<Vec<SessionId>> {
    let ids: Vec<String> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(condition)
        .filter(session::Column::RevokedAtMs.is_null())
        .filter(session::Column::ExpiresAtMs.gt(now_ms))
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAtMs, Expr::value(now_ms))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::Id.is_in(ids.iter().cloned()))
        .filter(session::Column::RevokedAtMs.is_null())
        .exec(db)
        .await?;
    Ok(ids.into_iter().map(SessionId::from_stored).collect())
}

#[async_trait]
impl SessionRepository for SqlStore {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshTokenRecord,
    ) -> anyhow::Result<()> {
        let row = session::ActiveModel {
            id: Set(session.id.as_str().to_owned()),
            user_id: Set(session.user_id.as_str().to_owned()),
            device_id: Set(session.device_id.clone()),
            user_agent: Set(session.user_agent.clone()),
            client_ip: Set(session.client_ip.clone()),
            created_at_ms: Set(session.created_at_ms),
            last_used_at_ms: Set(session.last_used_at_ms),
            expires_at_ms: Set(session.expires_at_ms),
            revoked_at_ms: Set(session.revoked_at_ms),
            revoked_reason: Set(None),
        };
        let txn = self.db.begin().await?;
        session::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
        refresh_token::Entity::insert(refresh_row(refresh))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> anyhow::Result<Option<Session>> {
        Ok(session::Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await?
            .map(to_session))
    }

    async fn refresh_token(&self, token_hash: &str) -> anyhow::Result<Option<RefreshTokenRecord>> {
        Ok(refresh_token::Entity::find_by_id(token_hash)
            .one(&self.db)
            .await?
            .map(to_record))
    }

    async fn rotate_refresh_token(
        &self,
        used_hash: &str,
        next: &RefreshTokenRecord,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> anyhow::Result<Rotation> {
        let txn = self.db.begin().await?;
        // The conditional update is the arbiter between concurrent exchanges: the row
        // lock (MySQL) or the write lock (SQLite) lets exactly one of them match.
        let claimed = refresh_token::Entity::update_many()
            .col_expr(
                refresh_token::Column::UsedAtMs,
                Expr::value(next.created_at_ms),
            )
            .filter(refresh_token::Column::TokenHash.eq(used_hash))
            .filter(refresh_token::Column::UsedAtMs.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 0 {
            txn.rollback().await?;
            return Ok(Rotation::AlreadyUsed);
        }
        refresh_token::Entity::insert(refresh_row(next))
            .exec_without_returning(&txn)
            .await?;
        let mut touch = session::Entity::update_many()
            .col_expr(
                session::Column::LastUsedAtMs,
                Expr::value(next.created_at_ms),
            )
            .col_expr(
                session::Column::ExpiresAtMs,
                Expr::value(next.expires_at_ms),
            )
            .filter(session::Column::Id.eq(next.session_id.as_str()));
        if let Some(ip) = client_ip {
            touch = touch.col_expr(session::Column::ClientIp, Expr::value(ip));
        }
        if let Some(agent) = user_agent {
            touch = touch.col_expr(session::Column::UserAgent, Expr::value(agent));
        }
        touch.exec(&txn).await?;
        txn.commit().await?;
        Ok(Rotation::Rotated)
    }

    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: &str,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let revoked = session::Entity::update_many()
            .col_expr(session::Column::RevokedAtMs, Expr::value(now_ms))
            .col_expr(session::Column::RevokedReason, Expr::value(reason))
            .filter(session::Column::Id.eq(id.as_str()))
            .filter(session::Column::RevokedAtMs.is_null())
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(revoked > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        except: Option<&SessionId>,
        reason: &str,
        now_ms: i64,
    ) -> anyhow::Result<Vec<SessionId>> {
        let mut condition = session::Column::UserId.eq(user_id.as_str());
        if let Some(keep) = except {
            condition = condition.and(session::Column::Id.ne(keep.as_str()));
        }
        let txn = self.db.begin().await?;
        let revoked = revoke_where(&txn, condition, reason, now_ms).await?;
        txn.commit().await?;
        Ok(revoked)
    }

    async fn live_sessions(&self, user_id: &UserId, now_ms: i64) -> anyhow::Result<Vec<Session>> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_str()))
            .filter(session::Column::RevokedAtMs.is_null())
            .filter(session::Column::ExpiresAtMs.gt(now_ms))
            .order_by_desc(session::Column::LastUsedAtMs)
            .order_by_asc(session::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_session)
            .collect())
    }

    async fn revoked_since(&self, since_ms: i64) -> anyhow::Result<Vec<Session>> {
        Ok(session::Entity::find()
            .filter(session::Column::RevokedAtMs.gte(since_ms))
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_session)
            .collect())
    }
}
