//! The way into one connection, as the rest of the gateway holds it: two bounded queues
//! read by the connection's writer, and its close switch.
//!
//! Pushes (frames from the Push RPC, presence changes) never wait: a full push queue
//! means the client does not read fast enough, and it is cut off (1013 "slow consumer")
//! rather than let memory grow. Replies to the client's own frames wait for room
//! instead, so a long `sync` is paced by the client's reading, not refused.
//!
//! Most connections sit idle, so the queues and the switch share one small allocation
//! and hold no memory while empty (a tokio mpsc channel keeps about 1.5 KiB per queue
//! allocated from the start, more than all the rest of an idle connection's state).

use axum::extract::ws::Utf8Bytes;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Frames pushed to one connection and not yet written.
pub const PUSH_QUEUE: usize = 256;
/// Replies to one connection's own frames not yet written.
pub const REPLY_QUEUE: usize = 64;
/// An emptied queue keeping more room than this gives it back.
const KEPT_ROOM: usize = 8;

/// WebSocket close codes the server uses (docs/PROTOCOL.md).
pub mod code {
    /// The client closed, or the server is going away.
    pub const NORMAL: u16 = 1000;
    /// Sustained abuse of the frame rate limit.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit.
    pub const TOO_LARGE: u16 = 1009;
    /// The node is stopping (a restart, a deploy, scaling in): reconnect with backoff,
    /// then sync.
    pub const SERVICE_RESTART: u16 = 1012;
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

/// What the writer is to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Write this frame.
    Frame(Utf8Bytes),
    /// Close the socket: as asked, or with no close frame when every [`Outbound`] was
    /// dropped without asking.
    Close(Option<Close>),
}

struct Shared {
    state: Mutex<State>,
    /// Live [`Outbound`] handles.
    senders: AtomicUsize,
    /// Wakes the writer: a frame was queued, a close asked for, or the last sender left.
    writer: Notify,
    /// Wakes replies waiting for room, or for the writer to be gone.
    room: Notify,
}

#[derive(Default)]
struct State {
    replies: VecDeque<Utf8Bytes>,
    pushes: VecDeque<Utf8Bytes>,
    /// The first close asked for.
    close: Option<Close>,
    /// The writer is gone: nothing queued will be written.
    writer_gone: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn senders_gone(&self) -> bool {
        self.senders.load(Ordering::Acquire) == 0
    }
}

/// The sending side, cheap to clone.
pub struct Outbound(Arc<Shared>);

/// The receiving side, owned by the connection's writer.
pub struct Queued(Arc<Shared>);

pub fn channel() -> (Outbound, Queued) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        senders: AtomicUsize::new(1),
        writer: Notify::new(),
        room: Notify::new(),
    });
    (Outbound(shared.clone()), Queued(shared))
}

impl Outbound {
    /// Queues a frame without waiting; a full queue closes the connection.
    pub fn push(&self, frame: Utf8Bytes) -> Pushed {
        let mut state = self.0.state();
        if state.close.is_some() || state.writer_gone {
            return Pushed::Gone;
        }
        if state.pushes.len() >= PUSH_QUEUE {
            drop(state);
            if self.close(Close::new(code::SLOW_CONSUMER, "slow consumer")) {
                tracing::info!("closing a slow consumer");
                metrics::counter!(super::SLOW_CONSUMERS_METRIC).increment(1);
            }
            return Pushed::SlowConsumer;
        }
        state.pushes.push_back(frame);
        drop(state);
        self.0.writer.notify_one();
        Pushed::Queued
    }

    /// Queues a reply, waiting for room; false once the connection is closing.
    pub async fn reply(&self, frame: Utf8Bytes) -> bool {
        loop {
            // Registered before looking, so room made in between is not missed.
            let mut room = pin!(self.0.room.notified());
            room.as_mut().enable();
            {
                let mut state = self.0.state();
                if state.close.is_some() || state.writer_gone {
                    return false;
                }
                if state.replies.len() < REPLY_QUEUE {
                    state.replies.push_back(frame);
                    drop(state);
                    self.0.writer.notify_one();
                    return true;
                }
            }
            room.await;
        }
    }

    /// Asks the writer to close the connection; the first request wins. True when this
    /// one did.
    pub fn close(&self, close: Close) -> bool {
        let mut state = self.0.state();
        if state.close.is_some() {
            return false;
        }
        state.close = Some(close);
        drop(state);
        self.0.writer.notify_one();
        // A reply waiting for room would never get it now.
        self.0.room.notify_waiters();
        true
    }
}

impl Clone for Outbound {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Self(self.0.clone())
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.writer.notify_one();
        }
    }
}

