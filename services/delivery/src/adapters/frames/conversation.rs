//! Conversation events (`im.v1.ConversationEvent`) as frames: conversation-level ones to
//! the members (and the users a change is about), contact-level ones to the pair. A
//! change of membership also forgets the conversation's cached members.

use super::views::{
    ConversationView, FriendRequestView, JoinRequestView, MemberView, friend_request_status,
    non_empty,
};
use super::{Malformed, Translated, conversation_id, frame, user_id, user_ids};
use crate::domain::{Audience, Fanout, MemberFilter};
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_event::Kind;
use serde_json::{Value, json};

pub const CREATED: &str = "conversation.created";
pub const UPDATED: &str = "conversation.updated";
pub const DISSOLVED: &str = "conversation.dissolved";
pub const MEMBER_JOINED: &str = "conversation.member_joined";
pub const MEMBER_REMOVED: &str = "conversation.member_removed";
pub const MEMBER_UPDATED: &str = "conversation.member_updated";
pub const OWNERSHIP_TRANSFERRED: &str = "conversation.ownership_transferred";
pub const JOIN_REQUEST: &str = "conversation.join_request";
pub const CONTACT_ADDED: &str = "contact.added";
pub const CONTACT_REMOVED: &str = "contact.removed";
pub const BLOCK_CHANGED: &str = "block.changed";

/// `data` with the actor added (`null` when none).
fn with_actor(mut data: Value, actor: &Option<String>) -> Value {
    if let Value::Object(fields) = &mut data {
        fields.insert("actor_id".to_owned(), json!(actor));
    }
    data
}

