//! Stopping the live side with the node: every socket, authenticated or not, is closed
//! with 1012 (service restart), so that its client reconnects and syncs instead of
//! taking a reset for a network failure, and the node waits a short while for the
//! close frames to get out before the process exits.

use super::Live;
use super::outbound::{Close, code};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long stopping waits for the sockets to end. A client takes its close frame well
/// within this (each write of a closing socket gets a second); one that has not by then
/// is on a dead link, and its socket goes with the process.
pub const CLOSE_DRAIN: Duration = Duration::from_secs(3);

/// The close every socket gets when the node stops.
pub fn restarting() -> Close {
    Close::new(code::SERVICE_RESTART, "server restarting")
}

/// The sockets open on this node, from upgrade to their last write, authenticated or
/// not; and whether the node is stopping.
#[derive(Default)]
pub struct OpenSockets {
    open: AtomicUsize,
    none_open: Notify,
    stopping: CancellationToken,
}

/// One open socket, counted until dropped.
pub struct OpenSocket(Arc<OpenSockets>);

impl OpenSockets {
    pub fn open(self: &Arc<Self>) -> OpenSocket {
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenSocket(self.clone())
    }

    pub fn count(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once the node is stopping.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    async fn none_open(&self) {
        loop {
            // Registered before looking, so a last socket ending in between is not missed.
            let mut ended = pin!(self.none_open.notified());
            ended.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            ended.await;
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_open.notify_waiters();
        }
    }
}

impl Live {
    /// Closes every socket of this node with [`restarting`] (those still authenticating
    /// and those opening later too), then waits for them to end, at most
    /// [`CLOSE_DRAIN`].
    pub async fn stop(&self) {
        self.sockets.stopping.cancel();
        let closed = self.hub.close_all(&restarting());
        tracing::info!(
            connections = closed,
            "closing the WebSocket connections: the server is stopping"
        );
        let drained = tokio::time::timeout(CLOSE_DRAIN, self.sockets.none_open()).await;
        if drained.is_err() {
            tracing::warn!(
                open = self.sockets.count(),
                "WebSocket connections did not close in time; dropping them"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_for_no_socket_ends_with_the_last_one() {
        let sockets = Arc::new(OpenSockets::default());
        let (first, second) = (sockets.open(), sockets.open());
        let waiting = tokio::spawn({
            let sockets = sockets.clone();
            async move { sockets.none_open().await }
        });
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one socket is still open");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("done once none is open")
            .unwrap();
        assert_eq!(sockets.count(), 0);
    }
}
