//! Reads: one conversation, a user's conversation list, and the send check other
//! services ask before storing a message.

use super::send_facts::SendFacts;
use super::{App, AppError, AppResult, PageRequest, Paged, live};
use crate::domain::{Conversation, ConversationId, ConversationKind, Member, Role, UserId};
use crate::ports::{Ports, Store, UserConversation};

/// A conversation as one member sees it.
#[derive(Debug, Clone)]
pub struct ConversationView {
    pub conversation: Conversation,
    /// The viewer's membership (role, mute, read cursor).
    pub member: Member,
    pub member_count: u64,
}

/// May this user send in this conversation, and why not. Never an error for a
/// well-formed question: an unknown conversation is simply "not a member".
#[derive(Debug, Clone, Default)]
pub struct SendCheck {
    pub is_member: bool,
    pub role: Option<Role>,
    /// Muted personally, or a plain member while the group mutes all.
    pub muted: bool,
    pub muted_until_ms: i64,
    /// Direct conversations: one of the pair blocks the other.
    pub blocked: bool,
    /// The membership version this answer reflects (read before the answer).
    pub membership_version: u64,
    pub kind: Option<ConversationKind>,
    pub mute_all: bool,
}

impl<P: Ports> App<P> {
    /// A conversation the viewer is a member of.
    pub async fn get_conversation(
        &self,
        conversation_id: &str,
        viewer: &str,
    ) -> AppResult<ConversationView> {
        let id = ConversationId::parse(conversation_id)?;
        let viewer = UserId::parse(viewer)?;
        let conversation = live(self.store.conversation(&id).await?)?;
        let member = self
            .store
            .member(&id, &viewer)
            .await?
            .ok_or(AppError::ConversationNotFound)?;
        let member_count = self.store.member_count(&id).await?;
        Ok(ConversationView {
            conversation,
            member,
            member_count,
        })
    }

    /// The user's conversations, newest activity first.
    pub async fn list_user_conversations(
        &self,
        user: &str,
        page: &PageRequest,
    ) -> AppResult<Paged<UserConversation>> {
        let user = UserId::parse(user)?;
        let keyset = page.keyset()?;
        let rows = self
            .store
            .user_conversations(&user, keyset.timed()?, keyset.fetch())
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |row| {
            format!(
                "{}:{}",
                row.conversation.activity.last_activity_ms, row.conversation.id
            )
        }))
    }

    /// Whether `user` may send in the conversation now. The membership version is read
    /// first (by a read that started after the call, shared with the checks beside it:
    /// [`super::version_reads`]), so a cache filled from this answer is invalidated by
    /// any later change;
    /// the facts behind the answer come from [`super::send_facts::SendFactsCache`] when
    /// nothing changed since they were read.
    pub async fn check_send(&self, conversation_id: &str, user: &str) -> AppResult<SendCheck> {
        let id = ConversationId::parse(conversation_id)?;
        let user = UserId::parse(user)?;
        let membership_version = self
            .version_reads
            .read(|| self.store.membership_version())
            .await?;
        let key = (id, user);
        let facts = match self.send_facts.get(&key, membership_version) {
            Some(facts) => facts,
            None => {
                let facts = self.read_send_facts(&key.0, &key.1).await?;
                self.send_facts
                    .put(key.clone(), membership_version, facts.clone());
                facts
            }
        };
        let mut check = SendCheck {
            membership_version,
            ..SendCheck::default()
        };
        let Some(conversation) = facts.conversation else {
            return Ok(check);
        };
        check.kind = Some(conversation.kind);
        check.mute_all = conversation.settings.mute_all;
        let Some(member) = facts.member else {
            return Ok(check);
        };
        check.is_member = true;
        check.role = Some(member.role);
        check.muted = member.is_silenced(&conversation.settings, self.now_ms());
        check.muted_until_ms = member.muted_until_ms;
        check.blocked = facts.blocked;
        Ok(check)
    }

    async fn read_send_facts(&self, id: &ConversationId, user: &UserId) -> AppResult<SendFacts> {
        let Some(conversation) = self.store.conversation(id).await? else {
            return Ok(SendFacts::default());
        };
        if conversation.is_dissolved() {
            return Ok(SendFacts::default());
        }
        let Some(member) = self.store.member(id, user).await? else {
            return Ok(SendFacts {
                conversation: Some(conversation),
                ..SendFacts::default()
            });
        };
        let blocked = match conversation.peer_of(user) {
            Some(peer) => self.store.blocks(user, peer).await?.either(),
            None => false,
        };
        Ok(SendFacts {
            conversation: Some(conversation),
            member: Some(member),
            blocked,
        })
    }
}
