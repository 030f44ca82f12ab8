//! A stored message, the draft it is made from, and the rules of recalling and editing
//! it. Membership as the conversation service reports it ([`SendCheck`]) decides who
//! may send, recall and edit.

use super::ValidationError;
use super::{Body, ClientMsgId, ConversationId, MessageId, MessageType, Refusal, UserId};
use std::collections::HashSet;

/// The most distinct users one message may mention.
pub const MAX_MENTIONS: usize = 50;
/// The most mention entries read at all (repeats included).
const MAX_MENTION_ENTRIES: usize = 200;

/// One message in one conversation; `seq` is its gapless position there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: u64,
    pub sender_id: UserId,
    pub client_msg_id: ClientMsgId,
    pub kind: MessageType,
    /// Empty once recalled.
    pub body: Body,
    pub reply_to: Option<MessageId>,
    pub mentions: Vec<UserId>,
    pub mention_all: bool,
    pub created_at_ms: i64,
    /// 0 when never edited.
    pub edited_at_ms: i64,
    pub recalled: bool,
}

impl Message {
    /// The message recalled: it keeps its seq, its content is gone.
    pub fn recall(mut self) -> Self {
        self.recalled = true;
        self.body = Body::default();
        self.mentions.clear();
        self.mention_all = false;
        self
    }

    /// The message with a new body.
    pub fn edit(mut self, body: Body, now_ms: i64) -> Self {
        self.body = body;
        self.edited_at_ms = now_ms.max(self.created_at_ms);
        self
    }
}

/// A message as sent, before it has an id and a seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: ClientMsgId,
    pub kind: MessageType,
    pub body: Body,
    pub reply_to: Option<MessageId>,
    pub mentions: Vec<UserId>,
    pub mention_all: bool,
}

impl Draft {
    /// The stored message at `seq`.
    pub fn stored(&self, id: MessageId, seq: u64, now_ms: i64) -> Message {
        Message {
            id,
            conversation_id: self.conversation_id.clone(),
            seq,
            sender_id: self.sender_id.clone(),
            client_msg_id: self.client_msg_id.clone(),
            kind: self.kind,
            body: self.body.clone(),
            reply_to: self.reply_to.clone(),
            mentions: self.mentions.clone(),
            mention_all: self.mention_all,
            created_at_ms: now_ms,
            edited_at_ms: 0,
            recalled: false,
        }
    }
}

/// Parses mentioned user ids: at most [`MAX_MENTIONS`] distinct ones, repeats dropped,
/// order kept.
pub fn mentions(ids: &[String]) -> Result<Vec<UserId>, ValidationError> {
    let too_many = ValidationError::TooManyMentions { max: MAX_MENTIONS };
    if ids.len() > MAX_MENTION_ENTRIES {
        return Err(too_many);
    }
    let mut seen = HashSet::with_capacity(ids.len());
    let mut parsed = Vec::new();
    for id in ids {
        let id = UserId::parse(id)?;
        if seen.insert(id.clone()) {
            parsed.push(id);
        }
    }
    if parsed.len() > MAX_MENTIONS {
        return Err(too_many);
    }
    Ok(parsed)
}

/// A member's role in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Role {
    #[default]
    Member,
    Admin,
    Owner,
}

impl Role {
    /// Owners and admins manage a group.
    pub fn is_manager(self) -> bool {
        self >= Self::Admin
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Direct,
    Group,
}

/// What the conversation service says about one user in one conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendCheck {
    pub is_member: bool,
    pub role: Role,
    /// Muted personally, or a plain member while the group mutes all.
    pub muted: bool,
    /// Direct conversations: one of the pair blocks the other.
    pub blocked: bool,
    pub kind: Option<ConversationKind>,
    /// The group's `mute_all` setting.
    pub mute_all: bool,
}

impl SendCheck {
    /// Whether a member may post content now (send or edit).
    pub fn may_post(&self) -> Result<(), Refusal> {
        if self.blocked {
            return Err(Refusal::Blocked);
        }
        if self.muted || (self.mute_all && !self.role.is_manager()) {
            return Err(Refusal::Muted);
        }
        Ok(())
    }

    fn manages_group(&self) -> bool {
        self.kind == Some(ConversationKind::Group) && self.role.is_manager()
    }
}

/// Whether `at_ms` is still within `window_ms` of `since_ms`.
fn within(since_ms: i64, at_ms: i64, window_ms: i64) -> bool {
    at_ms.saturating_sub(since_ms) <= window_ms
}

/// What a recall does to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recall {
    Recall,
    /// Already recalled: nothing changes.
    Unchanged,
}

/// Decides a recall by `actor` (a member, as `check` says): the sender within the
/// window, or a group's owner or admins at any time. Server-made messages stay.
pub fn decide_recall(
    message: &Message,
    actor: &UserId,
    check: &SendCheck,
    now_ms: i64,
    window_ms: i64,
) -> Result<Recall, Refusal> {
    if !message.kind.is_client_made() {
        return Err(Refusal::NotAllowed);
    }
    let manager = check.manages_group();
    if !manager && message.sender_id != *actor {
        return Err(Refusal::NotAllowed);
    }
    if message.recalled {
        return Ok(Recall::Unchanged);
    }
    if !manager && !within(message.created_at_ms, now_ms, window_ms) {
        return Err(Refusal::WindowPassed);
    }
    Ok(Recall::Recall)
}

