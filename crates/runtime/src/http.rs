//! Serving an axum router on an already bound listener until shutdown.

use crate::shutdown::Shutdown;
use axum::Router;
use axum::serve::ListenerExt as _;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves `router` (with each request's peer address available as
/// `ConnectInfo<SocketAddr>`) until `shutdown` fires, then lets in-flight requests finish.
/// Connections write without Nagle's delay (see [`no_delay`]).
pub async fn serve(
    router: Router,
    listener: TcpListener,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(
        listener.tap_io(no_delay),
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.signal())
    .await
}

/// Turns off Nagle's algorithm on an accepted connection. With it on, a small write that
/// follows another before the peer acknowledged it (a WebSocket frame after a frame, a
/// gRPC response's trailers after its body) waits for that acknowledgement, which the
/// peer may delay by 40 ms.
pub fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
    }
}
