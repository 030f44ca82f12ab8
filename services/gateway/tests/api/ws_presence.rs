//! Presence: sockets reported as devices, heartbeats, `presence.subscribe` and live
//! `presence` frames; presence being down never hurts a connection.

use crate::dead_endpoint;
use crate::ws_client::{LiveApp, PATIENCE, WsClient, spawn_live_app, spawn_live_app_with};
use im_contracts::topics::PRESENCE_EVENTS;
use im_contracts::v1::{
    ConnectDeviceRequest, DeviceRef, DisconnectDeviceRequest, HeartbeatRequest, PresenceChanged,
};
use im_runtime::bus::Record;
use prost::Message as _;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// Polls until `rpc` was called `count` times; those calls.
async fn seen<T: prost::Message + Default>(app: &LiveApp, rpc: &str, count: usize) -> Vec<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let calls: Vec<T> = app.live.seen(rpc);
        if calls.len() >= count || Instant::now() > deadline {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_is_reported_once_however_many_sockets_it_holds() {
    let app = spawn_live_app().await;
    let url = app.ws_url(&format!(
        "?access_token={}&device_id=laptop",
        app.token("u1", "s1")
    ));
    let mut first = WsClient::connect(&url, None).await.unwrap();
    let mut second = WsClient::connect(&url, None).await.unwrap();
    first.barrier().await;
    second.barrier().await;
    let device = DeviceRef {
        user_id: "u1".into(),
        session_id: "s1".into(),
        device_id: "laptop".into(),
        node_id: app.node_id.clone(),
    };
    let connects: Vec<ConnectDeviceRequest> = seen(&app, "ConnectDevice", 1).await;
    assert_eq!(connects.len(), 1);
    assert_eq!(connects[0].device.as_ref(), Some(&device));

    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.live
            .seen::<DisconnectDeviceRequest>("DisconnectDevice")
            .is_empty()
    );
    drop(second);
    let disconnects: Vec<DisconnectDeviceRequest> = seen(&app, "DisconnectDevice", 1).await;
    assert_eq!(disconnects.len(), 1);
    assert_eq!(disconnects[0].device.as_ref(), Some(&device));
}

#[tokio::test]
async fn heartbeats_list_the_devices_of_the_node_with_its_push_address() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    client.barrier().await;
    let deadline = Instant::now() + PATIENCE;
    let beat = loop {
        let beats: Vec<HeartbeatRequest> = app.live.seen("Heartbeat");
        if let Some(beat) = beats.into_iter().find(|beat| !beat.devices.is_empty()) {
            break beat;
        }
        assert!(Instant::now() < deadline, "no heartbeat with the device");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(beat.node_id, app.node_id);
    assert_eq!(beat.push_addr, app.push);
    assert_eq!(beat.devices[0].session_id, "s1");
}

#[tokio::test]
async fn subscribers_get_the_current_status_then_each_change() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    client
        .send_json(
            json!({"type": "presence.subscribe", "id": "p", "data": {"user_ids": ["on-a", "b"]}}),
        )
        .await;
    let frames = client.until_reply("p").await;
    assert_eq!(
        frames,
        [
            json!({"type": "presence", "data": {"user_id": "b", "online": false, "last_seen": null}}),
            json!({"type": "presence", "data": {"user_id": "on-a", "online": true, "last_seen": "2023-11-14T22:13:20Z"}}),
            json!({"type": "presence.subscribe.ack", "id": "p", "data": {"user_ids": ["b", "on-a"]}}),
        ]
    );

    for (user, online) in [("c", true), ("b", true)] {
        let change = PresenceChanged {
            user_id: user.into(),
            online,
            last_seen_ms: 1_700_000_100_000,
            occurred_at_ms: 1_700_000_100_000,
        };
        app.bus
            .publish(PRESENCE_EVENTS, Record::new(user, change.encode_to_vec()))
            .await
            .unwrap();
    }
    let frame = client.recv().await;
    assert_eq!(
        frame,
        json!({"type": "presence", "data": {"user_id": "b", "online": true, "last_seen": "2023-11-14T22:15:00Z"}}),
        "not `c`, whom nobody follows"
    );

    let too_many: Vec<String> = (0..201).map(|n| format!("u{n}")).collect();
    let refused = client
        .request("presence.subscribe", "q", json!({"user_ids": too_many}))
        .await;
    assert_eq!(refused["data"]["code"], "too_many_users");
}

#[tokio::test]
async fn with_presence_down_sockets_work_and_status_is_unavailable() {
    let dead = dead_endpoint().await;
    let app = spawn_live_app_with(|config| {
        config
            .registry
            .endpoints
            .insert("presence".into(), vec![dead]);
    })
    .await;
    let mut client = app.ws("u1", "s1").await;
    client.barrier().await;
    let refused = client
        .request("presence.subscribe", "p", json!({"user_ids": ["b"]}))
        .await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["data"]["code"], "presence_unavailable");
    let ack = client
        .request("send", "s", json!({"conversation_id": "c1", "client_msg_id": "k", "type": "text", "body": {"text": "hi"}}))
        .await;
    assert_eq!(ack["type"], "send.ack");
}
