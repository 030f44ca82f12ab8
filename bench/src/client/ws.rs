//! One user's WebSocket connection (docs/PROTOCOL.md): a writer task fed by a queue, so
//! that the open-loop scheduler never waits on a socket, and a reader task that records
//! every frame it gets into the connection's [`Inbox`].

use super::Stamp;
use crate::clock::Clock;
use crate::dial::{self, Dialer};
use crate::metrics::{Acked, Inbox};
use anyhow::Context as _;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type Socket = dial::WebSocket;

/// Bound on an upgrade (TCP connect, HTTP upgrade, token check).
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(15);
/// How long a closing connection may take to say goodbye before it is cut.
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// Run-wide counters the scenarios watch while draining.
#[derive(Debug, Default)]
pub struct Live {
    /// First arrivals of bench messages, over all connections.
    pub deliveries: AtomicU64,
    pub acks: AtomicU64,
    /// `error` replies to sends.
    pub send_errors: AtomicU64,
    /// Connections the server ended.
    pub disconnects: AtomicU64,
}

impl Live {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub struct Connection {
    owner: usize,
    outgoing: mpsc::UnboundedSender<Message>,
    reader: JoinHandle<Inbox>,
    writer: JoinHandle<()>,
    stop: watch::Sender<bool>,
    closing: Arc<AtomicBool>,
    /// How long the upgrade took.
    pub handshake: Duration,
    /// The socket's local address (its source address and port).
    pub local_addr: Option<std::net::SocketAddr>,
}

impl Connection {
    /// Opens the WebSocket of user `owner` at `url` (token in the query) through
    /// `dialer`. With `heartbeat`, the connection sends a `ping` frame at that interval
    /// (spread over connections by owner) and records the round trips.
    pub async fn open(
        url: String,
        dialer: &Dialer,
        owner: usize,
        clock: Clock,
        live: Arc<Live>,
        heartbeat: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut socket = tokio::time::timeout(HANDSHAKE_LIMIT, dialer.websocket(&url))
            .await
            .context("WebSocket handshake timed out")??;
        let handshake = started.elapsed();
        let local_addr = dial::local_addr(&socket);
        ready(&mut socket).await?;
        let (sink, stream) = socket.split();
        let (outgoing, queue) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let closing = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read(
            stream,
            Inbox::new(owner),
            clock,
            live,
            closing.clone(),
            stopped,
        ));
        let pings = heartbeat.map(|period| pings(period, owner));
        let writer = tokio::spawn(write(sink, queue, pings, clock));
        Ok(Self {
            owner,
            outgoing,
            reader,
            writer,
            stop,
            closing,
            handshake,
            local_addr,
        })
    }

    /// The index of the user this connection belongs to.
    pub fn owner(&self) -> usize {
        self.owner
    }

    /// Queues a text frame; `false` when the connection is gone.
    pub fn send(&self, text: String) -> bool {
        self.outgoing.send(Message::Text(text.into())).is_ok()
    }

    /// Waits, at most `limit`, for the server to end the connection, as a client
    /// notices it: then its socket is released and what it received returned (with
    /// why it ended in `disconnected`). Still open after `limit`: the connection back.
    pub async fn ended(mut self, limit: Duration) -> Result<Inbox, Self> {
        match tokio::time::timeout(limit, &mut self.reader).await {
            Err(_) => Err(self),
            Ok(joined) => {
                self.writer.abort();
                Ok(joined.unwrap_or_else(|error| {
                    let mut inbox = Inbox::new(self.owner);
                    inbox.disconnected = Some(format!("reader failed: {error}"));
                    inbox
                }))
            }
        }
    }

    /// Closes the connection and returns what it received.
    pub async fn close(self) -> Inbox {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.outgoing.send(Message::Close(None));
        drop(self.outgoing);
        let inbox = finish_reader(self.reader, &self.stop, self.owner).await;
        self.writer.abort();
        inbox
    }
}

/// Waits for a closing connection's reader to end by itself, then stops it, and returns
/// what it received (a failed reader counts as a disconnect of `owner`).
pub(crate) async fn finish_reader(
    mut reader: JoinHandle<Inbox>,
    stop: &watch::Sender<bool>,
    owner: usize,
) -> Inbox {
    let joined = match tokio::time::timeout(CLOSE_LIMIT, &mut reader).await {
        Ok(joined) => joined,
        Err(_) => {
            let _ = stop.send(true);
            reader.await
        }
    };
    joined.unwrap_or_else(|error| {
        let mut inbox = Inbox::new(owner);
        inbox.disconnected = Some(format!("reader failed: {error}"));
        inbox
    })
}

