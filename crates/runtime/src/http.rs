//! Serving an axum router on an already bound listener until shutdown.

use crate::shutdown::Shutdown;
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves `router` (with each request's peer address available as
/// `ConnectInfo<SocketAddr>`) until `shutdown` fires, then lets in-flight requests finish.
pub async fn serve(
    router: Router,
    listener: TcpListener,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.signal())
    .await
}