/// Decides an edit by `editor` (a member, as `check` says): the sender only, text only,
/// within the window, and only while the sender may post.
pub fn decide_edit(
    message: &Message,
    editor: &UserId,
    check: &SendCheck,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), Refusal> {
    if message.sender_id != *editor {
        return Err(Refusal::NotAllowed);
    }
    if message.recalled {
        return Err(Refusal::Recalled);
    }
    if message.kind != MessageType::Text {
        return Err(Refusal::NotEditable);
    }
    if !within(message.created_at_ms, now_ms, window_ms) {
        return Err(Refusal::WindowPassed);
    }
    check.may_post()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn text(sender: &str, created_at_ms: i64) -> Message {
        Draft {
            conversation_id: ConversationId::parse("c1").unwrap(),
            sender_id: user(sender),
            client_msg_id: ClientMsgId::parse("m1").unwrap(),
            kind: MessageType::Text,
            body: Body::parse(MessageType::Text, r#"{"text":"hi"}"#).unwrap(),
            reply_to: None,
            mentions: vec![user("bob")],
            mention_all: false,
        }
        .stored(MessageId::generate(), 1, created_at_ms)
    }

    fn member(kind: ConversationKind, role: Role) -> SendCheck {
        SendCheck {
            is_member: true,
            role,
            kind: Some(kind),
            ..SendCheck::default()
        }
    }

    #[test]
    fn senders_recall_within_the_window_and_group_managers_any_time() {
        let message = text("ann", 0);
        let plain = member(ConversationKind::Group, Role::Member);
        let ann = user("ann");
        assert_eq!(
            decide_recall(&message, &ann, &plain, 2 * MINUTE, 2 * MINUTE),
            Ok(Recall::Recall)
        );
        assert_eq!(
            decide_recall(&message, &ann, &plain, 2 * MINUTE + 1, 2 * MINUTE),
            Err(Refusal::WindowPassed)
        );
        assert_eq!(
            decide_recall(&message, &user("bob"), &plain, 0, 2 * MINUTE),
            Err(Refusal::NotAllowed)
        );
        let admin = member(ConversationKind::Group, Role::Admin);
        assert_eq!(
            decide_recall(&message, &user("bob"), &admin, 1000 * MINUTE, 2 * MINUTE),
            Ok(Recall::Recall)
        );
        // a direct conversation has no managers
        let direct = member(ConversationKind::Direct, Role::Owner);
        assert_eq!(
            decide_recall(&message, &user("bob"), &direct, 0, 2 * MINUTE),
            Err(Refusal::NotAllowed)
        );
        let recalled = message.recall();
        assert!(recalled.body.as_str().is_empty() && recalled.mentions.is_empty());
        assert_eq!(
            decide_recall(&recalled, &ann, &plain, 1000 * MINUTE, 2 * MINUTE),
            Ok(Recall::Unchanged)
        );
    }

    #[test]
    fn only_the_sender_edits_text_within_the_window() {
        let message = text("ann", 0);
        let plain = member(ConversationKind::Group, Role::Member);
        let ann = user("ann");
        let day = 24 * 60 * MINUTE;
        assert_eq!(decide_edit(&message, &ann, &plain, day, day), Ok(()));
        assert_eq!(
            decide_edit(&message, &ann, &plain, day + 1, day),
            Err(Refusal::WindowPassed)
        );
        let owner = member(ConversationKind::Group, Role::Owner);
        assert_eq!(
            decide_edit(&message, &user("bob"), &owner, 0, day),
            Err(Refusal::NotAllowed)
        );
        let mut image = message.clone();
        image.kind = MessageType::Image;
        assert_eq!(
            decide_edit(&image, &ann, &plain, 0, day),
            Err(Refusal::NotEditable)
        );
        let muted = SendCheck {
            muted: true,
            ..plain.clone()
        };
        assert_eq!(
            decide_edit(&message, &ann, &muted, 0, day),
            Err(Refusal::Muted)
        );
        assert_eq!(
            decide_edit(&message.recall(), &ann, &plain, 0, day),
            Err(Refusal::Recalled)
        );
    }

    #[test]
    fn mute_all_silences_plain_members_only() {
        let everyone_muted = |role| SendCheck {
            mute_all: true,
            ..member(ConversationKind::Group, role)
        };
        assert_eq!(everyone_muted(Role::Member).may_post(), Err(Refusal::Muted));
        assert_eq!(everyone_muted(Role::Admin).may_post(), Ok(()));
        let blocked = SendCheck {
            blocked: true,
            ..member(ConversationKind::Direct, Role::Member)
        };
        assert_eq!(blocked.may_post(), Err(Refusal::Blocked));
    }

    #[test]
    fn mentions_are_distinct_and_bounded() {
        let ids: Vec<String> = ["a", "b", "a"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(mentions(&ids).unwrap(), vec![user("a"), user("b")]);
        let fifty: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
        assert_eq!(mentions(&fifty).unwrap().len(), 50);
        let fifty_one: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
        assert!(matches!(
            mentions(&fifty_one),
            Err(ValidationError::TooManyMentions { .. })
        ));
        assert_eq!(
            mentions(&["bad id".to_owned()]),
            Err(ValidationError::UserId)
        );
    }
}
