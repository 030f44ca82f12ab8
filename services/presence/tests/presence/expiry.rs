//! Connections live as long as their node beats: a node that dies without a word loses
//! its devices when they expire, and its users go offline with their last confirmation
//! as last seen.

use crate::harness::{Events, TTL, TestApp, device, eventually, now_ms, on_every_backend};
use std::time::Duration;

on_every_backend!(
    heartbeats_keep_devices_alive_until_their_node_goes_silent,
    a_silent_nodes_devices_expire_while_other_nodes_keep_theirs,
    devices_a_live_node_stops_listing_expire,
    a_heartbeat_records_devices_presence_had_lost,
    a_late_heartbeat_does_not_bring_back_a_disconnected_device,
);

async fn heartbeats_keep_devices_alive_until_their_node_goes_silent(app: TestApp) {
    let phone = device("alice", "s1", "gw-1");
    app.connect(&phone).await;
    let beating = app.keep_beating("gw-1", vec![phone.clone()]);
    tokio::time::sleep(TTL * 3).await;
    assert!(
        app.online("alice").await,
        "beats keep alice online past her ttl"
    );
    assert_eq!(app.node_ids().await, ["gw-1"]);

    drop(beating);
    let silent_since = now_ms();
    eventually("alice's device expires", async || {
        !app.online("alice").await
    })
    .await;
    let gone = app.presence("alice").await;
    assert!(gone.devices.is_empty());
    let last_beat_window = silent_since - i64::try_from((TTL / 2).as_millis()).unwrap();
    assert!(
        (last_beat_window..=silent_since).contains(&gone.last_seen_ms),
        "last seen is the last heartbeat: {} not in {last_beat_window}..={silent_since}",
        gone.last_seen_ms
    );
    assert!(app.locate(&["alice"]).await.devices.is_empty());
    assert!(
        app.node_ids().await.is_empty(),
        "the silent node is no longer listed"
    );
}

async fn a_silent_nodes_devices_expire_while_other_nodes_keep_theirs(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    let alice_on_1 = device("alice", "s1", "gw-1");
    let alice_on_2 = device("alice", "s2", "gw-2");
    let bob_on_1 = device("bob", "s3", "gw-1");
    for d in [&alice_on_1, &alice_on_2, &bob_on_1] {
        app.connect(d).await;
    }
    app.heartbeat("gw-1", &[alice_on_1.clone(), bob_on_1.clone()])
        .await;
    let _gw2 = app.keep_beating("gw-2", vec![alice_on_2.clone()]);
    assert_eq!(events.next_transition().await, ("alice".into(), true));
    assert_eq!(events.next_transition().await, ("bob".into(), true));

    // gw-1 dies without a word
    assert_eq!(
        events.next_transition().await,
        ("bob".into(), false),
        "bob goes offline when gw-1's devices expire"
    );
    assert!(!app.online("bob").await);
    assert!(app.online("alice").await, "alice is still on gw-2");
    assert_eq!(app.locate(&["alice", "bob"]).await.devices, [alice_on_2]);
    eventually("gw-1 is no longer listed", async || {
        app.node_ids().await == ["gw-2"]
    })
    .await;
    events.assert_quiet(TTL).await;
}

async fn devices_a_live_node_stops_listing_expire(app: TestApp) {
    // gw-1 lost track of alice's phone and bob's laptop (their disconnects never arrived)
    let mut events = Events::subscribe(&app).await;
    let alice_phone = device("alice", "s1", "gw-1");
    let alice_laptop = device("alice", "s2", "gw-1");
    let bob_laptop = device("bob", "s3", "gw-1");
    for d in [&alice_phone, &alice_laptop, &bob_laptop] {
        app.connect(d).await;
    }
    let _gw1 = app.keep_beating("gw-1", vec![alice_laptop.clone()]);
    assert_eq!(events.next_transition().await, ("alice".into(), true));
    assert_eq!(events.next_transition().await, ("bob".into(), true));

    assert_eq!(events.next_transition().await, ("bob".into(), false));
    assert!(app.online("alice").await);
    assert_eq!(app.locate(&["alice", "bob"]).await.devices, [alice_laptop]);
    assert_eq!(app.node_ids().await, ["gw-1"]);
    events.assert_quiet(TTL).await;
}

async fn a_heartbeat_records_devices_presence_had_lost(app: TestApp) {
    // presence forgot (its store restarted, or the node was cut off past the ttl)
    let mut events = Events::subscribe(&app).await;
    let phone = device("alice", "s1", "gw-1");
    assert_eq!(app.heartbeat("gw-1", std::slice::from_ref(&phone)).await, 1);
    assert!(app.online("alice").await);
    assert_eq!(app.locate(&["alice"]).await.devices, [phone]);
    assert_eq!(events.next_transition().await, ("alice".into(), true));
}

async fn a_late_heartbeat_does_not_bring_back_a_disconnected_device(app: TestApp) {
    let phone = device("alice", "s1", "gw-1");
    app.connect(&phone).await;
    app.disconnect(&phone).await;
    // a heartbeat gw-1 sent just before alice closed the app
    assert_eq!(app.heartbeat("gw-1", std::slice::from_ref(&phone)).await, 0);
    assert!(!app.online("alice").await);
    assert!(app.locate(&["alice"]).await.devices.is_empty());

    // connecting again is a new connection, whatever heartbeats said before
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(app.connect(&phone).await);
    assert!(app.online("alice").await);
}
