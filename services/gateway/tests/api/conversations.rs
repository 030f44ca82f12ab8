//! Conversations and groups: the JSON a client gets, what the gateway asks the
//! conversation service, existence checks of named users, and how the service's errors
//! and outages reach the client.

use crate::{dead_endpoint, spawn_app, spawn_app_with};
use im_contracts::v1::*;
use serde_json::json;

#[tokio::test]
async fn my_conversations_are_listed_with_last_message_and_read_position() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .get("/api/v1/conversations?limit=10&cursor=v1", Some(&token))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let direct = &reply.body["items"][0];
    assert_eq!(
        *direct,
        json!({
            "id": "d-1", "kind": "direct", "name": "", "avatar_file_id": null,
            "announcement": "", "owner_id": null, "peer_id": "u2", "settings": null,
            "member_count": null, "max_seq": 9, "read_seq": 7, "unread": 2,
            "last_message": {
                "id": "m9", "conversation_id": "d-1", "seq": 9, "sender_id": "u2",
                "client_msg_id": "cm9", "type": "text", "body": {"text": "hi"},
                "reply_to": null, "mentions": [], "mention_all": false,
                "created_at": "2023-11-14T22:13:20Z", "edited_at": null, "recalled": false,
            },
            "updated_at": "2023-11-14T22:13:20Z",
        })
    );
    let group = &reply.body["items"][1];
    assert_eq!(group["kind"], "group");
    assert_eq!(group["owner_id"], "u1");
    assert!(group["peer_id"].is_null());
    assert!(group["last_message"].is_null());
    assert_eq!(reply.body["next_cursor"], "v2");
    let seen: Vec<ListUserConversationsRequest> = app.conversation.seen("ListUserConversations");
    assert_eq!(seen[0].user_id, "u1");
    assert_eq!(
        seen[0].page,
        Some(Page {
            limit: 10,
            cursor: "v1".into()
        })
    );
}

#[tokio::test]
async fn one_conversation_shows_settings_for_groups_and_the_peer_for_direct_ones() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let group = app.get("/api/v1/conversations/c1", Some(&token)).await;
    assert_eq!(group.status, 200, "{:?}", group.body);
    assert_eq!(
        group.body["settings"],
        json!({"invite_policy": "admins_only", "join_policy": "approval", "mute_all": false})
    );
    assert_eq!(group.body["member_count"], 3);
    assert!(group.body["peer_id"].is_null());
    let direct = app.get("/api/v1/conversations/d-1", Some(&token)).await;
    assert_eq!(direct.body["peer_id"], "u2");
    assert!(direct.body["settings"].is_null());
    let seen: Vec<GetConversationRequest> = app.conversation.seen("GetConversation");
    assert_eq!(seen[0].viewer_id, "u1");
}

