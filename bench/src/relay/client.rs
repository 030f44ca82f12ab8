//! One user's connection to the raw relay, shaped like the WebSocket client: a writer
//! task fed by a queue and a reader task recording arrivals into an [`Inbox`].
//!
//! The relay answers nothing, so there are no acks: a message counts as sent once its
//! frame is written, and only end-to-end latency is measured. Pings are frames the
//! connection addresses to itself, so their round trip crosses the relay's routing.

use super::frame::{self, Said};
use crate::client::{CLOSE_LIMIT, Live, Stamp, finish_reader, pings, tick};
use crate::clock::Clock;
use crate::dial::{self, Dialer};
use crate::metrics::{Acked, Inbox};
use anyhow::Context as _;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type Socket = dial::WebSocket;

const HANDSHAKE_LIMIT: Duration = Duration::from_secs(15);

pub struct Connection {
    owner: usize,
    outgoing: mpsc::UnboundedSender<Outbound>,
    reader: JoinHandle<Inbox>,
    /// Returns the messages it wrote.
    writer: JoinHandle<Vec<Acked>>,
    stop: watch::Sender<bool>,
    closing: Arc<AtomicBool>,
    /// How long the upgrade took.
    pub handshake: Duration,
    /// The socket's local address (its source address and port).
    pub local_addr: Option<std::net::SocketAddr>,
}

enum Outbound {
    Chat { text: String, sent: Acked },
    Close,
}

impl Connection {
    /// Connects user `me` (account `owner`) to the relay at `base` (`ws://host:port`).
    pub async fn open(
        base: &str,
        dialer: &Dialer,
        me: &str,
        owner: usize,
        clock: Clock,
        live: Arc<Live>,
        heartbeat: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let url = format!("{}/u/{me}", base.trim_end_matches('/'));
        let mut socket = tokio::time::timeout(HANDSHAKE_LIMIT, dialer.websocket(&url))
            .await
            .context("WebSocket handshake timed out")??;
        let handshake = started.elapsed();
        let local_addr = dial::local_addr(&socket);
        ready(&mut socket, me).await?;
        let (sink, stream) = socket.split();
        let (outgoing, queue) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let closing = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read(
            stream,
            Inbox::new(owner),
            clock,
            live.clone(),
            closing.clone(),
            stopped,
        ));
        let pings = heartbeat.map(|period| pings(period, owner));
        let writer = tokio::spawn(write(sink, queue, pings, me.to_owned(), clock, live));
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

    pub fn owner(&self) -> usize {
        self.owner
    }

    /// Queues a message to user `to` in bench conversation `conversation`, numbered
    /// `seq`; `false` when the connection is gone.
    pub fn send(&self, to: &str, conversation: &str, seq: u64, stamp: Stamp) -> bool {
        let text = frame::message(to, conversation, &stamp);
        let sent = Acked {
            conversation: conversation.to_owned(),
            seq,
            sender: stamp.sender,
            sent_us: stamp.sent_us,
            acked_us: 0,
        };
        self.outgoing.send(Outbound::Chat { text, sent }).is_ok()
    }

    /// Closes the connection and returns what it received and wrote.
    pub async fn close(self) -> Inbox {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.outgoing.send(Outbound::Close);
        drop(self.outgoing);
        let mut writer = self.writer;
        let written = match tokio::time::timeout(CLOSE_LIMIT, &mut writer).await {
            Ok(written) => written.unwrap_or_default(),
            Err(_) => {
                writer.abort();
                Vec::new()
            }
        };
        let mut inbox = finish_reader(self.reader, &self.stop, self.owner).await;
        inbox.acks.extend(written);
        inbox
    }
}

/// A frame to itself and back: the relay has registered this connection.
async fn ready(socket: &mut Socket, me: &str) -> anyhow::Result<()> {
    socket
        .send(Message::text(frame::ready(me)))
        .await
        .context("send the readiness frame")?;
    tokio::time::timeout(HANDSHAKE_LIMIT, async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.context("read the readiness frame")?
                && frame::read(&text) == Said::Ready
            {
                return Ok(());
            }
        }
        anyhow::bail!("the socket closed before it was ready")
    })
    .await
    .context("no readiness frame in time")?
}

async fn write(
    mut sink: SplitSink<Socket, Message>,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    mut pings: Option<tokio::time::Interval>,
    me: String,
    clock: Clock,
    live: Arc<Live>,
) -> Vec<Acked> {
    let mut written = Vec::new();
    loop {
        let first = tokio::select! {
            next = queue.recv() => match next {
                Some(outbound) => Some(outbound),
                None => return written,
            },
            () = tick(&mut pings) => None,
        };
        let mut batch = Vec::new();
        let mut closing = false;
        let mut next = match first {
            Some(outbound) => Some(outbound),
            None => {
                let ping = Message::text(frame::ping(&me, clock.now_us()));
                if sink.feed(ping).await.is_err() {
                    return written;
                }
                queue.try_recv().ok()
            }
        };
        while let Some(outbound) = next.take() {
            let message = match outbound {
                Outbound::Chat { text, sent } => {
                    batch.push(sent);
                    Message::text(text)
                }
                Outbound::Close => {
                    closing = true;
                    Message::Close(None)
                }
            };
            if sink.feed(message).await.is_err() {
                return written;
            }
            if !closing {
                next = queue.try_recv().ok();
            }
        }
        if sink.flush().await.is_err() {
            return written;
        }
        let now = clock.now_us();
        live.acks.fetch_add(batch.len() as u64, Ordering::Relaxed);
        written.extend(batch.into_iter().map(|sent| Acked {
            acked_us: now,
            ..sent
        }));
        if closing {
            return written;
        }
    }
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
            Some(Ok(Message::Text(text))) => {
                let now = clock.now_us();
                match frame::read(&text) {
                    Said::Message {
                        conversation,
                        stamp,
                    } => {
                        if inbox.arrive(conversation, stamp.k, stamp.sender, stamp.sent_us, now) {
                            live.deliveries.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Said::Ping { sent_us } => inbox.pongs.record_us(now.saturating_sub(sent_us)),
                    Said::Ready => {}
                    Said::Other => inbox.error("unreadable_frame"),
                }
            }
            Some(Ok(Message::Close(_))) => break Some("closed".to_owned()),
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
