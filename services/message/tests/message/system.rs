//! System messages: conversation events become `system` messages in the group's
//! history, once each even when the bus delivers an event again.

use crate::harness::{TestApp, eventually, on_every_backend};
use im_contracts::v1 as pb;
use pb::conversation_event::Kind;
use serde_json::{Value, json};

on_every_backend!(conversation_events_leave_system_messages_once);

fn event(id: &str, actor: &str, kind: Kind) -> pb::ConversationEvent {
    pb::ConversationEvent {
        id: id.into(),
        occurred_at_ms: crate::harness::now_ms(),
        actor_id: actor.into(),
        membership_version: 1,
        kind: Some(kind),
    }
}

fn member(user: &str, role: pb::MemberRole) -> pb::Member {
    pb::Member {
        user_id: user.into(),
        role: role.into(),
        ..pb::Member::default()
    }
}

fn body(message: &pb::Message) -> Value {
    serde_json::from_str(&message.body_json).unwrap()
}

async fn conversation_events_leave_system_messages_once(app: TestApp) {
    app.members.group("g", &["olive", "mia"]);
    let group = pb::Conversation {
        id: "g".into(),
        kind: pb::ConversationKind::Group.into(),
        name: "Team".into(),
        ..pb::Conversation::default()
    };
    let created = event(
        "e1",
        "olive",
        Kind::ConversationCreated(pb::ConversationCreated {
            conversation: Some(group.clone()),
            settings: None,
            members: vec![
                member("olive", pb::MemberRole::Owner),
                member("mia", pb::MemberRole::Member),
            ],
        }),
    );
    let joined = event(
        "e2",
        "olive",
        Kind::MembersJoined(pb::MembersJoined {
            conversation_id: "g".into(),
            members: vec![member("zoe", pb::MemberRole::Member)],
            method: pb::JoinMethod::Invited.into(),
        }),
    );
    let promoted = event(
        "e3",
        "olive",
        Kind::MemberUpdated(pb::MemberUpdated {
            conversation_id: "g".into(),
            member: Some(member("mia", pb::MemberRole::Admin)),
        }),
    );
    let kicked = event(
        "e4",
        "mia",
        Kind::MemberRemoved(pb::MemberRemoved {
            conversation_id: "g".into(),
            user_id: "zoe".into(),
            reason: pb::RemovalReason::Kicked.into(),
        }),
    );
    let transferred = event(
        "e5",
        "olive",
        Kind::OwnershipTransferred(pb::OwnershipTransferred {
            conversation_id: "g".into(),
            previous_owner_id: "olive".into(),
            new_owner_id: "mia".into(),
        }),
    );
    // leaves no message: a direct conversation, and a contact change
    let direct = event(
        "e6",
        "olive",
        Kind::ConversationCreated(pb::ConversationCreated {
            conversation: Some(pb::Conversation {
                id: "d".into(),
                kind: pb::ConversationKind::Direct.into(),
                ..pb::Conversation::default()
            }),
            settings: None,
            members: vec![member("olive", pb::MemberRole::Member)],
        }),
    );
    let contact = event(
        "e7",
        "olive",
        Kind::ContactAdded(pb::ContactAdded {
            user_id: "olive".into(),
            contact_id: "mia".into(),
        }),
    );
    let renamed = event(
        "e8",
        "mia",
        Kind::ConversationUpdated(pb::ConversationUpdated {
            conversation: Some(pb::Conversation {
                name: "Renamed".into(),
                ..group.clone()
            }),
            settings: Some(pb::GroupSettings {
                mute_all: true,
                ..pb::GroupSettings::default()
            }),
        }),
    );
    for event in [
        &created,
        &joined,
        &promoted,
        &kicked,
        &transferred,
        &direct,
        &contact,
        &renamed,
    ] {
        app.publish_conversation_event("g", event).await;
    }
    // the bus delivers some again
    for event in [&joined, &kicked, &created] {
        app.publish_conversation_event("g", event).await;
    }
    let dissolved = event(
        "e9",
        "mia",
        Kind::ConversationDissolved(pb::ConversationDissolved {
            conversation_id: "g".into(),
            member_ids: vec!["olive".into(), "mia".into()],
        }),
    );
    app.publish_conversation_event("g", &dissolved).await;

    eventually("seven system messages", || async {
        app.all_history("g", "mia").await.len() >= 7
    })
    .await;
    let history = app.all_history("g", "mia").await;
    // the last one arrived after the redeliveries: nothing was stored twice
    assert_eq!(history.len(), 7, "{history:?}");
    assert_eq!(crate::harness::seqs(&history), (1..=7).collect::<Vec<_>>());
    for message in &history {
        assert_eq!(message.sender_id, "system");
        assert_eq!(message.r#type(), pb::MessageType::System);
    }
    let bodies: Vec<Value> = history.iter().map(body).collect();
    assert_eq!(
        bodies[0],
        json!({"event":"group_created","actor_id":"olive","name":"Team","user_ids":["olive","mia"],"user_count":2})
    );
    assert_eq!(
        bodies[1],
        json!({"event":"member_joined","actor_id":"olive","user_ids":["zoe"],"user_count":1,"method":"invited"})
    );
    assert_eq!(bodies[2]["event"], "member_updated");
    assert_eq!(bodies[2]["role"], "admin");
    assert_eq!(
        bodies[3],
        json!({"event":"member_removed","actor_id":"mia","user_ids":["zoe"],"reason":"kicked"})
    );
    assert_eq!(bodies[4]["event"], "ownership_transferred");
    assert_eq!(bodies[4]["new_owner_id"], "mia");
    assert_eq!(
        bodies[5],
        json!({"event":"group_updated","actor_id":"mia","name":"Renamed","mute_all":true})
    );
    assert_eq!(bodies[6]["event"], "group_dissolved");

    app.members.direct("d", "olive", "mia");
    assert!(app.all_history("d", "olive").await.is_empty());
    // system messages do not count as read by anyone
    assert_eq!(app.read_state("olive", "g").await.unread, 7);
}
