//! Members of a conversation: listing, invitations, role and mute changes, kicks and
//! leaving. Changes run under the conversation's lock, so limits and roles are checked
//! against the state they change.

use super::{App, AppError, AppResult, PageRequest, Paged, live, user_ids};
use crate::domain::{
    ConversationEvent, ConversationId, JoinMethod, Leaving, Member, MemberUpdate, MembershipChange,
    MembershipRecord, RemovalReason, Role, UserId, ValidationError, leaving, may_discipline,
    may_invite, updated_member,
};
use crate::ports::{Lock, Ports, Store, Transaction};

impl<P: Ports> App<P> {
    /// A conversation's members by user id. An empty `viewer` is a trusted internal
    /// caller (delivery fanning out); any other viewer must be a member.
    pub async fn list_members(
        &self,
        conversation_id: &str,
        viewer: &str,
        page: &PageRequest,
    ) -> AppResult<Paged<Member>> {
        let id = ConversationId::parse(conversation_id)?;
        let keyset = page.keyset()?;
        live(self.store.conversation(&id).await?)?;
        if !viewer.is_empty() {
            let viewer = UserId::parse(viewer)?;
            self.store
                .member(&id, &viewer)
                .await?
                .ok_or(AppError::ConversationNotFound)?;
        }
        let rows = self
            .store
            .members(&id, keyset.after.as_deref(), keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |member| {
            member.user_id.as_str().to_owned()
        }))
    }

    /// Adds users to a group as the invite policy allows; users already in it are
    /// skipped. All or nothing: an invitation that would pass the member limit adds no one.
    pub async fn invite_members(
        &self,
        conversation_id: &str,
        actor: &str,
        users: &[String],
    ) -> AppResult<Vec<Member>> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let limit = usize::try_from(self.settings.member_limit).unwrap_or(usize::MAX);
        let users = user_ids(users, limit)?;
        self.retrying(|| self.invite_once(&id, &actor, &users))
            .await
    }

    async fn invite_once(
        &self,
        id: &ConversationId,
        actor: &UserId,
        users: &[UserId],
    ) -> AppResult<Vec<Member>> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, inviter) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        may_invite(&inviter, &conversation.settings)?;
        let present = tx.members_among(id, users).await?;
        let added: Vec<Member> = users
            .iter()
            .filter(|user| !present.contains(user))
            .map(|user| {
                Member::new(
                    user.clone(),
                    Role::Member,
                    now,
                    conversation.activity.max_seq,
                )
            })
            .collect();
        if added.is_empty() {
            return Ok(added);
        }
        self.within_limit(tx.member_count(id).await? + added.len() as u64)?;
        tx.insert_members(id, &added).await?;
        let records: Vec<_> = added
            .iter()
            .map(|member| {
                MembershipRecord::of(
                    &conversation,
                    MembershipChange::MemberJoined(member.clone()),
                    actor,
                    now,
                )
            })
            .collect();
        let event = ConversationEvent::MembersJoined {
            conversation_id: id.clone(),
            members: added.clone(),
            method: JoinMethod::Invited,
        };
        self.commit(tx, actor, now, &records, vec![event]).await?;
        Ok(added)
    }

    /// Changes a member's role (owner only) or mute (0 unmutes).
    pub async fn update_member(
        &self,
        conversation_id: &str,
        actor: &str,
        target: &str,
        role: Option<Role>,
        muted_until_ms: Option<i64>,
    ) -> AppResult<Member> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let target = UserId::parse(target)?;
        if role == Some(Role::Owner) {
            return Err(ValidationError::Role.into());
        }
        if let Some(until) = muted_until_ms
            && until != 0
            && until <= self.now_ms()
        {
            return Err(ValidationError::MutedUntil.into());
        }
        let update = MemberUpdate {
            role,
            muted_until_ms,
        };
        self.retrying(|| self.update_member_once(&id, &actor, &target, update))
            .await
    }

    async fn update_member_once(
        &self,
        id: &ConversationId,
        actor: &UserId,
        target: &UserId,
        update: MemberUpdate,
    ) -> AppResult<Member> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, acting) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        let current = tx
            .member(id, target)
            .await?
            .ok_or(AppError::MemberNotFound)?;
        let next = updated_member(&acting, &current, update)?;
        if next == current {
            return Ok(current);
        }
        tx.update_member(id, &next).await?;
        let record = MembershipRecord::of(
            &conversation,
            MembershipChange::MemberUpdated(next.clone()),
            actor,
            now,
        );
        let event = ConversationEvent::MemberUpdated {
            conversation_id: id.clone(),
            member: next.clone(),
        };
        self.commit(tx, actor, now, &[record], vec![event]).await?;
        Ok(next)
    }

    /// Kicks `target`, or leaves when `target` is the actor. Returns whether the group
    /// was dissolved (its owner left as the last member).
    pub async fn remove_member(
        &self,
        conversation_id: &str,
        actor: &str,
        target: &str,
    ) -> AppResult<bool> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let target = UserId::parse(target)?;
        if actor == target {
            return self.retrying(|| self.leave_once(&id, &actor)).await;
        }
        self.retrying(|| self.kick_once(&id, &actor, &target))
            .await?;
        Ok(false)
    }

    async fn leave_once(&self, id: &ConversationId, user: &UserId) -> AppResult<bool> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, member) = Self::member_view(&mut tx, id, user).await?;
        conversation.ensure_group()?;
        match leaving(&member, tx.member_count(id).await?)? {
            Leaving::Dissolve => {
                self.dissolve_locked(tx, conversation, user).await?;
                Ok(true)
            }
            Leaving::Leave => {
                tx.remove_member(id, user).await?;
                let record = MembershipRecord::of(
                    &conversation,
                    MembershipChange::MemberRemoved(user.clone()),
                    user,
                    now,
                );
                let event = ConversationEvent::MemberRemoved {
                    conversation_id: id.clone(),
                    user_id: user.clone(),
                    reason: RemovalReason::Left,
                };
                self.commit(tx, user, now, &[record], vec![event]).await?;
                Ok(false)
            }
        }
    }

    async fn kick_once(
        &self,
        id: &ConversationId,
        actor: &UserId,
        target: &UserId,
    ) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, acting) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        let kicked = tx
            .member(id, target)
            .await?
            .ok_or(AppError::MemberNotFound)?;
        may_discipline(&acting, &kicked)?;
        tx.remove_member(id, target).await?;
        let record = MembershipRecord::of(
            &conversation,
            MembershipChange::MemberRemoved(target.clone()),
            actor,
            now,
        );
        let event = ConversationEvent::MemberRemoved {
            conversation_id: id.clone(),
            user_id: target.clone(),
            reason: RemovalReason::Kicked,
        };
        self.commit(tx, actor, now, &[record], vec![event]).await?;
        Ok(())
    }
}
