//! What is refused despite a valid token: revoked sessions, banned users, blocked
//! addresses — from identity's snapshot, its bus events and configuration.

use crate::{TestApp, spawn_app, spawn_app_with};
use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::{
    Ban, GetDenylistResponse, IdentityEvent, IpBlock, IpUnblocked, RevokedSession, UserUnbanned,
};
use im_gateway::Revocation;
use reqwest::Method;
use std::time::Duration;

const ME: &str = "/api/v1/users/me";
const WITHIN: Duration = Duration::from_secs(1);

fn event(kind: Kind) -> IdentityEvent {
    IdentityEvent {
        id: "e".into(),
        occurred_at_ms: chrono::Utc::now().timestamp_millis(),
        kind: Some(kind),
    }
}

fn revoked(session_id: &str) -> Kind {
    Kind::SessionRevoked(RevokedSession {
        session_id: session_id.into(),
        user_id: "u1".into(),
        forget_after_ms: chrono::Utc::now().timestamp_millis() + 60_000,
    })
}

fn ban(user_id: &str) -> Ban {
    Ban {
        user_id: user_id.into(),
        reason: "spam".into(),
        ..Ban::default()
    }
}

async fn is_ok(app: &TestApp, token: &str) {
    let reply = app.get(ME, Some(token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn a_revoked_session_is_refused_within_a_second_and_announced() {
    let app = spawn_app().await;
    let mut feed = app.gateway.revocations();
    let token = app.token("u1", "s1");
    let other = app.token("u1", "s2");
    is_ok(&app, &token).await;

    app.publish(event(revoked("s1"))).await;
    let reply = app.eventually(ME, &token, 401, WITHIN).await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert_eq!(reply.code(), "session_revoked");
    is_ok(&app, &other).await;

    let announced = tokio::time::timeout(WITHIN, feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        announced,
        Revocation::Session {
            session_id: "s1".into()
        }
    );
}

#[tokio::test]
async fn a_banned_user_is_refused_until_unbanned() {
    let app = spawn_app().await;
    let mut feed = app.gateway.revocations();
    let token = app.token("u-bad", "s1");
    is_ok(&app, &token).await;

    app.publish(event(Kind::UserBanned(ban("u-bad")))).await;
    let reply = app.eventually(ME, &token, 403, WITHIN).await;
    assert_eq!((reply.status, reply.code()), (403, "user_banned"));
    let announced = tokio::time::timeout(WITHIN, feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        announced,
        Revocation::User {
            user_id: "u-bad".into()
        }
    );

    app.publish(event(Kind::UserUnbanned(UserUnbanned {
        user_id: "u-bad".into(),
    })))
    .await;
    assert_eq!(app.eventually(ME, &token, 200, WITHIN).await.status, 200);
}

#[tokio::test]
async fn an_expired_ban_no_longer_refuses() {
    let app = spawn_app().await;
    let token = app.token("u-once", "s1");
    let past = Ban {
        until_ms: chrono::Utc::now().timestamp_millis() - 1,
        ..ban("u-once")
    };
    app.publish(event(Kind::UserBanned(past))).await;
    app.publish(event(revoked("marker"))).await;
    let marker = app.token("u1", "marker");
    assert_eq!(app.eventually(ME, &marker, 401, WITHIN).await.status, 401);
    is_ok(&app, &token).await;
}

#[tokio::test]
async fn the_snapshot_is_loaded_at_start() {
    let app = spawn_app_with(|_| {}).await;
    *app.identity.denylist.lock().unwrap() = GetDenylistResponse {
        bans: vec![ban("u-snap")],
        ip_blocks: vec![],
        revoked_sessions: vec![],
    };
    // A fresh gateway against the same identity picks it up without any event.
    let endpoint = app.fake.as_ref().unwrap().endpoint();
    let second = crate::spawn_gateway(app.identity.clone(), &endpoint, |_| {}).await;
    let token = second.token("u-snap", "s1");
    let reply = second
        .eventually(ME, &token, 403, Duration::from_secs(3))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "user_banned"));
}

#[tokio::test]
async fn configured_networks_are_refused_on_every_route() {
    let app = spawn_app_with(|config| {
        config.gateway.blocked_cidrs = vec!["127.0.0.0/8".into()];
    })
    .await;
    let token = app.token("u1", "s1");
    for reply in [
        app.get(ME, Some(&token)).await,
        app.get("/api/v1/openapi.json", None).await,
        app.get("/no/such/route", None).await,
        app.post("/api/v1/auth/login", None, serde_json::json!({}))
            .await,
    ] {
        assert_eq!((reply.status, reply.code()), (403, "ip_blocked"));
    }
}

#[tokio::test]
async fn blocked_addresses_from_events_are_refused_until_unblocked() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    app.publish(event(Kind::IpBlocked(IpBlock {
        id: "b1".into(),
        cidr: "127.0.0.1".into(),
        ..IpBlock::default()
    })))
    .await;
    let reply = app.eventually(ME, &token, 403, WITHIN).await;
    assert_eq!((reply.status, reply.code()), (403, "ip_blocked"));
    app.publish(event(Kind::IpUnblocked(IpUnblocked { id: "b1".into() })))
        .await;
    assert_eq!(app.eventually(ME, &token, 200, WITHIN).await.status, 200);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let xff = [("x-forwarded-for", "198.51.100.7")];
    let untrusted = spawn_app_with(|config| {
        config.gateway.blocked_cidrs = vec!["198.51.100.0/24".into()];
    })
    .await;
    let token = untrusted.token("u1", "s1");
    let reply = untrusted
        .send(Method::GET, ME, Some(&token), None, &xff)
        .await;
    assert_eq!(reply.status, 200, "a client cannot pick its own address");

    let trusted = spawn_app_with(|config| {
        config.gateway.blocked_cidrs = vec!["198.51.100.0/24".into()];
        config.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let reply = trusted
        .send(Method::GET, ME, Some(&token), None, &xff)
        .await;
    assert_eq!((reply.status, reply.code()), (403, "ip_blocked"));
}

#[tokio::test]
async fn logout_takes_effect_at_once_on_this_gateway() {
    let app = spawn_app().await;
    let mut feed = app.gateway.revocations();
    let token = app.token("u1", "s-out");
    let reply = app
        .send(Method::POST, "/api/v1/auth/logout", Some(&token), None, &[])
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let logout = app.identity.logouts.lock().unwrap()[0].clone();
    assert_eq!(
        (logout.user_id.as_str(), logout.session_id.as_str()),
        ("u1", "s-out")
    );
    let reply = app.get(ME, Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (401, "session_revoked"));
    assert_eq!(
        feed.try_recv().unwrap(),
        Revocation::Session {
            session_id: "s-out".into()
        }
    );
}

#[tokio::test]
async fn a_router_dropped_stops_the_background_feed() {
    let app = spawn_app().await;
    let calls = || {
        app.identity
            .denylist_calls
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while calls() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the snapshot is loaded at start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut feed = app.gateway.revocations();
    // Dropping the app stops its HTTP server, which drops the last router.
    drop(app);
    let closed = tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("the feed closes once its tasks are gone");
    assert!(matches!(
        closed,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    ));
}
