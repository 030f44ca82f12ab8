//! The way into one connection, as the rest of the gateway holds it: two bounded queues
//! read by the connection's writer, and its close switch.
//!
//! Pushes (frames from the Push RPC, presence changes) never wait: a full push queue
//! means the client does not read fast enough, and it is cut off (1013 "slow consumer")
//! rather than let memory grow. Replies to the client's own frames wait for room
//! instead, so a long `sync` is paced by the client's reading, not refused.

use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Frames pushed to one connection and not yet written.
pub const PUSH_QUEUE: usize = 256;
/// Replies to one connection's own frames not yet written.
pub const REPLY_QUEUE: usize = 64;

/// WebSocket close codes the server uses (docs/PROTOCOL.md).
pub mod code {
    /// The client closed, or the server is going away.
    pub const NORMAL: u16 = 1000;
    /// Sustained abuse of the frame rate limit.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit.
    pub const TOO_LARGE: u16 = 1009;
    /// The client does not read fast enough: try again later (and sync).
    pub const SLOW_CONSUMER: u16 = 1013;
    /// No frame nor pong for too long.
    pub const IDLE: u16 = 4000;
    /// No valid access token in time.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// The session was revoked or the user banned (after a `session.revoked` frame).
    pub const REVOKED: u16 = 4003;
}

/// Why and how a connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
    /// Written just before the close frame; frames still queued are dropped.
    pub last_frame: Option<Utf8Bytes>,
}

impl Close {
    pub fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            last_frame: None,
        }
    }

    pub fn after(mut self, frame: Utf8Bytes) -> Self {
        self.last_frame = Some(frame);
        self
    }
}

/// What became of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full: the connection is being closed as a slow consumer.
    SlowConsumer,
    /// The connection is closing or closed.
    Gone,
}

/// The sending side, cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    pushes: mpsc::Sender<Utf8Bytes>,
    replies: mpsc::Sender<Utf8Bytes>,
    close: Arc<watch::Sender<Option<Close>>>,
}

/// The receiving side, owned by the connection's writer.
pub struct Queued {
    pub pushes: mpsc::Receiver<Utf8Bytes>,
    pub replies: mpsc::Receiver<Utf8Bytes>,
    pub close: watch::Receiver<Option<Close>>,
}

pub fn channel() -> (Outbound, Queued) {
    let (pushes, pushed) = mpsc::channel(PUSH_QUEUE);
    let (replies, replied) = mpsc::channel(REPLY_QUEUE);
    let (close, closing) = watch::channel(None);
    (
        Outbound {
            pushes,
            replies,
            close: Arc::new(close),
        },
        Queued {
            pushes: pushed,
            replies: replied,
            close: closing,
        },
    )
}

impl Outbound {
    /// Queues a frame without waiting; a full queue closes the connection.
    pub fn push(&self, frame: Utf8Bytes) -> Pushed {
        if self.is_closing() {
            return Pushed::Gone;
        }
        match self.pushes.try_send(frame) {
            Ok(()) => Pushed::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.close(Close::new(code::SLOW_CONSUMER, "slow consumer")) {
                    tracing::info!("closing a slow consumer");
                    metrics::counter!(super::SLOW_CONSUMERS_METRIC).increment(1);
                }
                Pushed::SlowConsumer
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Gone,
        }
    }

    /// Queues a reply, waiting for room; false once the connection is closing.
    pub async fn reply(&self, frame: Utf8Bytes) -> bool {
        !self.is_closing() && self.replies.send(frame).await.is_ok()
    }

    /// Asks the writer to close the connection; the first request wins. True when this
    /// one did.
    pub fn close(&self, close: Close) -> bool {
        self.close.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(close);
            true
        })
    }

    pub fn is_closing(&self) -> bool {
        self.close.borrow().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_push_queue_closes_as_slow_consumer_and_the_first_close_wins() {
        let (outbound, mut queued) = channel();
        for _ in 0..PUSH_QUEUE {
            assert_eq!(outbound.push("x".into()), Pushed::Queued);
        }
        assert_eq!(outbound.push("x".into()), Pushed::SlowConsumer);
        assert_eq!(
            queued.close.borrow_and_update().as_ref().map(|c| c.code),
            Some(code::SLOW_CONSUMER)
        );
        assert!(!outbound.close(Close::new(code::NORMAL, "")));
        assert_eq!(outbound.push("x".into()), Pushed::Gone);
        assert!(!outbound.reply("x".into()).await);
    }
}
