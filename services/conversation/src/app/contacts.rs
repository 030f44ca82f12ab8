//! Friend requests, contacts and blocks. Every change runs under the pair's lock, so two
//! users acting on each other at once (both sending a request, a block and an accept)
//! are decided one after the other.

use super::{App, AppError, AppResult, PageRequest, Paged};
use crate::domain::{
    Befriending, BlockedUser, Contact, ConversationEvent, FriendRequest, FriendRequestStatus,
    MembershipChange, MembershipRecord, PairState, Refusal, Remark, RequestDirection, RequestId,
    RequestMessage, UserId, UserPair, ValidationError, befriend,
};
use crate::ports::{Lock, Ports, Store, Transaction};

/// A decision on a friend request, by the user entitled to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// By the recipient.
    Accept,
    /// By the recipient.
    Reject,
    /// By the sender.
    Cancel,
}

impl<P: Ports> App<P> {
    /// Sends (or refreshes) a friend request; when the recipient had already asked the
    /// sender, both are accepted and the two become contacts.
    pub async fn send_friend_request(
        &self,
        from: &str,
        to: &str,
        message: &str,
    ) -> AppResult<FriendRequest> {
        let from = UserId::parse(from)?;
        let to = UserId::parse(to)?;
        let message = RequestMessage::parse(message)?;
        let pair = UserPair::new(&from, &to).ok_or(Refusal::CannotBefriendSelf)?;
        self.retrying(|| self.send_friend_request_once(&from, &to, &pair, &message))
            .await
    }