pub fn from_conversation_event(event: pb::ConversationEvent) -> Result<Translated, Malformed> {
    let actor = non_empty(event.actor_id);
    let kind = event
        .kind
        .ok_or_else(|| Malformed(format!("conversation event {} has no kind", event.id)))?;
    let out = |frame_type: &str, data: Value, audience: Audience| -> Result<Fanout, Malformed> {
        Ok(Fanout {
            frame: frame(frame_type, &with_actor(data, &actor))?,
            audience,
        })
    };
    let (forget, fanout) = match kind {
        Kind::ConversationCreated(created) => {
            let conversation = created
                .conversation
                .ok_or_else(|| Malformed("a created conversation is missing".into()))?;
            let id = conversation_id(&conversation.id)?;
            let members = user_ids(created.members.iter().map(|m| m.user_id.as_str()))?;
            let data = json!({
                "conversation": ConversationView::new(conversation, created.settings)?,
                "members": created.members.into_iter().map(MemberView::from).collect::<Vec<_>>(),
            });
            (Some(id), out(CREATED, data, Audience::users(members))?)
        }
        Kind::ConversationUpdated(updated) => {
            let conversation = updated
                .conversation
                .ok_or_else(|| Malformed("an updated conversation is missing".into()))?;
            let id = conversation_id(&conversation.id)?;
            let data = json!({
                "conversation": ConversationView::new(conversation, updated.settings)?,
            });
            (None, out(UPDATED, data, Audience::members(id))?)
        }
        Kind::ConversationDissolved(dissolved) => {
            let id = conversation_id(&dissolved.conversation_id)?;
            // None remain: the event names who they were.
            let members = user_ids(dissolved.member_ids.iter().map(String::as_str))?;
            let data = json!({ "conversation_id": dissolved.conversation_id });
            (Some(id), out(DISSOLVED, data, Audience::users(members))?)
        }
        Kind::MembersJoined(joined) => {
            let id = conversation_id(&joined.conversation_id)?;
            let newcomers = user_ids(joined.members.iter().map(|m| m.user_id.as_str()))?;
            let method = match joined.method() {
                pb::JoinMethod::Joined => "joined",
                pb::JoinMethod::Approved => "approved",
                pb::JoinMethod::Invited | pb::JoinMethod::Unspecified => "invited",
            };
            let data = json!({
                "conversation_id": joined.conversation_id,
                "members": joined.members.into_iter().map(MemberView::from).collect::<Vec<_>>(),
                "method": method,
            });
            let audience = Audience::members(id.clone()).and(newcomers);
            (Some(id), out(MEMBER_JOINED, data, audience)?)
        }
        Kind::MemberRemoved(removed) => {
            let id = conversation_id(&removed.conversation_id)?;
            let gone = user_id(&removed.user_id)?;
            let reason = match removed.reason() {
                pb::RemovalReason::Kicked => "kicked",
                pb::RemovalReason::Left | pb::RemovalReason::Unspecified => "left",
            };
            let data = json!({
                "conversation_id": removed.conversation_id,
                "user_id": removed.user_id,
                "reason": reason,
            });
            let audience = Audience::members(id.clone()).and([gone]);
            (Some(id), out(MEMBER_REMOVED, data, audience)?)
        }
        Kind::MemberUpdated(updated) => {
            let id = conversation_id(&updated.conversation_id)?;
            let member = updated
                .member
                .ok_or_else(|| Malformed("an updated member is missing".into()))?;
            let data = json!({
                "conversation_id": updated.conversation_id,
                "member": MemberView::from(member),
            });
            (
                Some(id.clone()),
                out(MEMBER_UPDATED, data, Audience::members(id))?,
            )
        }
        Kind::OwnershipTransferred(transferred) => {
            let id = conversation_id(&transferred.conversation_id)?;
            let data = json!({
                "conversation_id": transferred.conversation_id,
                "previous_owner_id": transferred.previous_owner_id,
                "new_owner_id": transferred.new_owner_id,
            });
            let audience = Audience::members(id.clone());
            (Some(id), out(OWNERSHIP_TRANSFERRED, data, audience)?)
        }
        Kind::JoinRequestChanged(changed) => {
            let request = changed
                .join_request
                .ok_or_else(|| Malformed("a join request is missing".into()))?;
            let id = conversation_id(&request.conversation_id)?;
            let requester = user_id(&request.user_id)?;
            let audience = Audience {
                members_of: Some((id, MemberFilter::Moderators)),
                ..Audience::default()
            }
            .and([requester]);
            let data = json!({ "join_request": JoinRequestView::from(request) });
            (None, out(JOIN_REQUEST, data, audience)?)
        }
        Kind::FriendRequestChanged(changed) => {
            let request = changed
                .friend_request
                .ok_or_else(|| Malformed("a friend request is missing".into()))?;
            let pair = user_ids([request.from_user_id.as_str(), request.to_user_id.as_str()])?;
            let frame_type = format!("friend_request.{}", friend_request_status(request.status()));
            let data = json!({ "friend_request": FriendRequestView::from(request) });
            (None, out(&frame_type, data, Audience::users(pair))?)
        }
        Kind::ContactAdded(added) => {
            let pair = user_ids([added.user_id.as_str(), added.contact_id.as_str()])?;
            let data = json!({ "user_id": added.user_id, "contact_id": added.contact_id });
            (None, out(CONTACT_ADDED, data, Audience::users(pair))?)
        }
        Kind::ContactRemoved(removed) => {
            let pair = user_ids([removed.user_id.as_str(), removed.contact_id.as_str()])?;
            let data = json!({ "user_id": removed.user_id, "contact_id": removed.contact_id });
            (None, out(CONTACT_REMOVED, data, Audience::users(pair))?)
        }
        Kind::BlockChanged(changed) => {
            let blocker = user_id(&changed.user_id)?;
            user_id(&changed.blocked_user_id)?;
            let data = json!({
                "user_id": changed.user_id,
                "blocked_user_id": changed.blocked_user_id,
                "blocked": changed.blocked,
            });
            (
                None,
                out(BLOCK_CHANGED, data, Audience::users(vec![blocker]))?,
            )
        }
    };
    Ok(Translated {
        forget,
        fanouts: vec![fanout],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, UserId};

    fn translate(kind: Kind) -> Translated {
        from_conversation_event(pb::ConversationEvent {
            id: "e1".into(),
            occurred_at_ms: 1,
            actor_id: "olive".into(),
            membership_version: 3,
            kind: Some(kind),
        })
        .unwrap()
    }

    fn data(translated: &Translated) -> Value {
        serde_json::from_str(translated.fanouts[0].frame.data_json()).unwrap()
    }

    fn users(translated: &Translated) -> Vec<&str> {
        translated.fanouts[0]
            .audience
            .users
            .iter()
            .map(UserId::as_str)
            .collect()
    }

    fn c1() -> ConversationId {
        ConversationId::parse("c1").unwrap()
    }

    fn member(user: &str) -> pb::Member {
        pb::Member {
            user_id: user.into(),
            role: pb::MemberRole::Member.into(),
            muted_until_ms: 0,
            joined_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_kick_goes_to_the_members_and_the_kicked_and_forgets_the_members() {
        let translated = translate(Kind::MemberRemoved(pb::MemberRemoved {
            conversation_id: "c1".into(),
            user_id: "max".into(),
            reason: pb::RemovalReason::Kicked.into(),
        }));
        assert_eq!(translated.forget, Some(c1()));
        let fanout = &translated.fanouts[0];
        assert_eq!(fanout.frame.frame_type(), "conversation.member_removed");
        assert_eq!(
            fanout.audience.members_of,
            Some((c1(), MemberFilter::Everyone))
        );
        assert_eq!(users(&translated), ["max"]);
        assert_eq!(
            data(&translated),
            json!({"conversation_id": "c1", "user_id": "max", "reason": "kicked", "actor_id": "olive"})
        );
    }

    #[test]
    fn joins_creations_and_dissolutions() {
        let joined = translate(Kind::MembersJoined(pb::MembersJoined {
            conversation_id: "c1".into(),
            members: vec![member("zoe")],
            method: pb::JoinMethod::Invited.into(),
        }));
        assert_eq!(joined.forget, Some(c1()));
        assert_eq!(
            joined.fanouts[0].frame.frame_type(),
            "conversation.member_joined"
        );
        assert_eq!(users(&joined), ["zoe"]);
        assert_eq!(
            data(&joined)["members"][0],
            json!({"user_id": "zoe", "role": "member", "muted_until": null, "joined_at": "2023-11-14T22:13:20Z"})
        );

        let created = translate(Kind::ConversationCreated(pb::ConversationCreated {
            conversation: Some(pb::Conversation {
                id: "c1".into(),
                kind: pb::ConversationKind::Group.into(),
                name: "Team".into(),
                owner_id: "olive".into(),
                ..Default::default()
            }),
            settings: Some(pb::GroupSettings::default()),
            members: vec![member("olive"), member("mia")],
        }));
        assert_eq!(
            created.fanouts[0].frame.frame_type(),
            "conversation.created"
        );
        assert_eq!(created.fanouts[0].audience.members_of, None);
        assert_eq!(users(&created), ["olive", "mia"]);
        let conversation = &data(&created)["conversation"];
        assert_eq!(conversation["kind"], "group");
        assert_eq!(conversation["settings"]["join_policy"], "invite_only");
        assert_eq!(conversation["avatar_file_id"], Value::Null);

        let dissolved = translate(Kind::ConversationDissolved(pb::ConversationDissolved {
            conversation_id: "c1".into(),
            member_ids: vec!["mia".into(), "zoe".into()],
        }));
        assert_eq!(dissolved.forget, Some(c1()));
        assert_eq!(dissolved.fanouts[0].audience.members_of, None);
        assert_eq!(users(&dissolved), ["mia", "zoe"]);
    }

    #[test]
    fn contact_level_events_go_to_the_pair_and_blocks_to_the_blocker_only() {
        let request = translate(Kind::FriendRequestChanged(pb::FriendRequestChanged {
            friend_request: Some(pb::FriendRequest {
                id: "fr1".into(),
                from_user_id: "ann".into(),
                to_user_id: "bob".into(),
                status: pb::FriendRequestStatus::Accepted.into(),
                ..Default::default()
            }),
        }));
        assert_eq!(request.forget, None);
        assert_eq!(
            request.fanouts[0].frame.frame_type(),
            "friend_request.accepted"
        );
        assert_eq!(users(&request), ["ann", "bob"]);
        assert_eq!(data(&request)["friend_request"]["status"], "accepted");

        let added = translate(Kind::ContactAdded(pb::ContactAdded {
            user_id: "ann".into(),
            contact_id: "bob".into(),
        }));
        assert_eq!(added.fanouts[0].frame.frame_type(), "contact.added");
        assert_eq!(users(&added), ["ann", "bob"]);

        let blocked = translate(Kind::BlockChanged(pb::BlockChanged {
            user_id: "ann".into(),
            blocked_user_id: "eve".into(),
            blocked: true,
            direct_conversation_id: String::new(),
        }));
        assert_eq!(users(&blocked), ["ann"]);
    }

    #[test]
    fn join_requests_go_to_the_moderators_and_the_requester() {
        let changed = translate(Kind::JoinRequestChanged(pb::JoinRequestChanged {
            join_request: Some(pb::JoinRequest {
                id: "jr1".into(),
                conversation_id: "c1".into(),
                user_id: "zoe".into(),
                status: pb::JoinRequestStatus::Pending.into(),
                ..Default::default()
            }),
        }));
        let fanout = &changed.fanouts[0];
        assert_eq!(fanout.frame.frame_type(), "conversation.join_request");
        assert_eq!(
            fanout.audience.members_of,
            Some((c1(), MemberFilter::Moderators))
        );
        assert_eq!(users(&changed), ["zoe"]);
    }
}
