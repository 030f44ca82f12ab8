//! Direct conversations: exactly one per pair of users, made on first use. The pair's
//! lock serializes both users asking at once; the unique key on the pair backs it up
//! (a lost insert is retried and finds the winner's conversation).

use super::{App, AppError, AppResult, ConversationView};
use crate::domain::{
    Conversation, ConversationEvent, DirectPolicy, Member, MembershipChange, MembershipRecord,
    Refusal, Role, UserId, UserPair, ValidationError,
};
use crate::ports::{Lock, Ports, Store, Transaction};

impl<P: Ports> App<P> {
    /// The pair's direct conversation as `user` sees it, created when missing; the flag
    /// tells whether this call created it. Refused while either user blocks the other, and
    /// under the friends-only policy unless they are contacts.
    pub async fn get_or_create_direct(
        &self,
        user: &str,
        peer: &str,
    ) -> AppResult<(ConversationView, bool)> {
        let user = UserId::parse(user)?;
        let peer = UserId::parse(peer)?;
        let pair = UserPair::new(&user, &peer).ok_or(ValidationError::SelfTarget)?;
        self.retrying(|| self.get_or_create_direct_once(&user, &peer, &pair))
            .await
    }

    async fn get_or_create_direct_once(
        &self,
        user: &UserId,
        peer: &UserId,
        pair: &UserPair,
    ) -> AppResult<(ConversationView, bool)> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Pair(pair)).await?;
        if tx.blocks(user, peer).await?.either() {
            return Err(Refusal::Blocked.into());
        }
        if self.settings.direct_policy == DirectPolicy::FriendsOnly
            && !tx.are_contacts(pair).await?
        {
            return Err(Refusal::NotContacts.into());
        }
        if let Some(conversation) = tx.direct_conversation(pair).await? {
            let member = tx
                .member(&conversation.id, user)
                .await?
                .ok_or(AppError::ConversationNotFound)?;
            return Ok((
                ConversationView {
                    conversation,
                    member,
                    member_count: 2,
                },
                false,
            ));
        }
        let conversation = Conversation::direct(pair.clone(), now);
        tx.insert_conversation(&conversation).await?;
        let members = [user, peer].map(|id| Member::new(id.clone(), Role::Member, now, 0));
        tx.insert_members(&conversation.id, &members).await?;
        let mut records = vec![MembershipRecord::of(
            &conversation,
            MembershipChange::ConversationCreated,
            user,
            now,
        )];
        records.extend(members.iter().map(|member| {
            MembershipRecord::of(
                &conversation,
                MembershipChange::MemberJoined(member.clone()),
                user,
                now,
            )
        }));
        let event = ConversationEvent::Created {
            conversation: conversation.clone(),
            members: members.to_vec(),
        };
        self.commit(tx, user, now, &records, vec![event]).await?;
        let [member, _] = members;
        Ok((
            ConversationView {
                conversation,
                member,
                member_count: 2,
            },
            true,
        ))
    }
}
