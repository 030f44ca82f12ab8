//! The Push service reaching this node's sockets, slow consumers cut off, and revoked
//! sessions closed.

use crate::ws_client::{PATIENCE, spawn_live_app};
use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::{
    Ban, CloseSessionsRequest, DeviceRef, IdentityEvent, PushItem, PushRequest, RevokedSession,
};
use serde_json::{Value, json};
use std::time::Duration;
use tonic::Code;

fn device(user: &str, session: &str) -> DeviceRef {
    DeviceRef {
        user_id: user.into(),
        session_id: session.into(),
        device_id: String::new(),
        node_id: String::new(),
    }
}

fn item(frame_type: &str, data: Value) -> PushItem {
    PushItem {
        frame_type: frame_type.into(),
        frame_json: data.to_string(),
        ..PushItem::default()
    }
}

fn event(kind: Kind) -> IdentityEvent {
    IdentityEvent {
        id: "e".into(),
        occurred_at_ms: chrono::Utc::now().timestamp_millis(),
        kind: Some(kind),
    }
}

#[tokio::test]
async fn a_push_reaches_the_targeted_sessions_and_users_minus_the_excluded() {
    let app = spawn_live_app().await;
    let mut a1 = app.ws("u1", "s1").await;
    let mut a2 = app.ws("u1", "s2").await;
    let mut b = app.ws("u2", "s3").await;
    for client in [&mut a1, &mut a2, &mut b] {
        client.barrier().await;
    }

    let mut to_session = item("message", json!({"seq": 1}));
    to_session.targets = vec![device("u1", "s1"), device("u9", "s9")];
    let mut to_users = item("read", json!({"seq": 2}));
    to_users.user_ids = vec!["u1".into(), "u2".into()];
    to_users.exclude_session_ids = vec!["s2".into()];
    let results = app
        .push_client()
        .await
        .push(PushRequest {
            items: vec![to_session, to_users],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results[0].delivered, 1);
    assert_eq!(results[0].offline, vec![device("u9", "s9")]);
    assert_eq!(results[1].delivered, 2);
    assert!(results[1].offline.is_empty());

    assert_eq!(
        a1.barrier().await,
        [
            json!({"type": "message", "data": {"seq": 1}}),
            json!({"type": "read", "data": {"seq": 2}}),
        ]
    );
    assert!(a2.barrier().await.is_empty(), "excluded");
    assert_eq!(
        b.barrier().await,
        [json!({"type": "read", "data": {"seq": 2}})]
    );
}

#[tokio::test]
async fn a_push_with_a_malformed_frame_delivers_nothing() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    client.barrier().await;
    let mut good = item("message", json!({}));
    good.user_ids = vec!["u1".into()];
    let mut bad = good.clone();
    bad.frame_json = "{oops".into();
    let refused = app
        .push_client()
        .await
        .push(PushRequest {
            items: vec![good, bad],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(client.barrier().await.is_empty());
}

#[tokio::test]
async fn close_sessions_tells_the_client_then_closes() {
    let app = spawn_live_app().await;
    let mut closing = app.ws("u1", "s1").await;
    let mut other = app.ws("u1", "s2").await;
    closing.barrier().await;
    let closed = app
        .push_client()
        .await
        .close_sessions(CloseSessionsRequest {
            session_ids: vec!["s1".into()],
            user_ids: Vec::new(),
            reason: "logout".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .closed;
    assert_eq!(closed, 1);
    let (code, frames) = closing.close_code(PATIENCE).await;
    assert_eq!(code, 4003);
    assert_eq!(
        frames,
        [json!({"type": "session.revoked", "data": {"reason": "logout"}})]
    );
    other.barrier().await;
}

#[tokio::test]
async fn a_revoked_session_is_told_and_closed_within_a_second() {
    let app = spawn_live_app().await;
    let mut revoked = app.ws("u1", "s1").await;
    let mut other = app.ws("u1", "s2").await;
    revoked.barrier().await;
    other.barrier().await;

    app.publish(event(Kind::SessionRevoked(RevokedSession {
        session_id: "s1".into(),
        user_id: "u1".into(),
        forget_after_ms: chrono::Utc::now().timestamp_millis() + 60_000,
    })))
    .await;
    let (code, frames) = revoked.close_code(Duration::from_secs(1)).await;
    assert_eq!(code, 4003);
    assert_eq!(frames[0]["type"], "session.revoked");
    assert_eq!(frames[0]["data"]["reason"], "session_revoked");
    other.barrier().await;
}

#[tokio::test]
async fn a_banned_user_loses_every_socket_within_a_second() {
    let app = spawn_live_app().await;
    let mut first = app.ws("u-bad", "s1").await;
    let mut second = app.ws("u-bad", "s2").await;
    let mut bystander = app.ws("u2", "s3").await;
    for client in [&mut first, &mut second, &mut bystander] {
        client.barrier().await;
    }
    app.publish(event(Kind::UserBanned(Ban {
        user_id: "u-bad".into(),
        reason: "spam".into(),
        ..Ban::default()
    })))
    .await;
    for client in [&mut first, &mut second] {
        let (code, frames) = client.close_code(Duration::from_secs(1)).await;
        assert_eq!(code, 4003);
        assert_eq!(frames[0]["data"]["reason"], "banned");
    }
    bystander.barrier().await;
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_without_hurting_another_connection() {
    let app = spawn_live_app().await;
    let mut slow = app.ws("u1", "s-slow").await;
    let mut fast = app.ws("u2", "s-fast").await;
    slow.barrier().await;
    fast.barrier().await;

    // Frames of 32 KiB: the socket buffers fill, then the slow reader's queue.
    let padding = "p".repeat(32 * 1024);
    let mut push = app.push_client().await;
    let mut sent = 0;
    let mut slow_offline = false;
    for batch in 0..100 {
        let items = (0..32)
            .map(|n| {
                let mut item = item("message", json!({"n": batch * 32 + n, "padding": padding}));
                item.targets = vec![device("u1", "s-slow"), device("u2", "s-fast")];
                item
            })
            .collect();
        let results = push
            .push(PushRequest { items })
            .await
            .unwrap()
            .into_inner()
            .results;
        sent += results.len();
        slow_offline = results.iter().any(|result| {
            result
                .offline
                .iter()
                .any(|device| device.session_id == "s-slow")
        });
        // The fast client keeps up.
        for _ in 0..results.len() {
            let frame = fast.recv().await;
            assert_eq!(frame["type"], "message");
        }
        if slow_offline {
            break;
        }
    }
    assert!(
        slow_offline,
        "the slow consumer was never cut off ({sent} frames)"
    );

    // The slow client finds the end of its socket after what was already written.
    let (close, frames) = slow.closed(Duration::from_secs(10)).await;
    assert!(frames.len() < sent, "{} of {sent}", frames.len());
    if let Some(close) = close {
        assert_eq!(u16::from(close.code), 1013);
    }
    fast.barrier().await;
    let eventually = tokio::time::Instant::now() + PATIENCE;
    while app.gateway.connections() != 1 {
        assert!(
            tokio::time::Instant::now() < eventually,
            "the slow socket was not released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
