//! Friend requests, contacts and blocks: what the gateway checks itself (ids, sizes,
//! that the target user exists), what it asks the conversation service, and the JSON a
//! client gets back.

use crate::spawn_app;
use im_contracts::v1::*;
use serde_json::json;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn a_friend_request_goes_to_an_existing_user_and_comes_back_as_json() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .post(
            "/api/v1/friend-requests",
            Some(&token),
            json!({"to_user_id": "u2", "message": "hi, it's me"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "id": "fr1", "from_user_id": "u1", "to_user_id": "u2", "message": "hello",
            "status": "pending", "created_at": "2023-11-14T22:13:20Z", "decided_at": null,
            "updated_at": "2023-11-14T22:13:20Z",
        })
    );
    let sent: Vec<SendFriendRequestRequest> = app.conversation.seen("SendFriendRequest");
    assert_eq!(sent[0].from_user_id, "u1", "the sender is the caller");
    assert_eq!(sent[0].message, "hi, it's me");

    let reply = app
        .post(
            "/api/v1/friend-requests",
            Some(&token),
            json!({"to_user_id": "missing-1"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    assert_eq!(
        app.conversation
            .seen::<SendFriendRequestRequest>("SendFriendRequest")
            .len(),
        1,
        "an unknown user is refused before the conversation service is asked"
    );
}

#[tokio::test]
async fn friend_requests_are_listed_either_way_and_decided() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app.get("/api/v1/friend-requests", Some(&token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["items"][0]["to_user_id"], "u1");
    assert!(reply.body["next_cursor"].is_null());
    let reply = app
        .get(
            "/api/v1/friend-requests?direction=outgoing&limit=5&cursor=abc",
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, 200);
    let seen: Vec<ListFriendRequestsRequest> = app.conversation.seen("ListFriendRequests");
    assert_eq!(
        seen[0].direction(),
        FriendRequestDirection::Incoming,
        "default"
    );
    assert_eq!(seen[1].direction(), FriendRequestDirection::Outgoing);
    assert_eq!(
        seen[1].page,
        Some(Page {
            limit: 5,
            cursor: "abc".into()
        })
    );
    assert_eq!(seen[1].user_id, "u1");

    for query in ["direction=sideways", "direction=", "limit=0", "limit=500"] {
        let reply = app
            .get(&format!("/api/v1/friend-requests?{query}"), Some(&token))
            .await;
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
    }

    for (verb, status) in [
        ("accept", "accepted"),
        ("reject", "rejected"),
        ("cancel", "cancelled"),
    ] {
        let reply = app
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/friend-requests/fr7/{verb}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "{verb}: {:?}", reply.body);
        assert_eq!(reply.body["id"], "fr7");
        assert_eq!(reply.body["status"], status);
        assert_eq!(reply.body["decided_at"], "2023-11-14T22:13:20.001Z");
    }
    let accepted: Vec<AcceptFriendRequestRequest> = app.conversation.seen("AcceptFriendRequest");
    assert_eq!(accepted[0].user_id, "u1");
    let cancelled: Vec<CancelFriendRequestRequest> = app.conversation.seen("CancelFriendRequest");
    assert_eq!(cancelled[0].user_id, "u1");
}

#[tokio::test]
async fn contacts_come_with_profiles_and_without_them_when_identity_cannot_say() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app.get("/api/v1/contacts?limit=2", Some(&token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items[0]["user_id"], "u2");
    assert_eq!(items[0]["remark"], "remark of u2");
    assert_eq!(items[0]["created_at"], "2023-11-14T22:13:20Z");
    assert_eq!(items[0]["user"]["username"], "name-u2");
    assert!(items[0]["user"].get("roles").is_none(), "public profile");
    assert!(items[1]["user"].is_null(), "the account is gone");
    assert_eq!(reply.body["next_cursor"], "k2");
    assert_eq!(
        app.identity.user_lookups.lock().unwrap().len(),
        1,
        "one lookup per page"
    );

    app.identity.users_down.store(true, Ordering::SeqCst);
    let reply = app.get("/api/v1/contacts", Some(&token)).await;
    assert_eq!(
        reply.status, 200,
        "contacts stay readable: {:?}",
        reply.body
    );
    assert!(reply.body["items"][0]["user"].is_null());
    assert_eq!(reply.body["items"][0]["remark"], "remark of u2");
}

#[tokio::test]
async fn a_contact_gets_a_remark_and_is_removed() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .patch(
            "/api/v1/contacts/u2",
            Some(&token),
            json!({"remark": "Bob"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["remark"], "Bob");
    assert_eq!(reply.body["user"]["id"], "u2");
    let seen: Vec<UpdateContactRequest> = app.conversation.seen("UpdateContact");
    assert_eq!(
        (seen[0].user_id.as_str(), seen[0].contact_id.as_str()),
        ("u1", "u2")
    );

    let reply = app
        .patch(
            "/api/v1/contacts/u2",
            Some(&token),
            json!({"remark": "r".repeat(10_000)}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_remark"));
    let reply = app
        .patch("/api/v1/contacts/u2", Some(&token), json!({}))
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));

    let reply = app.delete("/api/v1/contacts/u2", Some(&token)).await;
    assert_eq!(reply.status, 204);
    let seen: Vec<DeleteContactRequest> = app.conversation.seen("DeleteContact");
    assert_eq!(seen[0].contact_id, "u2");
}

#[tokio::test]
async fn blocks_need_an_existing_user_and_are_listed() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app.put("/api/v1/blocks/u3", Some(&token)).await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let reply = app.put("/api/v1/blocks/u3", Some(&token)).await;
    assert_eq!(reply.status, 204, "again is harmless");
    let seen: Vec<BlockRequest> = app.conversation.seen("Block");
    assert_eq!(
        (seen[0].user_id.as_str(), seen[0].blocked_user_id.as_str()),
        ("u1", "u3")
    );

    let reply = app.put("/api/v1/blocks/missing-x", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    assert_eq!(app.conversation.seen::<BlockRequest>("Block").len(), 2);

    let reply = app.get("/api/v1/blocks", Some(&token)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"items": [{"user_id": "u3", "created_at": "2023-11-14T22:13:20Z"}], "next_cursor": null})
    );

    assert_eq!(
        app.delete("/api/v1/blocks/u3", Some(&token)).await.status,
        204
    );
    let reply = app.delete("/api/v1/blocks/u-unblocked", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (404, "block_not_found"));
}

#[tokio::test]
async fn bad_input_is_refused_before_any_service_is_asked() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let cases = [
        (json!({"to_user_id": ""}), "invalid_id"),
        (json!({"to_user_id": "a\u{0}b"}), "invalid_id"),
        (json!({"to_user_id": "u".repeat(129)}), "invalid_id"),
        (json!({"to_user_id": 42}), "invalid_request"),
        (json!({}), "invalid_request"),
        (
            json!({"to_user_id": "u2", "message": "m".repeat(5_000)}),
            "invalid_message",
        ),
    ];
    for (body, code) in cases {
        let reply = app
            .post("/api/v1/friend-requests", Some(&token), body.clone())
            .await;
        assert_eq!((reply.status, reply.code()), (400, code), "{body}");
    }
    assert_eq!(app.conversation.calls(), 0);
}
