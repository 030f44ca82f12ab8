//! System messages: what a conversation event (a member joined, a group was renamed …)
//! leaves in the conversation's history. The body is small JSON such as
//! `{"event":"member_joined","user_ids":["u1"],"actor_id":"u0","method":"invited"}`;
//! long user lists are cut to [`MAX_LISTED_USERS`] with the full count beside them.

use super::{Body, ClientMsgId, ConversationId, Draft, MessageType, UserId, ValidationError};
use serde_json::{Value, json};

/// The most user ids one system message lists.
pub const MAX_LISTED_USERS: usize = 50;

/// A change of a conversation worth a line in its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    GroupCreated {
        name: String,
        member_ids: Vec<String>,
    },
    GroupUpdated {
        name: String,
        mute_all: bool,
    },
    GroupDissolved,
    MembersJoined {
        user_ids: Vec<String>,
        /// `invited`, `joined` or `approved`.
        method: &'static str,
    },
    MemberRemoved {
        user_id: String,
        /// `left` or `kicked`.
        reason: &'static str,
    },
    /// A member's role or mute changed.
    MemberUpdated {
        user_id: String,
        /// `owner`, `admin` or `member`.
        role: &'static str,
        muted_until_ms: i64,
    },
    OwnershipTransferred {
        previous_owner_id: String,
        new_owner_id: String,
    },
}

/// One conversation event to record as a system message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemNotice {
    /// The conversation event's id: a redelivered event makes no second message.
    pub event_id: String,
    pub conversation_id: ConversationId,
    pub actor_id: String,
    pub notice: Notice,
}

/// Client message ids of system messages: this prefix and the event id.
const EVENT_PREFIX: &str = "event:";

fn listed(ids: &[String]) -> Value {
    json!(ids.iter().take(MAX_LISTED_USERS).collect::<Vec<_>>())
}

impl SystemNotice {
    /// The system message to store; fails for an event id too long to key it.
    pub fn draft(&self) -> Result<Draft, ValidationError> {
        Ok(Draft {
            conversation_id: self.conversation_id.clone(),
            sender_id: UserId::system(),
            client_msg_id: ClientMsgId::parse(&format!("{EVENT_PREFIX}{}", self.event_id))?,
            kind: MessageType::System,
            body: Body::server_made(&self.body()),
            reply_to: None,
            mentions: Vec::new(),
            mention_all: false,
        })
    }

    fn body(&self) -> Value {
        let actor = self.actor_id.as_str();
        match &self.notice {
            Notice::GroupCreated { name, member_ids } => json!({
                "event": "group_created",
                "actor_id": actor,
                "name": name,
                "user_ids": listed(member_ids),
                "user_count": member_ids.len(),
            }),
            Notice::GroupUpdated { name, mute_all } => json!({
                "event": "group_updated",
                "actor_id": actor,
                "name": name,
                "mute_all": mute_all,
            }),
            Notice::GroupDissolved => json!({
                "event": "group_dissolved",
                "actor_id": actor,
            }),
            Notice::MembersJoined { user_ids, method } => json!({
                "event": "member_joined",
                "actor_id": actor,
                "user_ids": listed(user_ids),
                "user_count": user_ids.len(),
                "method": method,
            }),
            Notice::MemberRemoved { user_id, reason } => json!({
                "event": "member_removed",
                "actor_id": actor,
                "user_ids": [user_id],
                "reason": reason,
            }),
            Notice::MemberUpdated {
                user_id,
                role,
                muted_until_ms,
            } => json!({
                "event": "member_updated",
                "actor_id": actor,
                "user_ids": [user_id],
                "role": role,
                "muted_until_ms": muted_until_ms,
            }),
            Notice::OwnershipTransferred {
                previous_owner_id,
                new_owner_id,
            } => json!({
                "event": "ownership_transferred",
                "actor_id": actor,
                "user_ids": [previous_owner_id, new_owner_id],
                "previous_owner_id": previous_owner_id,
                "new_owner_id": new_owner_id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(event_id: &str, notice: Notice) -> SystemNotice {
        SystemNotice {
            event_id: event_id.to_owned(),
            conversation_id: ConversationId::parse("g1").unwrap(),
            actor_id: "olive".to_owned(),
            notice,
        }
    }

    #[test]
    fn bodies_are_small_json_keyed_by_the_event() {
        let draft = notice(
            "0190-event",
            Notice::MembersJoined {
                user_ids: vec!["zoe".into()],
                method: "invited",
            },
        )
        .draft()
        .unwrap();
        assert_eq!(draft.client_msg_id.as_str(), "event:0190-event");
        assert_eq!(draft.sender_id.as_str(), "system");
        assert_eq!(draft.kind, MessageType::System);
        let body: Value = serde_json::from_str(draft.body.as_str()).unwrap();
        assert_eq!(
            body,
            json!({"event":"member_joined","actor_id":"olive","user_ids":["zoe"],"user_count":1,"method":"invited"})
        );
    }

    #[test]
    fn long_member_lists_are_cut() {
        let ids: Vec<String> = (0..500).map(|i| format!("user-{i}")).collect();
        let draft = notice(
            "e",
            Notice::GroupCreated {
                name: "Big".into(),
                member_ids: ids,
            },
        )
        .draft()
        .unwrap();
        let body: Value = serde_json::from_str(draft.body.as_str()).unwrap();
        assert_eq!(body["user_ids"].as_array().unwrap().len(), MAX_LISTED_USERS);
        assert_eq!(body["user_count"], 500);
        assert!(draft.body.as_str().len() < 2048);
    }

    #[test]
    fn an_event_id_too_long_to_key_is_refused() {
        let long = "e".repeat(64);
        assert!(notice(&long, Notice::GroupDissolved).draft().is_err());
    }
}
