//! Members and joining: listing, inviting existing users, role and mute changes with
//! RFC 3339 times, kicking and leaving, joining open and approval groups, and deciding
//! join requests addressed by the user who asked.

use crate::spawn_app;
use im_contracts::v1::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn members_are_listed_with_roles_and_mutes() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .get(
            "/api/v1/conversations/c1/members?limit=2&cursor=m1",
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "items": [
                {"user_id": "u1", "role": "owner", "muted_until": null, "joined_at": "2023-11-14T22:13:20Z"},
                {"user_id": "u3", "role": "member", "muted_until": "2023-11-14T22:14:20Z", "joined_at": "2023-11-14T22:13:20Z"},
            ],
            "next_cursor": "m2",
        })
    );
    let seen: Vec<ListMembersRequest> = app.conversation.seen("ListMembers");
    assert_eq!(
        seen[0].viewer_id, "u1",
        "always the caller, never the internal empty viewer"
    );
    assert_eq!(
        seen[0].page,
        Some(Page {
            limit: 2,
            cursor: "m1".into()
        })
    );
}

#[tokio::test]
async fn only_existing_users_are_invited() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .post(
            "/api/v1/conversations/c1/members",
            Some(&token),
            json!({"user_ids": ["u4", "u5"]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["items"][1]["user_id"], "u5");
    assert_eq!(reply.body["items"][1]["role"], "member");
    assert!(reply.body.get("next_cursor").is_none());

    let reply = app
        .post(
            "/api/v1/conversations/c1/members",
            Some(&token),
            json!({"user_ids": ["u4", "missing-z"]}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    let too_many: Vec<String> = (0..2001).map(|i| format!("u{i}")).collect();
    let reply = app
        .post(
            "/api/v1/conversations/c1/members",
            Some(&token),
            json!({"user_ids": too_many}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "too_many_users"));
    assert_eq!(
        app.conversation
            .seen::<InviteMembersRequest>("InviteMembers")
            .len(),
        1
    );
}

#[tokio::test]
async fn roles_and_mutes_change_with_rfc3339_times() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let path = "/api/v1/conversations/c1/members/u3";
    let reply = app
        .patch(path, Some(&token), json!({"role": "admin"}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["role"], "admin");
    let reply = app
        .patch(
            path,
            Some(&token),
            json!({"muted_until": "2030-01-02T04:04:05+01:00"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["muted_until"], "2030-01-02T03:04:05Z");
    let reply = app
        .patch(path, Some(&token), json!({"muted_until": null}))
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["muted_until"].is_null());

    let seen: Vec<UpdateMemberRequest> = app.conversation.seen("UpdateMember");
    assert_eq!(seen[0].role, Some(MemberRole::Admin.into()));
    assert_eq!(seen[0].muted_until_ms, None, "left out: unchanged");
    assert_eq!(seen[1].role, None);
    assert_eq!(seen[1].muted_until_ms, Some(1_893_553_445_000));
    assert_eq!(seen[2].muted_until_ms, Some(0), "null unmutes");
    assert_eq!(
        (seen[0].actor_id.as_str(), seen[0].user_id.as_str()),
        ("u1", "u3")
    );

    for (body, code) in [
        (json!({"muted_until": "tomorrow"}), "invalid_time"),
        (json!({"muted_until": 1_893_553_445}), "invalid_request"),
        (json!({"role": "owner"}), "invalid_request"),
        (json!({"role": "king"}), "invalid_request"),
    ] {
        let reply = app.patch(path, Some(&token), body.clone()).await;
        assert_eq!((reply.status, reply.code()), (400, code), "{body}");
    }
    assert_eq!(
        app.conversation
            .seen::<UpdateMemberRequest>("UpdateMember")
            .len(),
        3
    );
}

#[tokio::test]
async fn members_are_kicked_and_leave() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .delete("/api/v1/conversations/c1/members/u3", Some(&token))
        .await;
    assert_eq!(reply.status, 204);
    let reply = app
        .delete("/api/v1/conversations/c1/members/u1", Some(&token))
        .await;
    assert_eq!(reply.status, 204);
    let seen: Vec<RemoveMemberRequest> = app.conversation.seen("RemoveMember");
    assert_eq!(
        (seen[0].actor_id.as_str(), seen[0].user_id.as_str()),
        ("u1", "u3")
    );
    assert_eq!(
        (seen[1].actor_id.as_str(), seen[1].user_id.as_str()),
        ("u1", "u1")
    );
}

#[tokio::test]
async fn open_groups_are_joined_at_once_and_others_wait_for_approval() {
    let app = spawn_app().await;
    let token = app.token("u7", "s7");
    let reply = app
        .send(
            Method::POST,
            "/api/v1/conversations/c-open/join",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, 200, "no body is fine: {:?}", reply.body);
    assert_eq!(reply.body["status"], "joined");
    assert_eq!(reply.body["member"]["user_id"], "u7");
    assert!(reply.body.get("request").is_none());

    let reply = app
        .post(
            "/api/v1/conversations/c-approval/join",
            Some(&token),
            json!({"message": "let me in"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    assert_eq!(reply.body["request"]["status"], "pending");
    assert_eq!(reply.body["request"]["user_id"], "u7");
    assert!(reply.body["request"]["decided_by"].is_null());
    let seen: Vec<JoinGroupRequest> = app.conversation.seen("JoinGroup");
    assert_eq!(seen[0].message, "");
    assert_eq!(
        (seen[1].user_id.as_str(), seen[1].message.as_str()),
        ("u7", "let me in")
    );

    let reply = app
        .post(
            "/api/v1/conversations/c-approval/join",
            Some(&token),
            json!({"message": "m".repeat(5_000)}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_message"));
}

#[tokio::test]
async fn join_requests_are_listed_and_decided_by_the_user_who_asked() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .get("/api/v1/conversations/c1/join-requests", Some(&token))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["items"][0]["user_id"], "u4");
    assert_eq!(reply.body["next_cursor"], "j2");

    // u6's request is on the second page of pending requests.
    let reply = app
        .post(
            "/api/v1/conversations/c1/join-requests/u6/approve",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "approved");
    assert_eq!(reply.body["user_id"], "u6");
    let approved: Vec<ApproveJoinRequestRequest> = app.conversation.seen("ApproveJoinRequest");
    assert_eq!(
        (
            approved[0].request_id.as_str(),
            approved[0].actor_id.as_str()
        ),
        ("jr-u6", "u1")
    );

    let reply = app
        .post(
            "/api/v1/conversations/c1/join-requests/u4/reject",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "rejected");

    let reply = app
        .post(
            "/api/v1/conversations/c1/join-requests/u9/approve",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "join_request_not_found")
    );
    let reply = app
        .post(
            "/api/v1/conversations/c-forbidden/join-requests/u4/approve",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (403, "insufficient_role"));
    assert_eq!(
        app.conversation
            .seen::<ApproveJoinRequestRequest>("ApproveJoinRequest")
            .len(),
        1
    );
}