#[tokio::test]
async fn the_direct_conversation_is_found_or_created_with_an_existing_user() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let found = app
        .post(
            "/api/v1/conversations/direct",
            Some(&token),
            json!({"user_id": "u2"}),
        )
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["kind"], "direct");
    assert_eq!(found.body["peer_id"], "u2");
    let created = app
        .post(
            "/api/v1/conversations/direct",
            Some(&token),
            json!({"user_id": "u-new"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let seen: Vec<GetOrCreateDirectRequest> = app.conversation.seen("GetOrCreateDirect");
    assert_eq!(
        (seen[0].user_id.as_str(), seen[0].peer_id.as_str()),
        ("u1", "u2")
    );

    let reply = app
        .post(
            "/api/v1/conversations/direct",
            Some(&token),
            json!({"user_id": "missing-9"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    assert_eq!(
        app.conversation
            .seen::<GetOrCreateDirectRequest>("GetOrCreateDirect")
            .len(),
        2
    );
}

#[tokio::test]
async fn a_group_is_created_with_settings_and_existing_members_only() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .post(
            "/api/v1/groups",
            Some(&token),
            json!({
                "name": "Team", "member_ids": ["u2", "u3", "u1", "u2"],
                "settings": {"invite_policy": "admins_only", "join_policy": "approval"},
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["kind"], "group");
    assert_eq!(reply.body["owner_id"], "u1");
    assert_eq!(reply.body["settings"]["join_policy"], "approval");
    assert_eq!(reply.body["settings"]["invite_policy"], "admins_only");
    let created: Vec<CreateGroupRequest> = app.conversation.seen("CreateGroup");
    assert_eq!(created[0].owner_id, "u1");
    let settings = created[0].settings.unwrap();
    assert_eq!(settings.join_policy(), JoinPolicy::Approval);
    assert_eq!(settings.invite_policy(), InvitePolicy::AdminsOnly);
    let lookups = app.identity.user_lookups.lock().unwrap().clone();
    assert_eq!(lookups[0].user_ids, ["u2", "u3"], "each other member once");

    let reply = app
        .post(
            "/api/v1/groups",
            Some(&token),
            json!({"name": "Team", "member_ids": ["u2", "missing-a", "missing-b"]}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "user_not_found"),
        "{:?}",
        reply.body
    );
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("missing-a") && message.contains("missing-b"),
        "{message}"
    );
    assert_eq!(
        app.conversation
            .seen::<CreateGroupRequest>("CreateGroup")
            .len(),
        1
    );

    // Identity answers at most 100 ids at once.
    let many: Vec<String> = (0..150).map(|i| format!("u-{i}")).collect();
    let reply = app
        .post(
            "/api/v1/groups",
            Some(&token),
            json!({"name": "Big", "member_ids": many}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let lookups = app.identity.user_lookups.lock().unwrap().clone();
    let sizes: Vec<usize> = lookups[2..].iter().map(|l| l.user_ids.len()).collect();
    assert_eq!(sizes, [100, 50]);
}

#[tokio::test]
async fn group_input_is_checked_at_the_edge() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let too_many: Vec<String> = (0..2001).map(|i| format!("u-{i}")).collect();
    let cases = [
        (
            json!({"name": "T", "member_ids": too_many}),
            "too_many_users",
        ),
        (json!({"name": "T", "member_ids": ["ok", ""]}), "invalid_id"),
        (json!({"name": "T", "member_ids": "u2"}), "invalid_request"),
        (json!({"member_ids": []}), "invalid_request"),
        (json!({"name": "n".repeat(1_000)}), "invalid_name"),
        (
            json!({"name": "T", "announcement": "a".repeat(9_000)}),
            "invalid_announcement",
        ),
        (
            json!({"name": "T", "settings": {"join_policy": "whenever"}}),
            "invalid_request",
        ),
        (
            json!({"name": "T", "settings": {"invite_policy": "everyone"}}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let reply = app.post("/api/v1/groups", Some(&token), body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, code),
            "{:?}",
            reply.body
        );
    }
    let reply = app
        .patch(
            "/api/v1/conversations/c1",
            Some(&token),
            json!({"join_policy": "sometimes"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(app.conversation.calls(), 0);
}

#[tokio::test]
async fn settings_change_only_what_is_sent_and_the_reply_is_the_callers_view() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .patch(
            "/api/v1/conversations/c1",
            Some(&token),
            json!({"name": "New", "mute_all": true, "join_policy": "open", "avatar_file_id": ""}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["read_seq"], 7, "the caller's read position");
    assert_eq!(reply.body["member_count"], 3);
    let seen: Vec<UpdateConversationRequest> = app.conversation.seen("UpdateConversation");
    let update = &seen[0];
    assert_eq!(update.actor_id, "u1");
    assert_eq!(update.name.as_deref(), Some("New"));
    assert_eq!(update.avatar_file_id.as_deref(), Some(""));
    assert_eq!(update.announcement, None);
    assert_eq!(update.mute_all, Some(true));
    assert_eq!(update.join_policy, Some(JoinPolicy::Open.into()));
    assert_eq!(update.invite_policy, None);
}

#[tokio::test]
async fn groups_are_dissolved_and_handed_over() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    assert_eq!(
        app.delete("/api/v1/conversations/c1", Some(&token))
            .await
            .status,
        204
    );
    let seen: Vec<DissolveGroupRequest> = app.conversation.seen("DissolveGroup");
    assert_eq!(seen[0].actor_id, "u1");

    let reply = app
        .post(
            "/api/v1/conversations/c1/transfer",
            Some(&token),
            json!({"user_id": "u2"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["id"], "c1");
    let seen: Vec<TransferOwnershipRequest> = app.conversation.seen("TransferOwnership");
    assert_eq!(
        (seen[0].actor_id.as_str(), seen[0].new_owner_id.as_str()),
        ("u1", "u2")
    );
    let reply = app
        .post(
            "/api/v1/conversations/c1/transfer",
            Some(&token),
            json!({"user_id": ""}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_id"));
}

#[tokio::test]
async fn the_services_codes_reach_the_client_with_their_status() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .get("/api/v1/conversations/c-missing", Some(&token))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "conversation_not_found")
    );
    let reply = app
        .delete("/api/v1/conversations/c-forbidden", Some(&token))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "insufficient_role"));
    let reply = app
        .patch(
            "/api/v1/conversations/c-rule",
            Some(&token),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (422, "not_a_group"));
    let reply = app
        .post(
            "/api/v1/conversations/c-taken/join",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (409, "already_member"));

    // Losing to concurrent writes is worth retrying: 503 with the service's hint.
    let reply = app
        .delete("/api/v1/conversations/c-busy", Some(&token))
        .await;
    assert_eq!((reply.status, reply.code()), (503, "contention"));
    assert_eq!(reply.header("retry-after"), Some("1"));
    // The service's own outage names the service, whatever code it attached.
    let reply = app.get("/api/v1/conversations/c-down", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (503, "conversation_unavailable")
    );
    assert_eq!(reply.header("retry-after"), Some("2"));

    let reply = app.get("/api/v1/conversations/c-bug", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (500, "internal"));
    assert!(!reply.body.to_string().contains("corrupt"));
}

#[tokio::test]
async fn without_the_conversation_service_the_answer_is_503_with_retry_after() {
    let dead = dead_endpoint().await;
    let app = spawn_app_with(|config| {
        config
            .registry
            .endpoints
            .insert("conversation".into(), vec![dead]);
    })
    .await;
    let token = app.token("u1", "s1");
    for reply in [
        app.get("/api/v1/conversations", Some(&token)).await,
        app.get("/api/v1/contacts", Some(&token)).await,
        app.post(
            "/api/v1/friend-requests",
            Some(&token),
            json!({"to_user_id": "u2"}),
        )
        .await,
    ] {
        assert_eq!(
            (reply.status, reply.code()),
            (503, "conversation_unavailable")
        );
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }
    // Routes that do not need it keep working.
    assert_eq!(app.get("/api/v1/users/me", Some(&token)).await.status, 200);
}
