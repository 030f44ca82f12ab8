//! One user's XMPP session: login (stream, SASL PLAIN, bind, presence, stream
//! management), then, like the WebSocket client, a writer task fed by a queue, so the
//! open-loop scheduler never waits on a socket, and a reader task that records what
//! arrives into the connection's [`Inbox`].
//!
//! Acks: after each batch of messages the writer asks `<r/>`; the server answers
//! `<a h='N'/>` once it has handled (for ejabberd: archived and routed) the first N
//! stanzas, which acks the messages among them. Stanzas the server sends are counted
//! and its `<r/>` answered, or it would end the stream.

use super::Endpoint;
use super::parse::{Element, Incoming, StanzaReader};
use super::sm::AckQueue;
use super::stanza;
use crate::client::{Live, Stamp, finish_reader, pings, tick};
use crate::clock::Clock;
use crate::metrics::{Acked, Inbox};
use anyhow::{Context as _, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWriteExt as _, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Bound on the whole login (TCP connect to stream management enabled).
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(15);
/// The resource every bench session binds.
const RESOURCE: &str = "bench";

type Reader = StanzaReader<BufReader<OwnedReadHalf>>;
type Writer = BufWriter<OwnedWriteHalf>;

pub struct Connection {
    owner: usize,
    outgoing: mpsc::UnboundedSender<Outbound>,
    reader: JoinHandle<Inbox>,
    writer: JoinHandle<()>,
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
    /// How long the login took.
    pub handshake: Duration,
    /// The socket's local address (its source address and port).
    pub local_addr: Option<std::net::SocketAddr>,
}

enum Outbound {
    /// A bench message, to be acked.
    Chat {
        xml: String,
        sent: Sent,
    },
    /// Any other stanza (answers to the server's pings).
    Stanza(String),
    /// `<a h=…/>` with the count of stanzas received so far.
    Answer,
    Close,
}

/// A bench message written and waiting for its ack.
#[derive(Debug)]
struct Sent {
    conversation: String,
    seq: u64,
    stamp: Stamp,
}

/// What the reader and the writer share.
struct Shared {
    clock: Clock,
    live: Arc<Live>,
    /// Stanzas received since stream management was enabled.
    received: AtomicU64,
    closing: AtomicBool,
}

impl Connection {
    /// Logs in `user` (SASL PLAIN with `password`) at `server`. With `heartbeat`, the
    /// session pings the server at that interval (spread over sessions by owner) and
    /// records the round trips.
    pub async fn open(
        server: &Endpoint,
        user: &str,
        password: &str,
        owner: usize,
        clock: Clock,
        live: Arc<Live>,
        heartbeat: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let (stanzas, socket) =
            tokio::time::timeout(HANDSHAKE_LIMIT, login(server, user, password))
                .await
                .context("XMPP login timed out")??;
        let handshake = started.elapsed();
        let local_addr = socket.get_ref().local_addr().ok();
        let shared = Arc::new(Shared {
            clock,
            live,
            received: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        let (outgoing, queue) = mpsc::unbounded_channel();
        let (written, unacked) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let reader = tokio::spawn(read(
            stanzas,
            Inbox::new(owner),
            shared.clone(),
            outgoing.clone(),
            unacked,
            stopped,
        ));
        let pings = heartbeat.map(|period| pings(period, owner));
        let writer = tokio::spawn(write(
            socket,
            queue,
            pings,
            server.domain.clone(),
            shared.clone(),
            written,
        ));
        Ok(Self {
            owner,
            outgoing,
            reader,
            writer,
            stop,
            shared,
            handshake,
            local_addr,
        })
    }

    pub fn owner(&self) -> usize {
        self.owner
    }

    /// Queues a chat message to `to` (a bare JID) in bench conversation
    /// `conversation`, numbered `seq`; `false` when the session is gone.
    pub fn send(&self, to: &str, conversation: &str, seq: u64, stamp: Stamp) -> bool {
        let xml = stanza::chat(to, conversation, &stamp.text());
        let sent = Sent {
            conversation: conversation.to_owned(),
            seq,
            stamp,
        };
        self.outgoing.send(Outbound::Chat { xml, sent }).is_ok()
    }

    /// Closes the stream and returns what the session received.
    pub async fn close(self) -> Inbox {
        self.shared.closing.store(true, Ordering::Relaxed);
        let _ = self.outgoing.send(Outbound::Close);
        drop(self.outgoing);
        let inbox = finish_reader(self.reader, &self.stop, self.owner).await;
        self.writer.abort();
        inbox
    }
}

/// Stream, SASL PLAIN, restart, bind (and session where required), presence, and
/// stream management. Presence goes before `<enable/>`, whose answer then also means
/// the server has made the session available (it handles a stream in order).
async fn login(server: &Endpoint, user: &str, password: &str) -> anyhow::Result<(Reader, Writer)> {
    let socket = server.dialer.connect(&server.addr).await?;
    socket.set_nodelay(true).context("set TCP_NODELAY")?;
    let (read, write) = socket.into_split();
    let mut stanzas = StanzaReader::new(BufReader::new(read));
    let mut out = BufWriter::new(write);

    say(&mut out, &stanza::stream_header(&server.domain)).await?;
    let features = expect(&mut stanzas, "features").await?;
    let plain = features
        .child("mechanisms")
        .is_some_and(|mechanisms| mechanisms.children.iter().any(|m| m.text.trim() == "PLAIN"));
    if !plain {
        bail!(
            "the server offers no SASL PLAIN on plain TCP (does it require STARTTLS?): {features:?}"
        );
    }
    say(&mut out, &stanza::auth_plain(user, password)).await?;
    let outcome = next(&mut stanzas).await?;
    if outcome.name != "success" {
        let condition = outcome.children.first().map(|c| c.name.as_str());
        bail!("authentication refused: {}", condition.unwrap_or("?"));
    }

    say(&mut out, &stanza::stream_header(&server.domain)).await?;
    let features = expect(&mut stanzas, "features").await?;
    if features.children_in("sm", stanza::SM).next().is_none() {
        bail!("the server offers no stream management (XEP-0198), which the acks need");
    }
    say(&mut out, &stanza::bind("bind", RESOURCE)).await?;
    result(&mut stanzas, "bind").await?;
    if features
        .child("session")
        .is_some_and(|session| session.child("optional").is_none())
    {
        say(&mut out, &stanza::session("session")).await?;
        result(&mut stanzas, "session").await?;
    }
    say(
        &mut out,
        &format!("{}{}", stanza::PRESENCE, stanza::enable_sm()),
    )
    .await?;
    loop {
        // our own presence comes back first; anything else before `<enabled/>` is
        // outside the counting and is skipped
        let element = next(&mut stanzas).await?;
        match element.name.as_str() {
            "enabled" => break,
            "failed" => bail!("the server refused stream management"),
            _ => {}
        }
    }
    Ok((stanzas, out))
}

async fn say(out: &mut Writer, xml: &str) -> anyhow::Result<()> {
    out.write_all(xml.as_bytes())
        .await
        .context("write to the server")?;
    out.flush().await.context("write to the server")
}

/// The next top-level element (stream headers skipped); a stream error or the end of
/// the stream is an error.
async fn next(stanzas: &mut Reader) -> anyhow::Result<Element> {
    loop {
        match stanzas.next().await? {
            Some(Incoming::StreamOpen(_)) => {}
            Some(Incoming::Stanza(element)) if element.name == "error" => {
                bail!("stream error: {}", stream_error(&element))
            }
            Some(Incoming::Stanza(element)) => return Ok(element),
            Some(Incoming::StreamEnd) | None => bail!("the server closed the stream"),
        }
    }
}

async fn expect(stanzas: &mut Reader, name: &str) -> anyhow::Result<Element> {
    let element = next(stanzas).await?;
    if element.name != name {
        bail!("expected <{name}/>, got {element:?}");
    }
    Ok(element)
}

/// Waits for the `result` of the iq `id`.
async fn result(stanzas: &mut Reader, id: &str) -> anyhow::Result<Element> {
    let element = expect(stanzas, "iq").await?;
    if element.attr("id") != Some(id) || element.attr("type") != Some("result") {
        bail!("{id} failed: {element:?}");
    }
    Ok(element)
}

fn stream_error(element: &Element) -> String {
    element
        .children
        .iter()
        .find(|c| c.name != "text")
        .map_or_else(|| "unknown".to_owned(), |c| c.name.clone())
}

async fn write(
    mut out: Writer,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    mut pings: Option<tokio::time::Interval>,
    domain: String,
    shared: Arc<Shared>,
    acks: mpsc::UnboundedSender<(u64, Sent)>,
) {
    // stanzas written since stream management was enabled, as the server counts them
    let mut written = 0_u64;
    loop {
        let first = tokio::select! {
            next = queue.recv() => match next {
                Some(outbound) => outbound,
                None => return,
            },
            () = tick(&mut pings) => {
                let id = format!("p{}", shared.clock.now_us());
                Outbound::Stanza(stanza::ping(&id, &domain))
            }
        };
        // Batch whatever else is queued into one flush, and one ack request for it.
        let mut next = Some(first);
        let mut chats = false;
        let mut closing = false;
        while let Some(outbound) = next.take() {
            let xml = match outbound {
                Outbound::Chat { xml, sent } => {
                    written += 1;
                    chats = true;
                    let _ = acks.send((written, sent));
                    xml
                }
                Outbound::Stanza(xml) => {
                    written += 1;
                    xml
                }
                Outbound::Answer => stanza::ack_answer(shared.received.load(Ordering::Relaxed)),
                Outbound::Close => {
                    closing = true;
                    // acknowledge everything received, or the server would resend it
                    let handled = shared.received.load(Ordering::Relaxed);
                    format!("{}{}", stanza::ack_answer(handled), stanza::STREAM_CLOSE)
                }
            };
            if out.write_all(xml.as_bytes()).await.is_err() {
                return;
            }
            if !closing {
                next = queue.try_recv().ok();
            }
        }
        if chats
            && out
                .write_all(stanza::ack_request().as_bytes())
                .await
                .is_err()
        {
            return;
        }
        if out.flush().await.is_err() || closing {
            let _ = out.shutdown().await;
            return;
        }
    }
}

async fn read(
    mut stanzas: Reader,
    mut inbox: Inbox,
    shared: Arc<Shared>,
    outgoing: mpsc::UnboundedSender<Outbound>,
    mut written: mpsc::UnboundedReceiver<(u64, Sent)>,
    mut stop: watch::Receiver<bool>,
) -> Inbox {
    let mut waiting = AckQueue::default();
    let ended = loop {
        let next = tokio::select! {
            next = stanzas.next() => next,
            _ = stop.changed() => break None,
        };
        match next {
            Ok(Some(Incoming::Stanza(element))) => {
                if element.name == "a" {
                    while let Ok((number, sent)) = written.try_recv() {
                        waiting.expect(number, sent);
                    }
                }
                if let Some(reason) = record(&element, &mut inbox, &shared, &outgoing, &mut waiting)
                {
                    break Some(reason);
                }
            }
            Ok(Some(Incoming::StreamOpen(_))) => {}
            Ok(Some(Incoming::StreamEnd)) => break Some("closed".to_owned()),
            Ok(None) => break Some("ended".to_owned()),
            Err(error) => break Some(format!("broken: {error:#}")),
        }
    };
    if let Some(reason) = ended
        && !shared.closing.load(Ordering::Relaxed)
    {
        shared.live.disconnects.fetch_add(1, Ordering::Relaxed);
        inbox.disconnected = Some(reason);
    }
    inbox
}

/// Records one element from the server; a stream error ends the session (its reason).
fn record(
    element: &Element,
    inbox: &mut Inbox,
    shared: &Shared,
    outgoing: &mpsc::UnboundedSender<Outbound>,
    waiting: &mut AckQueue<Sent>,
) -> Option<String> {
    let now = shared.clock.now_us();
    match element.name.as_str() {
        "message" | "presence" | "iq" => {
            shared.received.fetch_add(1, Ordering::Relaxed);
            match element.name.as_str() {
                "message" => arrive(element, inbox, shared, now),
                "iq" => answer_iq(element, inbox, outgoing, now),
                _ => {}
            }
        }
        "r" => {
            let _ = outgoing.send(Outbound::Answer);
        }
        "a" => {
            let Some(handled) = element.attr("h").and_then(|h| h.parse::<u64>().ok()) else {
                inbox.error("unreadable_ack");
                return None;
            };
            for sent in waiting.acknowledge(handled) {
                inbox.acks.push(Acked {
                    conversation: sent.conversation,
                    seq: sent.seq,
                    sender: sent.stamp.sender,
                    sent_us: sent.stamp.sent_us,
                    acked_us: now,
                });
                shared.live.acks.fetch_add(1, Ordering::Relaxed);
            }
        }
        "error" => return Some(format!("stream error: {}", stream_error(element))),
        _ => {}
    }
    None
}

fn arrive(message: &Element, inbox: &mut Inbox, shared: &Shared, now: u64) {
    if message.attr("type") == Some("error") {
        let condition = message
            .child("error")
            .and_then(|error| error.children.first())
            .map_or("unknown", |c| c.name.as_str());
        inbox.error(&format!("message_error_{condition}"));
        return;
    }
    let (Some(body), Some(thread)) = (message.child("body"), message.child("thread")) else {
        return; // not a bench message
    };
    let Some(stamp) = Stamp::parse(&body.text) else {
        return;
    };
    if inbox.arrive(&thread.text, stamp.k, stamp.sender, stamp.sent_us, now) {
        shared.live.deliveries.fetch_add(1, Ordering::Relaxed);
    }
}

fn answer_iq(
    iq: &Element,
    inbox: &mut Inbox,
    outgoing: &mpsc::UnboundedSender<Outbound>,
    now: u64,
) {
    let id = iq.attr("id").unwrap_or_default();
    match iq.attr("type") {
        Some("result") => {
            if let Some(sent) = id.strip_prefix('p').and_then(|us| us.parse::<u64>().ok()) {
                inbox.pongs.record_us(now.saturating_sub(sent));
            }
        }
        Some("get") if iq.child("ping").is_some() => {
            let from = iq.attr("from").unwrap_or_default();
            let _ = outgoing.send(Outbound::Stanza(stanza::iq_result(id, from)));
        }
        _ => {}
    }
}
