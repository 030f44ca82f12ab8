//! The message service asking the real conversation service (in-process, over gRPC,
//! on the same bus): membership, mutes and blocks decide who may send; group changes
//! become system messages; sync finds the user's conversations; the conversation
//! service's message projection follows the message events.

use crate::harness::{Options, TestApp, eventually, now_ms, on_every_backend, refused, seqs};
use im_contracts::v1 as pb;
use serde_json::Value;
use tonic::Code;

on_every_backend!(
    options = super::Options::real_conversation();
    the_conversation_service_decides_who_may_send,
);

async fn befriend(app: &TestApp, a: &str, b: &str) {
    let request = app
        .conversation()
        .send_friend_request(pb::SendFriendRequestRequest {
            from_user_id: a.into(),
            to_user_id: b.into(),
            message: "hi".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    app.conversation()
        .accept_friend_request(pb::AcceptFriendRequestRequest {
            request_id: request.id,
            user_id: b.into(),
        })
        .await
        .unwrap();
}

async fn update_member(
    app: &TestApp,
    group: &str,
    user: &str,
    role: Option<pb::MemberRole>,
    muted_until_ms: Option<i64>,
) {
    app.conversation()
        .update_member(pb::UpdateMemberRequest {
            conversation_id: group.into(),
            actor_id: "ann".into(),
            user_id: user.into(),
            role: role.map(Into::into),
            muted_until_ms,
        })
        .await
        .unwrap();
}

async fn system_events(app: &TestApp, group: &str, viewer: &str) -> Vec<String> {
    app.all_history(group, viewer)
        .await
        .iter()
        .filter(|m| m.r#type() == pb::MessageType::System)
        .map(|m| {
            let body: Value = serde_json::from_str(&m.body_json).unwrap();
            body["event"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn the_conversation_service_decides_who_may_send(app: TestApp) {
    befriend(&app, "ann", "bob").await;
    let direct = app
        .conversation()
        .get_or_create_direct(pb::GetOrCreateDirectRequest {
            user_id: "ann".into(),
            peer_id: "bob".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap()
        .id;
    assert_eq!(app.text(&direct, "ann", "d1", "hi bob").await.seq, 1);
    refused(
        app.try_text(&direct, "eve", "e1", "hi").await,
        Code::NotFound,
        "conversation_not_found",
    );

    app.conversation()
        .block(pb::BlockRequest {
            user_id: "bob".into(),
            blocked_user_id: "ann".into(),
        })
        .await
        .unwrap();
    refused(
        app.try_text(&direct, "ann", "d2", "hello?").await,
        Code::PermissionDenied,
        "blocked",
    );
    refused(
        app.try_text(&direct, "bob", "d3", "go away").await,
        Code::PermissionDenied,
        "blocked",
    );
    app.conversation()
        .unblock(pb::UnblockRequest {
            user_id: "bob".into(),
            blocked_user_id: "ann".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.text(&direct, "bob", "d4", "sorry").await.seq, 2);

    let group = app
        .conversation()
        .create_group(pb::CreateGroupRequest {
            owner_id: "ann".into(),
            name: "Team".into(),
            member_ids: vec!["bob".into(), "cat".into()],
            ..pb::CreateGroupRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap()
        .id;
    eventually("the group's creation in its history", || async {
        system_events(&app, &group, "bob").await == ["group_created"]
    })
    .await;
    let from_bob = app.text(&group, "bob", "g1", "hello team").await;
    assert_eq!(from_bob.seq, 2);

    // a muted member, and everyone but the owner and admins under mute_all
    update_member(&app, &group, "bob", None, Some(now_ms() + 3_600_000)).await;
    refused(
        app.try_text(&group, "bob", "g2", "hm").await,
        Code::PermissionDenied,
        "muted",
    );
    app.conversation()
        .update_conversation(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "ann".into(),
            mute_all: Some(true),
            ..pb::UpdateConversationRequest::default()
        })
        .await
        .unwrap();
    refused(
        app.try_text(&group, "cat", "g3", "hm").await,
        Code::PermissionDenied,
        "muted",
    );
    let from_ann = app.text(&group, "ann", "g4", "quiet please").await;

    // an admin recalls a member's message at any time
    update_member(&app, &group, "cat", Some(pb::MemberRole::Admin), None).await;
    refused(
        app.recall(&from_ann.id, "bob").await,
        Code::PermissionDenied,
        "not_allowed",
    );
    let recalled = app
        .recall(&from_bob.id, "cat")
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert!(recalled.recalled);

    eventually("the group changes in its history", || async {
        system_events(&app, &group, "ann").await
            == [
                "group_created",
                "member_updated",
                "group_updated",
                "member_updated",
            ]
    })
    .await;

    // a new device of bob's finds both conversations through the conversation service
    let page = app.sync("bob", &[], 100, true).await;
    assert!(page.done);
    let mut synced: Vec<(String, Vec<u64>)> = page
        .batches
        .iter()
        .map(|b| (b.conversation_id.clone(), seqs(&b.messages)))
        .collect();
    synced.sort();
    let group_seqs = seqs(&app.all_history(&group, "bob").await);
    let mut expected = vec![
        (direct.clone(), vec![1, 2]),
        (group.clone(), group_seqs.clone()),
    ];
    expected.sort();
    assert_eq!(synced, expected);

    // the conversation service's list follows the message events
    let max_seq = *group_seqs.last().unwrap();
    eventually("the conversation list shows the newest message", || async {
        let conversation = app
            .conversation()
            .get_conversation(pb::GetConversationRequest {
                conversation_id: group.clone(),
                viewer_id: "bob".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .conversation
            .unwrap();
        conversation.max_seq == max_seq
            && conversation.last_message.is_some_and(|m| m.seq == max_seq)
    })
    .await;
}
