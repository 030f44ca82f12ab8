//! Every input is bounded and bad input is refused as such, never as an internal error.

use crate::harness::{TestApp, on_every_backend, page, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(bad_input_is_invalid_argument, ids_up_to_128_characters_work);

async fn bad_input_is_invalid_argument(app: TestApp) {
    let long = "u".repeat(129);
    for bad in ["", long.as_str(), "has space", "tab\there", "zoë"] {
        refused(
            app.send_request(bad, "bob", "").await,
            Code::InvalidArgument,
            "invalid_user_id",
        );
        refused(
            app.send_request("bob", bad, "").await,
            Code::InvalidArgument,
            "invalid_user_id",
        );
    }
    refused(
        app.get(&"c".repeat(129), "alice").await,
        Code::InvalidArgument,
        "invalid_conversation_id",
    );
    refused(
        app.c()
            .check_send(pb::CheckSendRequest {
                conversation_id: String::new(),
                user_id: "alice".into(),
            })
            .await,
        Code::InvalidArgument,
        "invalid_conversation_id",
    );
    refused(
        app.c()
            .accept_friend_request(pb::AcceptFriendRequestRequest {
                request_id: "r".repeat(129),
                user_id: "alice".into(),
            })
            .await,
        Code::InvalidArgument,
        "invalid_request_id",
    );
    refused(
        app.c()
            .list_friend_requests(pb::ListFriendRequestsRequest {
                user_id: "alice".into(),
                direction: 0,
                page: None,
            })
            .await,
        Code::InvalidArgument,
        "invalid_direction",
    );
    refused(
        app.c()
            .list_contacts(pb::ListContactsRequest {
                user_id: "alice".into(),
                page: page(10, "not a cursor!"),
            })
            .await,
        Code::InvalidArgument,
        "invalid_cursor",
    );
    refused(
        app.c()
            .list_user_conversations(pb::ListUserConversationsRequest {
                user_id: "alice".into(),
                // valid base64 of a key that is not `time:id`
                page: page(10, "YWJj"),
            })
            .await,
        Code::InvalidArgument,
        "invalid_cursor",
    );
    let too_many: Vec<String> = (0..2_001).map(|i| format!("user{i}")).collect();
    refused(
        app.c()
            .create_group(pb::CreateGroupRequest {
                owner_id: "olive".into(),
                name: "Huge".into(),
                member_ids: too_many,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "too_many_users",
    );
    refused(
        app.c()
            .create_group(pb::CreateGroupRequest {
                owner_id: "olive".into(),
                name: "Bad".into(),
                member_ids: vec!["ok".into(), String::new()],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "invalid_user_id",
    );
    refused(
        app.c()
            .create_group(pb::CreateGroupRequest {
                owner_id: "olive".into(),
                name: "Bad".into(),
                avatar_file_id: "a file".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "invalid_avatar_file_id",
    );
    refused(
        app.c()
            .create_group(pb::CreateGroupRequest {
                owner_id: "olive".into(),
                name: "Bad".into(),
                settings: Some(pb::GroupSettings {
                    invite_policy: 42,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "invalid_policy",
    );
    let group = app.group("olive", &["mia"]).await;
    refused(
        app.update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "olive".into(),
            join_policy: Some(0),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "invalid_policy",
    );
    refused(
        app.c()
            .update_member(pb::UpdateMemberRequest {
                conversation_id: group.clone(),
                actor_id: "olive".into(),
                user_id: "mia".into(),
                role: Some(17),
                muted_until_ms: None,
            })
            .await,
        Code::InvalidArgument,
        "invalid_role",
    );
    refused(
        app.c()
            .join_group(pb::JoinGroupRequest {
                conversation_id: group.clone(),
                user_id: "zoe".into(),
                message: "m".repeat(201),
            })
            .await,
        Code::InvalidArgument,
        "invalid_message",
    );
}

async fn ids_up_to_128_characters_work(app: TestApp) {
    let a = "a".repeat(128);
    let b = format!("{}:{}", "b".repeat(60), "~!@#$%^&*()_+-=[]{}|;'<>?,./`");
    app.befriend(&a, &b).await;
    let direct = app.direct(&b, &a).await;
    assert_eq!(app.member_ids(&direct.id).await, [a.clone(), b.clone()]);
    let group = app.group(&a, &[&b]).await;
    assert!(app.check(&group, &b).await.is_member);
    let listed = app.conversations(&b).await;
    assert_eq!(listed.conversations.len(), 2);
}
