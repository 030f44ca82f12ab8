//! Moderation: bans, the IP blacklist and the denylist snapshot gateways load.

use super::{App, AppError, AppResult, PageRequest, Paged};
use crate::domain::{
    ActorId, Ban, Cidr, IdentityEvent, IpBlock, Reason, RevokedSession, Until, UserId,
};
use crate::ports::{EventPublisher, ModerationRepository, Ports, SessionRepository, StoreError};

/// Everything a gateway must refuse right now.
#[derive(Debug, Clone, Default)]
pub struct Denylist {
    pub bans: Vec<Ban>,
    pub ip_blocks: Vec<IpBlock>,
    pub revoked_sessions: Vec<RevokedSession>,
}

impl<P: Ports> App<P> {
    /// Bans a user until `until_ms` (0: forever), replacing any earlier ban, and revokes
    /// all the user's sessions.
    pub async fn ban_user(
        &self,
        user_id: &str,
        reason: &str,
        until_ms: i64,
        actor_id: &str,
    ) -> AppResult<Ban> {
        let now = self.now_ms();
        let reason = Reason::parse(reason)?;
        let until = Until::parse(until_ms, now)?;
        let actor = ActorId::parse(actor_id)?;
        let user_id = self.live_account(user_id).await?.user.id;
        let ban = Ban {
            user_id: user_id.clone(),
            reason: reason.as_str().to_owned(),
            until_ms: until.ms(),
            actor_id: actor.as_str().to_owned(),
            created_at_ms: now,
        };
        self.store.upsert_ban(&ban).await?;
        tracing::info!(user_id = %user_id, actor = actor.as_str(), until_ms = ?ban.until_ms, "user banned");
        self.events
            .publish(IdentityEvent::UserBanned(ban.clone()))
            .await;
        let revoked = self
            .store
            .revoke_user_sessions(&user_id, None, "banned", now)
            .await?;
        self.announce_revoked(&user_id, revoked, now).await;
        Ok(ban)
    }

    pub async fn unban_user(&self, user_id: &str, actor_id: &str) -> AppResult<()> {
        let actor = ActorId::parse(actor_id)?;
        let user_id = UserId::parse(user_id).ok_or(AppError::BanNotFound)?;
        if !self.store.delete_ban(&user_id).await? {
            return Err(AppError::BanNotFound);
        }
        tracing::info!(user_id = %user_id, actor = actor.as_str(), "user unbanned");
        self.events
            .publish(IdentityEvent::UserUnbanned(user_id))
            .await;
        Ok(())
    }

    /// Bans in force, by user id.
    pub async fn list_bans(&self, page: &PageRequest) -> AppResult<Paged<Ban>> {
        let keyset = page.keyset()?;
        let rows = self
            .store
            .active_bans(
                self.now_ms(),
                keyset.after.as_deref(),
                Some(keyset.limit + 1),
            )
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |ban| {
            ban.user_id.as_str().to_owned()
        }))
    }

    /// Blacklists an address or range. The same range twice is a conflict, unless the
    /// earlier entry has expired, which the new one then replaces.
    pub async fn block_ip(
        &self,
        cidr: &str,
        reason: &str,
        until_ms: i64,
        actor_id: &str,
    ) -> AppResult<IpBlock> {
        let now = self.now_ms();
        let cidr = Cidr::parse(cidr)?;
        let reason = Reason::parse(reason)?;
        let until = Until::parse(until_ms, now)?;
        let actor = ActorId::parse(actor_id)?;
        let block = IpBlock::new(cidr, reason, until, actor, now);
        match self.store.insert_ip_block(&block).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                let existing = self.store.ip_block_by_cidr(&block.cidr).await?;
                match existing {
                    Some(old) if !old.is_active(now) => {
                        self.store.delete_ip_block(&old.id).await?;
                        match self.store.insert_ip_block(&block).await {
                            Ok(()) => {}
                            Err(StoreError::Duplicate) => return Err(AppError::IpBlockExists),
                            Err(StoreError::Other(error)) => return Err(error.into()),
                        }
                    }
                    _ => return Err(AppError::IpBlockExists),
                }
            }
            Err(StoreError::Other(error)) => return Err(error.into()),
        }
        tracing::info!(cidr = %block.cidr, actor = %block.actor_id, "address range blocked");
        self.events
            .publish(IdentityEvent::IpBlocked(block.clone()))
            .await;
        Ok(block)
    }

    pub async fn unblock_ip(&self, id: &str, actor_id: &str) -> AppResult<()> {
        let actor = ActorId::parse(actor_id)?;
        if id.is_empty() || id.len() > 64 || !self.store.delete_ip_block(id).await? {
            return Err(AppError::IpBlockNotFound);
        }
        tracing::info!(id, actor = actor.as_str(), "address range unblocked");
        self.events
            .publish(IdentityEvent::IpUnblocked { id: id.to_owned() })
            .await;
        Ok(())
    }

    /// IP blocks in force.
    pub async fn list_ip_blocks(&self) -> AppResult<Vec<IpBlock>> {
        Ok(self.store.active_ip_blocks(self.now_ms()).await?)
    }

    /// Bans and IP blocks in force, and the sessions revoked recently enough that their
    /// access tokens may not have expired yet.
    pub async fn denylist(&self) -> AppResult<Denylist> {
        let now = self.now_ms();
        let ttl = self.settings.access_ttl_ms();
        let bans = self.store.active_bans(now, None, None).await?;
        let ip_blocks = self.store.active_ip_blocks(now).await?;
        let revoked_sessions = self
            .store
            .revoked_since(now.saturating_sub(ttl))
            .await?
            .into_iter()
            .filter_map(|session| {
                let revoked_at = session.revoked_at_ms?;
                Some(RevokedSession {
                    session_id: session.id,
                    user_id: session.user_id,
                    forget_after_ms: revoked_at.saturating_add(ttl),
                })
            })
            .collect();
        Ok(Denylist {
            bans,
            ip_blocks,
            revoked_sessions,
        })
    }
}
