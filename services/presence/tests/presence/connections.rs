//! Gateway nodes reporting connections: who is online, on which devices, where.

use crate::harness::{TestApp, device, now_ms, on_every_backend, push_addr};
use std::collections::BTreeMap;

on_every_backend!(
    the_first_device_brings_a_user_online_and_the_last_takes_them_offline,
    devices_are_located_per_gateway_node,
    a_session_that_moved_nodes_survives_the_old_nodes_late_disconnect,
    live_nodes_are_listed_with_their_push_addresses,
    presence_answers_per_user_in_request_order,
);

async fn the_first_device_brings_a_user_online_and_the_last_takes_them_offline(app: TestApp) {
    let phone = device("alice", "s-phone", "gw-1");
    let laptop = device("alice", "s-laptop", "gw-2");
    let never_seen = app.presence("alice").await;
    assert_eq!((never_seen.online, never_seen.last_seen_ms), (false, 0));

    assert!(
        app.connect(&phone).await,
        "the first device brings alice online"
    );
    assert!(
        !app.connect(&laptop).await,
        "a second device changes nothing"
    );
    assert!(
        !app.connect(&phone).await,
        "reporting a device again changes nothing"
    );
    let online = app.presence("alice").await;
    assert!(online.online);
    assert_eq!(online.device_count, 2);
    let mut devices = online.devices.clone();
    devices.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    assert_eq!(devices, [laptop.clone(), phone.clone()]);

    assert!(
        !app.disconnect(&phone).await,
        "the laptop is still connected"
    );
    let one_left = app.presence("alice").await;
    assert!(one_left.online);
    assert_eq!(one_left.devices, std::slice::from_ref(&laptop));

    let before = now_ms();
    assert!(
        app.disconnect(&laptop).await,
        "the last device takes alice offline"
    );
    let after = now_ms();
    let offline = app.presence("alice").await;
    assert!(!offline.online);
    assert!(offline.devices.is_empty());
    assert!(
        (before..=after).contains(&offline.last_seen_ms),
        "last seen when the last device left: {} not in {before}..={after}",
        offline.last_seen_ms
    );
    assert!(
        !app.disconnect(&laptop).await,
        "disconnecting again is harmless"
    );
    assert!(app.locate(&["alice"]).await.devices.is_empty());
}

async fn devices_are_located_per_gateway_node(app: TestApp) {
    let alice_phone = device("alice", "s1", "gw-1");
    let alice_laptop = device("alice", "s2", "gw-2");
    let bob = device("bob", "s3", "gw-2");
    for d in [&alice_phone, &alice_laptop, &bob] {
        app.connect(d).await;
    }
    app.heartbeat("gw-1", std::slice::from_ref(&alice_phone))
        .await;
    app.heartbeat("gw-2", &[alice_laptop.clone(), bob.clone()])
        .await;

    let located = app.locate(&["alice", "bob", "carol"]).await;
    let mut per_node: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for d in located.devices {
        per_node
            .entry(d.node_id.clone())
            .or_default()
            .push((d.user_id, d.session_id));
    }
    for sessions in per_node.values_mut() {
        sessions.sort();
    }
    let expected: BTreeMap<String, Vec<(String, String)>> = [
        ("gw-1".to_owned(), vec![("alice".into(), "s1".into())]),
        (
            "gw-2".to_owned(),
            vec![("alice".into(), "s2".into()), ("bob".into(), "s3".into())],
        ),
    ]
    .into();
    assert_eq!(per_node, expected);

    let mut nodes: Vec<(String, String)> = located
        .nodes
        .into_iter()
        .map(|n| (n.node_id, n.push_addr))
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        [
            ("gw-1".to_owned(), push_addr("gw-1")),
            ("gw-2".to_owned(), push_addr("gw-2"))
        ],
        "the push address of every node holding a device comes along"
    );

    let only_bob = app.locate(&["bob", "bob"]).await;
    assert_eq!(only_bob.devices, [bob]);
    assert_eq!(only_bob.nodes.len(), 1);
}

async fn a_session_that_moved_nodes_survives_the_old_nodes_late_disconnect(app: TestApp) {
    // alice's socket to gw-1 dropped; she reconnected to gw-2 before gw-1 noticed
    let old = device("alice", "s1", "gw-1");
    let new = device("alice", "s1", "gw-2");
    assert!(app.connect(&old).await);
    assert!(!app.connect(&new).await);
    assert!(!app.disconnect(&old).await, "alice is still on gw-2");
    assert!(app.online("alice").await);
    assert_eq!(app.locate(&["alice"]).await.devices, [new]);
}

async fn live_nodes_are_listed_with_their_push_addresses(app: TestApp) {
    assert!(app.nodes().await.is_empty());
    let started = now_ms();
    app.heartbeat(
        "gw-1",
        &[device("alice", "s1", "gw-1"), device("bob", "s2", "")],
    )
    .await;
    app.heartbeat("gw-2", &[]).await;
    // a node known only by a connection, without a heartbeat, has no address to push to
    app.connect(&device("carol", "s3", "gw-3")).await;

    let nodes = app.nodes().await;
    let summary: Vec<(&str, &str, u32)> = nodes
        .iter()
        .map(|n| (n.node_id.as_str(), n.push_addr.as_str(), n.connections))
        .collect();
    assert_eq!(
        summary,
        [
            ("gw-1", push_addr("gw-1").as_str(), 2),
            ("gw-2", push_addr("gw-2").as_str(), 0)
        ]
    );
    assert!(nodes.iter().all(|n| n.last_heartbeat_ms >= started));

    // a device listed with an empty node id belongs to the node beating
    let bob = app.locate(&["bob"]).await.devices;
    assert_eq!(bob, [device("bob", "s2", "gw-1")]);
}

async fn presence_answers_per_user_in_request_order(app: TestApp) {
    app.connect(&device("bob", "s1", "gw-1")).await;
    let presences = app.presences(&["carol", "bob", "carol", "alice"]).await;
    let answered: Vec<(&str, bool)> = presences
        .iter()
        .map(|p| (p.user_id.as_str(), p.online))
        .collect();
    assert_eq!(
        answered,
        [("carol", false), ("bob", true), ("alice", false)]
    );
    assert!(app.presences(&[]).await.is_empty());
}
