//! Joining groups from outside: at once when the group is open, through a join request
//! the owner or an admin decides when it needs approval, never when invite-only.

use super::{App, AppError, AppResult, PageRequest, Paged, live};
use crate::domain::{
    ConversationEvent, ConversationId, ConversationKind, JoinMethod, JoinPolicy, JoinRequest,
    JoinRequestStatus, Member, MembershipChange, MembershipRecord, Refusal, RequestId,
    RequestMessage, Role, UserId, may_manage,
};
use crate::ports::{Lock, Ports, Store, Transaction};

/// What asking to join did.
#[derive(Debug, Clone)]
pub enum JoinOutcome {
    /// The group is open: the user is a member now.
    Joined(Member),
    /// The group needs approval: the request waits.
    Requested(JoinRequest),
}

impl<P: Ports> App<P> {
    /// Asks to join a group as its join policy allows.
    pub async fn join_group(
        &self,
        conversation_id: &str,
        user: &str,
        message: &str,
    ) -> AppResult<JoinOutcome> {
        let id = ConversationId::parse(conversation_id)?;
        let user = UserId::parse(user)?;
        let message = RequestMessage::parse(message)?;
        self.retrying(|| self.join_once(&id, &user, &message)).await
    }

    async fn join_once(
        &self,
        id: &ConversationId,
        user: &UserId,
        message: &RequestMessage,
    ) -> AppResult<JoinOutcome> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let conversation = live(tx.conversation(id).await?)?;
        if conversation.kind != ConversationKind::Group {
            // Outsiders do not learn that a direct conversation exists.
            return Err(AppError::ConversationNotFound);
        }
        if tx.member(id, user).await?.is_some() {
            return Err(Refusal::AlreadyMember.into());
        }
        match conversation.settings.join_policy {
            JoinPolicy::InviteOnly => Err(Refusal::InviteOnly.into()),
            JoinPolicy::Open => {
                self.within_limit(tx.member_count(id).await? + 1)?;
                let member = Member::new(
                    user.clone(),
                    Role::Member,
                    now,
                    conversation.activity.max_seq,
                );
                tx.insert_members(id, std::slice::from_ref(&member)).await?;
                let record = MembershipRecord::of(
                    &conversation,
                    MembershipChange::MemberJoined(member.clone()),
                    user,
                    now,
                );
                let event = ConversationEvent::MembersJoined {
                    conversation_id: id.clone(),
                    members: vec![member.clone()],
                    method: JoinMethod::Joined,
                };
                self.commit(tx, user, now, &[record], vec![event]).await?;
                Ok(JoinOutcome::Joined(member))
            }
            JoinPolicy::Approval => {
                let request = match tx.pending_join_request(id, user).await? {
                    Some(pending) => {
                        let request = pending.refreshed(message.clone(), now);
                        tx.update_join_request(&request).await?;
                        request
                    }
                    None => {
                        let request =
                            JoinRequest::new(id.clone(), user.clone(), message.clone(), now);
                        tx.insert_join_request(&request).await?;
                        request
                    }
                };
                let event = ConversationEvent::JoinRequestChanged(request.clone());
                self.commit(tx, user, now, &[], vec![event]).await?;
                Ok(JoinOutcome::Requested(request))
            }
        }
    }

    /// A group's pending join requests, oldest first (owner or admins).
    pub async fn list_join_requests(
        &self,
        conversation_id: &str,
        actor: &str,
        page: &PageRequest,
    ) -> AppResult<Paged<JoinRequest>> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let keyset = page.keyset()?;
        live(self.store.conversation(&id).await?)?;
        let member = self
            .store
            .member(&id, &actor)
            .await?
            .ok_or(AppError::ConversationNotFound)?;
        may_manage(&member)?;
        let rows = self
            .store
            .pending_join_requests(&id, keyset.after.as_deref(), keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |request| {
            request.id.as_str().to_owned()
        }))
    }

    /// Approves a pending join request: the requester joins, within the member limit.
    /// Returns the request and the membership.
    pub async fn approve_join_request(
        &self,
        request_id: &str,
        actor: &str,
    ) -> AppResult<(JoinRequest, Member)> {
        let (request, member) = self
            .decide_join(request_id, actor, JoinRequestStatus::Approved)
            .await?;
        let member = member.ok_or(AppError::MemberNotFound)?;
        Ok((request, member))
    }

    pub async fn reject_join_request(
        &self,
        request_id: &str,
        actor: &str,
    ) -> AppResult<JoinRequest> {
        let (request, _) = self
            .decide_join(request_id, actor, JoinRequestStatus::Rejected)
            .await?;
        Ok(request)
    }

    async fn decide_join(
        &self,
        request_id: &str,
        actor: &str,
        status: JoinRequestStatus,
    ) -> AppResult<(JoinRequest, Option<Member>)> {
        let id = RequestId::parse(request_id)?;
        let actor = UserId::parse(actor)?;
        let request = self
            .store
            .join_request(&id)
            .await?
            .ok_or(AppError::JoinRequestNotFound)?;
        let conversation = request.conversation_id;
        self.retrying(|| self.decide_join_once(&id, &conversation, &actor, status))
            .await
    }

    async fn decide_join_once(
        &self,
        id: &RequestId,
        conversation_id: &ConversationId,
        actor: &UserId,
        status: JoinRequestStatus,
    ) -> AppResult<(JoinRequest, Option<Member>)> {
        let now = self.now_ms();
        let mut tx = self
            .store
            .begin(Lock::Conversation(conversation_id))
            .await?;
        let (conversation, deciding) = Self::member_view(&mut tx, conversation_id, actor).await?;
        may_manage(&deciding)?;
        let mut request = tx
            .join_request(id)
            .await?
            .ok_or(AppError::JoinRequestNotFound)?;
        request.decide(status, actor, now)?;
        tx.update_join_request(&request).await?;
        let mut events = vec![ConversationEvent::JoinRequestChanged(request.clone())];
        let mut records = Vec::new();
        let mut member = None;
        if status == JoinRequestStatus::Approved {
            member = match tx.member(conversation_id, &request.user_id).await? {
                Some(existing) => Some(existing),
                None => {
                    self.within_limit(tx.member_count(conversation_id).await? + 1)?;
                    let joined = Member::new(
                        request.user_id.clone(),
                        Role::Member,
                        now,
                        conversation.activity.max_seq,
                    );
                    tx.insert_members(conversation_id, std::slice::from_ref(&joined))
                        .await?;
                    records.push(MembershipRecord::of(
                        &conversation,
                        MembershipChange::MemberJoined(joined.clone()),
                        actor,
                        now,
                    ));
                    events.push(ConversationEvent::MembersJoined {
                        conversation_id: conversation_id.clone(),
                        members: vec![joined.clone()],
                        method: JoinMethod::Approved,
                    });
                    Some(joined)
                }
            };
        }
        self.commit(tx, actor, now, &records, events).await?;
        Ok((request, member))
    }
}
