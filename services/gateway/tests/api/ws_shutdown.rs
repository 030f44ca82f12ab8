//! A stopping gateway closes its sockets with 1012 (service restart): clients learn the
//! server is restarting, not that the network failed, and reconnect then sync.

use crate::ws_client::{WsClient, spawn_live_app};
use std::time::Duration;
use tokio::time::Instant;

/// Well under the gateway's own bound (a few seconds): healthy clients get their close
/// at once.
const CLOSED_WITHIN: Duration = Duration::from_secs(2);

/// Asserts each client is closed with 1012 "server restarting" before `deadline`, with
/// no frame before the close.
async fn assert_restarting(clients: &mut [WsClient], deadline: Instant) {
    for (index, client) in clients.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let (close, frames) = client.closed(left).await;
        let close = close.unwrap_or_else(|| panic!("client {index}: no close frame"));
        assert_eq!(u16::from(close.code), 1012, "client {index}");
        assert_eq!(close.reason.as_str(), "server restarting", "client {index}");
        assert!(frames.is_empty(), "client {index}: {frames:?}");
    }
}

#[tokio::test]
async fn stopping_the_gateway_closes_every_socket_with_service_restart() {
    let app = spawn_live_app().await;
    let mut clients = Vec::new();
    for (user, session) in [("alice", "a-s1"), ("alice", "a-s2"), ("bob", "b-s1")] {
        let mut client = app.ws(user, session).await;
        client.barrier().await;
        clients.push(client);
    }
    assert_eq!(app.gateway.connections(), 3);

    app.stop();
    let deadline = Instant::now() + CLOSED_WITHIN;
    assert_restarting(&mut clients, deadline).await;
    while app.gateway.connections() > 0 {
        assert!(Instant::now() < deadline, "the connections did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_socket_still_to_authenticate_is_closed_alike() {
    let app = spawn_live_app().await;
    // Upgraded without a token: its `auth` frame may come for 10 s.
    let client = WsClient::connect(&app.ws_url(""), None).await.unwrap();

    app.stop();
    assert_restarting(&mut [client], Instant::now() + CLOSED_WITHIN).await;
}