async fn write(
    mut sink: SplitSink<Socket, Message>,
    mut queue: mpsc::UnboundedReceiver<Message>,
    mut pings: Option<tokio::time::Interval>,
    clock: Clock,
) {
    loop {
        let first = tokio::select! {
            next = queue.recv() => match next {
                Some(message) => message,
                None => return,
            },
            () = tick(&mut pings) => ping(&clock),
        };
        // Batch whatever else is queued into one flush.
        let mut closing = matches!(first, Message::Close(_));
        if sink.feed(first).await.is_err() {
            return;
        }
        while !closing {
            let Ok(message) = queue.try_recv() else { break };
            closing = matches!(message, Message::Close(_));
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() || closing {
            return;
        }
    }
}

/// Ticks every `period`, the first one spread over a period by `owner`, so connections
/// do not ping in step.
pub(crate) fn pings(period: Duration, owner: usize) -> tokio::time::Interval {
    let offset = period.mul_f64((owner % 1000) as f64 / 1000.0);
    tokio::time::interval_at(Instant::now() + offset, period)
}

/// The next ping tick; never, when pings are off.
pub(crate) async fn tick(pings: &mut Option<tokio::time::Interval>) {
    match pings {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One round trip before traffic: the gateway serves a socket's frames only once it has
/// registered the device with presence, so a reply means pushes will reach it (a real
/// client syncs after connecting for the same reason; counting pushes sent before this
/// point as lost would blame the server for the client's haste).
async fn ready<S>(socket: &mut S) -> anyhow::Result<()>
where
    S: futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    socket
        .send(Message::Text(r#"{"type":"ping","id":"ready"}"#.into()))
        .await
        .context("send the readiness ping")?;
    tokio::time::timeout(HANDSHAKE_LIMIT, async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.context("read the readiness reply")?
                && text.contains(r#""id":"ready""#)
            {
                return Ok(());
            }
        }
        anyhow::bail!("the socket closed before it was ready")
    })
    .await
    .context("no readiness reply in time")?
}

/// A `ping` frame whose id carries its send time.
fn ping(clock: &Clock) -> Message {
    Message::Text(format!(r#"{{"type":"ping","id":"p{}"}}"#, clock.now_us()).into())
}

async fn read(
    mut stream: SplitStream<Socket>,
    mut inbox: Inbox,
    clock: Clock,
    live: Arc<Live>,
    closing: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) -> Inbox {
    let ended = loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = stop.changed() => break None,
        };
        match next {
            Some(Ok(Message::Text(text))) => record(&text, &mut inbox, &clock, &live),
            Some(Ok(Message::Close(frame))) => {
                break Some(match frame {
                    Some(frame) => format!("closed {} {}", u16::from(frame.code), frame.reason),
                    None => "closed".to_owned(),
                });
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => break Some(format!("broken: {error}")),
            None => break Some("ended".to_owned()),
        }
    };
    if let Some(reason) = ended
        && !closing.load(Ordering::Relaxed)
    {
        live.disconnects.fetch_add(1, Ordering::Relaxed);
        inbox.disconnected = Some(reason);
    }
    inbox
}

/// Records one server frame; frames the bench does not follow are ignored.
fn record(text: &str, inbox: &mut Inbox, clock: &Clock, live: &Live) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        inbox.error("unreadable_frame");
        return;
    };
    let now = clock.now_us();
    match frame["type"].as_str().unwrap_or_default() {
        "message" => {
            let message = &frame["data"]["message"];
            let (Some(stamp), Some(conversation), Some(seq)) = (
                Stamp::of_message(message),
                message["conversation_id"].as_str(),
                message["seq"].as_u64(),
            ) else {
                return; // not a bench message
            };
            if inbox.arrive(conversation, seq, stamp.sender, stamp.sent_us, now) {
                live.deliveries.fetch_add(1, Ordering::Relaxed);
            }
        }
        "send.ack" => {
            let message = &frame["data"]["message"];
            let (Some(stamp), Some(conversation), Some(seq)) = (
                Stamp::of_message(message),
                message["conversation_id"].as_str(),
                message["seq"].as_u64(),
            ) else {
                inbox.error("unreadable_ack");
                return;
            };
            inbox.acks.push(Acked {
                conversation: conversation.to_owned(),
                seq,
                sender: stamp.sender,
                sent_us: stamp.sent_us,
                acked_us: now,
            });
            live.acks.fetch_add(1, Ordering::Relaxed);
        }
        "pong" => {
            let sent = frame["id"]
                .as_str()
                .and_then(|id| id.strip_prefix('p'))
                .and_then(|us| us.parse::<u64>().ok());
            if let Some(sent) = sent {
                inbox.pongs.record_us(now.saturating_sub(sent));
            }
        }
        "error" => {
            inbox.error(frame["data"]["code"].as_str().unwrap_or("unknown"));
            if frame["id"].as_str().is_some_and(|id| id.starts_with('s')) {
                live.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {}
    }
}

/// The `send` frame of a text message.
pub fn send_frame(k: u64, conversation: &str, client_msg_id: &str, stamp: &Stamp) -> String {
    serde_json::json!({
        "type": "send",
        "id": format!("s{k}"),
        "data": {
            "conversation_id": conversation,
            "client_msg_id": client_msg_id,
            "type": "text",
            "body": {"text": stamp.text()},
        }
    })
    .to_string()
}