impl Queued {
    /// What to write next: the close once one is asked for (frames still queued are
    /// dropped), else the oldest reply, else the oldest push; waits for one.
    pub async fn next(&self) -> Next {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            // A frame or close arriving since the look left a permit: no wake-up is lost.
            self.0.writer.notified().await;
        }
    }

    /// [`Self::next`] if there is one now.
    pub fn try_next(&self) -> Option<Next> {
        let mut state = self.0.state();
        if let Some(close) = &state.close {
            return Some(Next::Close(Some(close.clone())));
        }
        if let Some(frame) = pop(&mut state.replies) {
            drop(state);
            self.0.room.notify_waiters();
            return Some(Next::Frame(frame));
        }
        if let Some(frame) = pop(&mut state.pushes) {
            return Some(Next::Frame(frame));
        }
        self.0.senders_gone().then_some(Next::Close(None))
    }

    /// Resolves once a close is asked for (or every [`Outbound`] is gone); frames queued
    /// meanwhile stay queued.
    pub async fn closing(&self) {
        loop {
            // Frames queued meanwhile consume wake-ups meant for `next`, which looks at
            // the queues before it waits.
            if self.0.state().close.is_some() || self.0.senders_gone() {
                return;
            }
            self.0.writer.notified().await;
        }
    }

    /// The close asked for, if any.
    pub fn close(&self) -> Option<Close> {
        self.0.state().close.clone()
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.writer_gone = true;
        state.replies = VecDeque::new();
        state.pushes = VecDeque::new();
        drop(state);
        self.0.room.notify_waiters();
    }
}

/// The oldest frame of `queue`, giving back the room of a burst once it is drained.
fn pop(queue: &mut VecDeque<Utf8Bytes>) -> Option<Utf8Bytes> {
    let frame = queue.pop_front()?;
    if queue.is_empty() && queue.capacity() > KEPT_ROOM {
        *queue = VecDeque::new();
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_push_queue_closes_as_slow_consumer_and_the_first_close_wins() {
        let (outbound, queued) = channel();
        for _ in 0..PUSH_QUEUE {
            assert_eq!(outbound.push("x".into()), Pushed::Queued);
        }
        assert_eq!(outbound.push("x".into()), Pushed::SlowConsumer);
        assert_eq!(queued.close().map(|c| c.code), Some(code::SLOW_CONSUMER));
        assert!(!outbound.close(Close::new(code::NORMAL, "")));
        assert_eq!(outbound.push("x".into()), Pushed::Gone);
        assert!(!outbound.reply("x".into()).await);
        assert_eq!(
            queued.next().await,
            Next::Close(Some(Close::new(code::SLOW_CONSUMER, "slow consumer"))),
            "a close goes before the frames still queued"
        );
    }

    #[tokio::test]
    async fn replies_go_before_pushes_each_in_order() {
        let (outbound, queued) = channel();
        assert_eq!(outbound.push("p1".into()), Pushed::Queued);
        assert!(outbound.reply("r1".into()).await);
        assert_eq!(outbound.push("p2".into()), Pushed::Queued);
        assert!(outbound.reply("r2".into()).await);
        for frame in ["r1", "r2", "p1", "p2"] {
            assert_eq!(queued.next().await, Next::Frame(frame.into()));
        }
        assert_eq!(queued.try_next(), None);
    }

    #[tokio::test]
    async fn a_reply_waits_for_room_and_gives_up_on_a_close() {
        let (outbound, queued) = channel();
        for _ in 0..REPLY_QUEUE {
            assert!(outbound.reply("r".into()).await);
        }
        let waiting = tokio::spawn({
            let outbound = outbound.clone();
            async move { outbound.reply("last".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "no room yet");
        assert_eq!(queued.next().await, Next::Frame("r".into()));
        assert!(waiting.await.unwrap(), "queued once there was room");

        let refused = tokio::spawn({
            let outbound = outbound.clone();
            async move { outbound.reply("late".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(outbound.close(Close::new(code::NORMAL, "")));
        assert!(!refused.await.unwrap(), "refused once closing");
    }

    #[tokio::test]
    async fn the_writer_learns_of_a_close_while_writing_and_of_senders_gone() {
        let (outbound, queued) = channel();
        let closing = tokio::spawn(async move {
            queued.closing().await;
            queued
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(outbound.push("p".into()), Pushed::Queued);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!closing.is_finished(), "a push is no close");
        outbound.close(Close::new(code::IDLE, "idle timeout"));
        let queued = closing.await.unwrap();
        assert_eq!(queued.close().map(|c| c.code), Some(code::IDLE));

        let (outbound, queued) = channel();
        drop(outbound.clone());
        assert_eq!(queued.try_next(), None);
        drop(outbound);
        assert_eq!(queued.next().await, Next::Close(None));
    }

    #[tokio::test]
    async fn nothing_is_queued_once_the_writer_is_gone() {
        let (outbound, queued) = channel();
        drop(queued);
        assert_eq!(outbound.push("p".into()), Pushed::Gone);
        assert!(!outbound.reply("r".into()).await);
    }
}