    async fn send_friend_request_once(
        &self,
        from: &UserId,
        to: &UserId,
        pair: &UserPair,
        message: &RequestMessage,
    ) -> AppResult<FriendRequest> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        let state = PairState {
            blocks: tx.blocks(from, to).await?,
            contacts: tx.are_contacts(pair).await?,
            mine: tx.pending_request(from, to).await?,
            theirs: tx.pending_request(to, from).await?,
        };
        let had_mine = state.mine.is_some();
        let outcome = befriend(from, to, state, message.clone(), now)?;
        let mine = match &outcome {
            Befriending::Pending(mine) | Befriending::Mutual { mine, .. } => mine.clone(),
        };
        if had_mine {
            tx.update_request(&mine).await?;
        } else {
            tx.insert_request(&mine).await?;
        }
        let mut events = Vec::new();
        if let Befriending::Mutual { theirs, .. } = outcome {
            tx.update_request(&theirs).await?;
            tx.add_contacts(pair, now).await?;
            events.push(ConversationEvent::FriendRequestChanged(theirs));
            events.push(ConversationEvent::FriendRequestChanged(mine.clone()));
            events.push(ConversationEvent::ContactAdded {
                user_id: from.clone(),
                contact_id: to.clone(),
            });
        } else {
            events.push(ConversationEvent::FriendRequestChanged(mine.clone()));
        }
        self.commit(tx, from, now, &[], events).await?;
        Ok(mine)
    }

    /// Pending requests the user received or sent, newest first.
    pub async fn list_friend_requests(
        &self,
        user: &str,
        direction: Option<RequestDirection>,
        page: &PageRequest,
    ) -> AppResult<Paged<FriendRequest>> {
        let user = UserId::parse(user)?;
        let direction = direction.ok_or(ValidationError::Direction)?;
        let keyset = page.keyset()?;
        let rows = self
            .store
            .pending_requests(&user, direction, keyset.after.as_deref(), keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |request| {
            request.id.as_str().to_owned()
        }))
    }

    /// The recipient accepts: both become contacts. Returns the request and the new
    /// contact as the recipient sees it.
    pub async fn accept_friend_request(
        &self,
        request_id: &str,
        user: &str,
    ) -> AppResult<(FriendRequest, Contact)> {
        let request = self.decide(request_id, user, Decision::Accept).await?;
        let contact = Contact {
            user_id: request.to.clone(),
            contact_id: request.from.clone(),
            remark: String::new(),
            created_at_ms: request.decided_at_ms.unwrap_or(request.updated_at_ms),
        };
        Ok((request, contact))
    }

    pub async fn reject_friend_request(
        &self,
        request_id: &str,
        user: &str,
    ) -> AppResult<FriendRequest> {
        self.decide(request_id, user, Decision::Reject).await
    }

    pub async fn cancel_friend_request(
        &self,
        request_id: &str,
        user: &str,
    ) -> AppResult<FriendRequest> {
        self.decide(request_id, user, Decision::Cancel).await
    }

    async fn decide(
        &self,
        request_id: &str,
        user: &str,
        decision: Decision,
    ) -> AppResult<FriendRequest> {
        let id = RequestId::parse(request_id)?;
        let user = UserId::parse(user)?;
        let request = self
            .store
            .friend_request(&id)
            .await?
            .ok_or(AppError::FriendRequestNotFound)?;
        let entitled = match decision {
            Decision::Accept | Decision::Reject => &request.to,
            Decision::Cancel => &request.from,
        };
        if *entitled != user {
            return Err(AppError::FriendRequestNotFound);
        }
        let pair =
            UserPair::new(&request.from, &request.to).ok_or(AppError::FriendRequestNotFound)?;
        self.retrying(|| self.decide_once(&id, &user, &pair, decision))
            .await
    }

    async fn decide_once(
        &self,
        id: &RequestId,
        user: &UserId,
        pair: &UserPair,
        decision: Decision,
    ) -> AppResult<FriendRequest> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        let mut request = tx
            .friend_request(id)
            .await?
            .ok_or(AppError::FriendRequestNotFound)?;
        let status = match decision {
            Decision::Accept => FriendRequestStatus::Accepted,
            Decision::Reject => FriendRequestStatus::Rejected,
            Decision::Cancel => FriendRequestStatus::Cancelled,
        };
        request.decide(status, now)?;
        tx.update_request(&request).await?;
        let mut events = vec![ConversationEvent::FriendRequestChanged(request.clone())];
        if decision == Decision::Accept && !tx.are_contacts(pair).await? {
            tx.add_contacts(pair, now).await?;
            events.push(ConversationEvent::ContactAdded {
                user_id: request.to.clone(),
                contact_id: request.from.clone(),
            });
        }
        self.commit(tx, user, now, &[], events).await?;
        Ok(request)
    }

    /// The user's contacts, by contact id.
    pub async fn list_contacts(&self, user: &str, page: &PageRequest) -> AppResult<Paged<Contact>> {
        let user = UserId::parse(user)?;
        let keyset = page.keyset()?;
        let rows = self
            .store
            .contacts(&user, keyset.after.as_deref(), keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |contact| {
            contact.contact_id.as_str().to_owned()
        }))
    }

    /// Sets the user's private remark on a contact (empty clears it).
    pub async fn set_remark(&self, user: &str, contact: &str, remark: &str) -> AppResult<Contact> {
        let user = UserId::parse(user)?;
        let contact = UserId::parse(contact)?;
        let remark = Remark::parse(remark)?;
        if !self
            .store
            .set_remark(&user, &contact, remark.as_str())
            .await?
        {
            return Err(AppError::ContactNotFound);
        }
        self.store
            .contact(&user, &contact)
            .await?
            .ok_or(AppError::ContactNotFound)
    }

    /// Ends the contact relation on both sides.
    pub async fn delete_contact(&self, user: &str, contact: &str) -> AppResult<()> {
        let user = UserId::parse(user)?;
        let contact = UserId::parse(contact)?;
        let pair = UserPair::new(&user, &contact).ok_or(AppError::ContactNotFound)?;
        self.retrying(|| self.delete_contact_once(&user, &contact, &pair))
            .await
    }

    async fn delete_contact_once(
        &self,
        user: &UserId,
        contact: &UserId,
        pair: &UserPair,
    ) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        if !tx.remove_contacts(pair).await? {
            return Err(AppError::ContactNotFound);
        }
        let event = ConversationEvent::ContactRemoved {
            user_id: user.clone(),
            contact_id: contact.clone(),
        };
        self.commit(tx, user, now, &[], vec![event]).await?;
        Ok(())
    }

    /// Blocks a user: no requests or direct messages between the two any more, and the
    /// pending requests between them are cancelled. Blocking twice is harmless.
    pub async fn block(&self, user: &str, blocked: &str) -> AppResult<BlockedUser> {
        let user = UserId::parse(user)?;
        let blocked = UserId::parse(blocked)?;
        let pair = UserPair::new(&user, &blocked).ok_or(ValidationError::SelfTarget)?;
        self.retrying(|| self.block_once(&user, &blocked, &pair))
            .await
    }

    async fn block_once(
        &self,
        user: &UserId,
        blocked: &UserId,
        pair: &UserPair,
    ) -> AppResult<BlockedUser> {
        let now = self.now_ms();
        let block = BlockedUser {
            user_id: user.clone(),
            blocked_user_id: blocked.clone(),
            created_at_ms: now,
        };
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        if let Some(existing) = tx.add_block(&block).await? {
            return Ok(existing);
        }
        let cancelled = tx.cancel_pending_requests(pair, now).await?;
        let direct = tx.direct_conversation(pair).await?;
        let record = MembershipRecord {
            conversation_id: direct.as_ref().map(|c| c.id.clone()),
            conversation_kind: direct.as_ref().map(|c| c.kind),
            change: MembershipChange::BlockChanged {
                user: user.clone(),
                peer: blocked.clone(),
                blocked: true,
            },
            actor_id: user.clone(),
            occurred_at_ms: now,
        };
        let mut events: Vec<_> = cancelled
            .into_iter()
            .map(ConversationEvent::FriendRequestChanged)
            .collect();
        events.push(ConversationEvent::BlockChanged {
            user_id: user.clone(),
            blocked_user_id: blocked.clone(),
            blocked: true,
            direct_conversation_id: direct.map(|c| c.id),
        });
        self.commit(tx, user, now, &[record], events).await?;
        Ok(block)
    }

    pub async fn unblock(&self, user: &str, blocked: &str) -> AppResult<()> {
        let user = UserId::parse(user)?;
        let blocked = UserId::parse(blocked)?;
        let pair = UserPair::new(&user, &blocked).ok_or(AppError::BlockNotFound)?;
        self.retrying(|| self.unblock_once(&user, &blocked, &pair))
            .await
    }

    async fn unblock_once(
        &self,
        user: &UserId,
        blocked: &UserId,
        pair: &UserPair,
    ) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        if !tx.remove_block(user, blocked).await? {
            return Err(AppError::BlockNotFound);
        }
        let direct = tx.direct_conversation(pair).await?;
        let record = MembershipRecord {
            conversation_id: direct.as_ref().map(|c| c.id.clone()),
            conversation_kind: direct.as_ref().map(|c| c.kind),
            change: MembershipChange::BlockChanged {
                user: user.clone(),
                peer: blocked.clone(),
                blocked: false,
            },
            actor_id: user.clone(),
            occurred_at_ms: now,
        };
        let event = ConversationEvent::BlockChanged {
            user_id: user.clone(),
            blocked_user_id: blocked.clone(),
            blocked: false,
            direct_conversation_id: direct.map(|c| c.id),
        };
        self.commit(tx, user, now, &[record], vec![event]).await?;
        Ok(())
    }

    /// The users the user has blocked, by id.
    pub async fn list_blocks(
        &self,
        user: &str,
        page: &PageRequest,
    ) -> AppResult<Paged<BlockedUser>> {
        let user = UserId::parse(user)?;
        let keyset = page.keyset()?;
        let rows = self
            .store
            .blocked_users(&user, keyset.after.as_deref(), keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |block| {
            block.blocked_user_id.as_str().to_owned()
        }))
    }
}
