//! Who may open `GET /api/v1/ws`: an access token in the header, the query or the first
//! frame, checked as REST checks it.

use crate::ws_client::{PATIENCE, WsClient, spawn_live_app};
use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::{Ban, IdentityEvent, RevokedSession};
use serde_json::json;
use std::time::Duration;

fn event(kind: Kind) -> IdentityEvent {
    IdentityEvent {
        id: "e".into(),
        occurred_at_ms: chrono::Utc::now().timestamp_millis(),
        kind: Some(kind),
    }
}

#[tokio::test]
async fn a_token_in_the_header_the_query_or_the_first_frame_opens_the_socket() {
    let app = spawn_live_app().await;

    let mut by_header = app.ws("u1", "s1").await;
    by_header.barrier().await;

    let query = format!("?access_token={}", app.token("u1", "s2"));
    let mut by_query = WsClient::connect(&app.ws_url(&query), None).await.unwrap();
    by_query.barrier().await;

    let mut by_frame = WsClient::connect(&app.ws_url(""), None).await.unwrap();
    let ack = by_frame
        .request(
            "auth",
            "a1",
            json!({"access_token": app.token("u1", "s3"), "device_id": "phone"}),
        )
        .await;
    assert_eq!(ack["type"], "auth.ack", "{ack}");
    assert_eq!(ack["data"], json!({"user_id": "u1", "session_id": "s3"}));
    by_frame.barrier().await;

    // Authenticated once is enough.
    let again = by_frame
        .request("auth", "a2", json!({"access_token": app.token("u1", "s3")}))
        .await;
    assert_eq!(again["data"]["code"], "already_authenticated");
    assert_eq!(app.gateway.connections(), 3);
}

#[tokio::test]
async fn bad_tokens_on_the_upgrade_are_refused_like_rest() {
    let app = spawn_live_app().await;
    let refused = WsClient::connect(&app.ws_url(""), Some("not-a-jwt"))
        .await
        .err()
        .unwrap();
    assert_eq!((refused.status, refused.code()), (401, "invalid_token"));

    let refused = WsClient::connect(&app.ws_url("?access_token=nope"), None)
        .await
        .err()
        .unwrap();
    assert_eq!((refused.status, refused.code()), (401, "invalid_token"));

    app.publish(event(Kind::SessionRevoked(RevokedSession {
        session_id: "s-gone".into(),
        user_id: "u1".into(),
        forget_after_ms: chrono::Utc::now().timestamp_millis() + 60_000,
    })))
    .await;
    let revoked = app.token("u1", "s-gone");
    app.eventually("/api/v1/users/me", &revoked, 401, PATIENCE)
        .await;
    let refused = WsClient::connect(&app.ws_url(""), Some(&revoked))
        .await
        .err()
        .unwrap();
    assert_eq!((refused.status, refused.code()), (401, "session_revoked"));

    app.publish(event(Kind::UserBanned(Ban {
        user_id: "u-bad".into(),
        reason: "spam".into(),
        ..Ban::default()
    })))
    .await;
    let banned = app.token("u-bad", "s1");
    app.eventually("/api/v1/users/me", &banned, 403, PATIENCE)
        .await;
    let query = format!("?access_token={banned}");
    let refused = WsClient::connect(&app.ws_url(&query), None)
        .await
        .err()
        .unwrap();
    assert_eq!((refused.status, refused.code()), (403, "user_banned"));
}

#[tokio::test]
async fn a_refused_auth_frame_is_answered_then_the_socket_closed() {
    let app = spawn_live_app().await;
    let mut client = WsClient::connect(&app.ws_url(""), None).await.unwrap();
    client
        .send_json(json!({"type": "auth", "id": 1, "data": {"access_token": "forged"}}))
        .await;
    let (code, frames) = client.close_code(PATIENCE).await;
    assert_eq!(code, 4001);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["id"], 1);
    assert_eq!(frames[0]["data"]["code"], "invalid_token");
}

#[tokio::test]
async fn any_other_first_frame_closes_an_unauthenticated_socket() {
    let app = spawn_live_app().await;
    let mut client = WsClient::connect(&app.ws_url(""), None).await.unwrap();
    client.send_json(json!({"type": "ping", "id": "p"})).await;
    let (code, frames) = client.close_code(PATIENCE).await;
    assert_eq!(code, 4001);
    assert_eq!(frames[0]["id"], "p");
    assert_eq!(frames[0]["data"]["code"], "unauthenticated");
    assert_eq!(app.gateway.connections(), 0);
}

#[tokio::test]
async fn a_plain_get_is_told_to_upgrade() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let reply = app.get("/api/v1/ws", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (426, "upgrade_required"));
    let reply = app.get("/api/v1/ws", Some("bad")).await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_token"));
    let reply = app.post("/api/v1/ws", Some(&token), json!({})).await;
    assert_eq!(reply.status, 405);
    // A socket that never authenticates is not counted as connected.
    let _silent = WsClient::connect(&app.ws_url(""), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.gateway.connections(), 0);
}
