//! Bounded, well-formed input only; a store outage answers UNAVAILABLE with a retry hint
//! (callers fall back: delivery pushes to every gateway, status shows unknown).

use crate::harness::{TestApp, device, on_every_backend, refused};
use im_contracts::v1 as pb;
use std::sync::atomic::Ordering;
use tonic::Code;

on_every_backend!(
    malformed_input_is_refused,
    a_store_outage_asks_callers_to_retry
);

async fn malformed_input_is_refused(app: TestApp) {
    let connect = |device: Option<pb::DeviceRef>, ttl_s| {
        let mut client = app.c();
        async move {
            client
                .connect_device(pb::ConnectDeviceRequest { device, ttl_s })
                .await
        }
    };
    refused(
        connect(None, 0).await,
        Code::InvalidArgument,
        "missing_device",
    );
    for (bad, code) in [
        (device("", "s1", "gw-1"), "invalid_user_id"),
        (device("al ice", "s1", "gw-1"), "invalid_user_id"),
        (device(&"u".repeat(129), "s1", "gw-1"), "invalid_user_id"),
        (device("alice", "", "gw-1"), "invalid_session_id"),
        (device("alice", "s1", ""), "invalid_node_id"),
        (device("alice", "s1", "gw\n1"), "invalid_node_id"),
    ] {
        refused(
            connect(Some(bad.clone()), 0).await,
            Code::InvalidArgument,
            code,
        );
        refused(
            app.c()
                .disconnect_device(pb::DisconnectDeviceRequest { device: Some(bad) })
                .await,
            Code::InvalidArgument,
            code,
        );
    }
    let mut odd_device = device("alice", "s1", "gw-1");
    odd_device.device_id = "my phone".into();
    refused(
        connect(Some(odd_device), 0).await,
        Code::InvalidArgument,
        "invalid_device_id",
    );
    refused(
        connect(Some(device("alice", "s1", "gw-1")), 3_601).await,
        Code::InvalidArgument,
        "invalid_ttl",
    );

    let heartbeat = |node: &str, push_addr: &str, devices: Vec<pb::DeviceRef>| {
        let mut client = app.c();
        let request = pb::HeartbeatRequest {
            node_id: node.into(),
            push_addr: push_addr.into(),
            devices,
            ttl_s: 0,
        };
        async move { client.heartbeat(request).await }
    };
    refused(
        heartbeat("", "http://a:1", vec![]).await,
        Code::InvalidArgument,
        "invalid_node_id",
    );
    refused(
        heartbeat("gw-1", "", vec![]).await,
        Code::InvalidArgument,
        "invalid_push_addr",
    );
    refused(
        heartbeat("gw-1", "http://a:1", vec![device("alice", "s1", "gw-2")]).await,
        Code::InvalidArgument,
        "node_mismatch",
    );
    refused(
        heartbeat("gw-1", "http://a:1", vec![device("", "s1", "gw-1")]).await,
        Code::InvalidArgument,
        "invalid_user_id",
    );
    let crowd = (0..10_001)
        .map(|i| device(&format!("u{i}"), "s", "gw-1"))
        .collect();
    refused(
        heartbeat("gw-1", "http://a:1", crowd).await,
        Code::InvalidArgument,
        "too_many_devices",
    );

    let ids = |n: usize| (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>();
    refused(
        app.c()
            .get_presence(pb::GetPresenceRequest { user_ids: ids(201) })
            .await,
        Code::InvalidArgument,
        "too_many_users",
    );
    assert_eq!(
        app.presences(&ids(200).iter().map(String::as_str).collect::<Vec<_>>())
            .await
            .len(),
        200
    );
    refused(
        app.c()
            .get_presence(pb::GetPresenceRequest {
                user_ids: vec!["alice".into(), String::new()],
            })
            .await,
        Code::InvalidArgument,
        "invalid_user_id",
    );
    refused(
        app.c()
            .locate_devices(pb::LocateDevicesRequest {
                user_ids: ids(2_001),
            })
            .await,
        Code::InvalidArgument,
        "too_many_users",
    );
    let located = app
        .c()
        .locate_devices(pb::LocateDevicesRequest {
            user_ids: ids(2_000),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(located.devices.is_empty());

    // nothing refused left a trace
    assert!(!app.online("alice").await);
    assert!(app.nodes().await.is_empty());
}

async fn a_store_outage_asks_callers_to_retry(app: TestApp) {
    // a long ttl, so only the outage can change anything
    app.c()
        .connect_device(pb::ConnectDeviceRequest {
            device: Some(device("alice", "s1", "gw-1")),
            ttl_s: 60,
        })
        .await
        .unwrap();
    app.kv.down_switch().store(true, Ordering::SeqCst);

    let down = refused(
        app.c()
            .get_presence(pb::GetPresenceRequest {
                user_ids: vec!["alice".into()],
            })
            .await,
        Code::Unavailable,
        "unavailable",
    );
    assert!(im_runtime::errors::retry_after(&down).is_some());
    refused(
        app.c()
            .locate_devices(pb::LocateDevicesRequest {
                user_ids: vec!["alice".into()],
            })
            .await,
        Code::Unavailable,
        "unavailable",
    );
    refused(
        app.c().list_nodes(pb::ListNodesRequest {}).await,
        Code::Unavailable,
        "unavailable",
    );
    refused(
        app.c()
            .connect_device(pb::ConnectDeviceRequest {
                device: Some(device("bob", "s2", "gw-1")),
                ttl_s: 0,
            })
            .await,
        Code::Unavailable,
        "unavailable",
    );

    app.kv.down_switch().store(false, Ordering::SeqCst);
    assert!(
        app.online("alice").await,
        "back as it was once the store is back"
    );
}
