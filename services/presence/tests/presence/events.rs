//! Presence changes on the bus: once per transition of a user between online and
//! offline, never per device, keyed by user so gateways can tell subscribers.

use crate::harness::{Events, SWEEP, TTL, TestApp, device, now_ms, on_every_backend};

on_every_backend!(
    changes_are_published_once_per_transition,
    an_expiry_is_published_once_with_the_last_confirmation,
);

async fn changes_are_published_once_per_transition(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    let phone = device("alice", "s1", "gw-1");
    let laptop = device("alice", "s2", "gw-2");
    let started = now_ms();
    app.connect(&phone).await;
    app.connect(&laptop).await;
    app.heartbeat("gw-1", std::slice::from_ref(&phone)).await;
    app.heartbeat("gw-2", std::slice::from_ref(&laptop)).await;
    app.disconnect(&phone).await;
    app.disconnect(&laptop).await;
    let left = now_ms();
    app.connect(&device("bob", "s3", "gw-1")).await;

    let online = events.next().await;
    assert_eq!((online.user_id.as_str(), online.online), ("alice", true));
    assert!((started..=left).contains(&online.last_seen_ms));
    let offline = events.next().await;
    assert_eq!((offline.user_id.as_str(), offline.online), ("alice", false));
    assert_eq!(
        offline.last_seen_ms,
        app.presence("alice").await.last_seen_ms,
        "the change carries the last seen time presence answers"
    );
    assert_eq!(events.next_transition().await, ("bob".into(), true));
    events.assert_quiet(SWEEP * 3).await;
}

async fn an_expiry_is_published_once_with_the_last_confirmation(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    let phone = device("alice", "s1", "gw-1");
    let connected = now_ms();
    app.connect(&phone).await;
    let confirmed = now_ms();
    assert_eq!(events.next_transition().await, ("alice".into(), true));

    // gw-1 never beats: the device expires, and the sweeper announces it once
    let offline = events.next().await;
    assert_eq!((offline.user_id.as_str(), offline.online), ("alice", false));
    assert!(
        (connected..=confirmed).contains(&offline.last_seen_ms),
        "last seen is when the device was last confirmed"
    );
    assert_eq!(
        app.presence("alice").await.last_seen_ms,
        offline.last_seen_ms
    );
    events.assert_quiet(TTL).await;

    assert!(app.connect(&phone).await);
    assert_eq!(events.next_transition().await, ("alice".into(), true));
}
