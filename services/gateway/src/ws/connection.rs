//! One WebSocket connection, from upgrade to close: a writer task that alone writes to
//! the socket (queued frames, pings, the close), and the reader, which authenticates
//! the client if the upgrade did not, then reads frames one at a time, enforcing the
//! size and rate limits, and hands them to their handlers.
//!
//! Frames are handled in the order they arrive, so a client's `send`s are stored in the
//! order it sent them.

use super::Live;
use super::frames::{self, MAX_FRAME_BYTES};
use super::handlers::{self, Connection};
use super::hub::Holder;
use super::outbound::{self, Close, Next, Outbound, Queued, code};
use super::rate_limit::{FrameLimiter, Verdict};
use super::revocation;
use super::shutdown;
use super::upgrade::{AuthData, admit, check_device_id};
use crate::auth::{Auth, Principal};
use crate::http::ApiError;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};
use im_contracts::v1::DeviceRef;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// How long a client that did not authenticate on upgrade has to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// A connection with no frame (nor pong) from its client for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A frame the client does not take within this long cuts it off.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Writing the last frame and the close frame may take this long each.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the reader waits for the writer to finish closing.
const WRITER_DRAIN: Duration = Duration::from_secs(3);

/// When the client was last heard from.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

type Reader = SplitStream<WebSocket>;

/// Serves one upgraded socket until it closes. `admitted` is the caller when the
/// upgrade carried a valid token; otherwise the first frame must be `auth`. `device_id`
/// is the upgrade's (an `auth` frame may name another).
///
/// The future lives as long as the connection, most of it idle, and is as big as the
/// most it ever holds at once: hence no `async fn` here (its future would keep its
/// arguments, the socket among them, besides what they became) and the boxes around
/// the rarer, bigger steps (authenticating, registering, each frame's handler).
pub fn serve(
    socket: WebSocket,
    admitted: Option<Principal>,
    device_id: String,
    auth: Arc<Auth>,
    live: Arc<Live>,
) -> impl Future<Output = ()> + Send + 'static {
    let open = live.sockets.open();
    let (sink, mut stream) = socket.split();
    let (outbound, queued) = outbound::channel();
    let activity = Arc::new(Activity::new());
    let ended = CancellationToken::new();
    let writer =
        tokio::spawn(write(sink, queued, activity.clone(), ended.clone()).in_current_span());
    async move {
        // Counted until the writer is done, the close frame written.
        let _open = open;
        let admitted = match admitted {
            Some(principal) => Some((principal, device_id)),
            None => {
                let authenticating =
                    authenticate(&mut stream, &outbound, &auth, device_id, &activity, &ended);
                // Registered sockets are closed through the hub; this one is not there yet.
                tokio::select! {
                    biased;
                    () = live.sockets.stopping() => {
                        outbound.close(shutdown::restarting());
                        None
                    }
                    admitted = Box::pin(authenticating) => admitted,
                }
            }
        };
        if let Some((principal, device_id)) = admitted {
            let span = tracing::info_span!(
                "ws",
                user_id = %principal.user_id,
                session_id = %principal.session_id
            );
            let registering = Box::pin(register(principal, device_id, &outbound, &auth, &live));
            async {
                let mut connection = registering.await;
                read(&mut stream, &mut connection, &activity, &ended).await;
                live.hub.unregister(connection.id);
                tracing::debug!(connection = connection.id, "disconnected");
            }
            .instrument(span)
            .await;
        }
        outbound.close(Close::new(code::NORMAL, ""));
        if tokio::time::timeout(WRITER_DRAIN, writer).await.is_err() {
            tracing::debug!("the writer did not finish closing in time");
        }
    }
}

/// Registers the authenticated connection (announced to presence if it is the first of
/// its session here), closing it at once if it was revoked meanwhile.
async fn register(
    principal: Principal,
    device_id: String,
    outbound: &Outbound,
    auth: &Auth,
    live: &Arc<Live>,
) -> Connection {
    let holder = Holder {
        user_id: principal.user_id.clone(),
        session_id: principal.session_id.clone(),
        device_id,
    };
    let device = live.hub.device(&holder);
    let (id, first_of_session) = live.hub.register(holder, outbound.clone());
    tracing::debug!(connection = id, "connected");
    if first_of_session {
        announce(live, device).await;
    }
    // A revocation announced between the token check and the registration reached no
    // socket: check again now that this one can be found.
    let denylist = &auth.denylist;
    if denylist.is_session_revoked(&principal.session_id) {
        outbound.close(revocation::revoked(revocation::SESSION_REVOKED));
    } else if denylist.is_user_banned(&principal.user_id) {
        outbound.close(revocation::revoked(revocation::USER_BANNED));
    }
    Connection::new(id, principal, outbound.clone(), live.clone())
}

/// A text frame, or why the reading stopped.
enum Incoming {
    Text(Utf8Bytes),
    Binary,
    /// Ping or pong: only proof of life.
    Control,
    /// Closed by the client, the socket failed, or the writer finished.
    End,
}

async fn next(stream: &mut Reader, activity: &Activity, ended: &CancellationToken) -> Incoming {
    let message = tokio::select! {
        biased;
        () = ended.cancelled() => return Incoming::End,
        message = stream.next() => message,
    };
    match message {
        Some(Ok(message)) => {
            activity.touch();
            match message {
                Message::Text(text) => Incoming::Text(text),
                Message::Binary(_) => Incoming::Binary,
                Message::Ping(_) | Message::Pong(_) => Incoming::Control,
                Message::Close(_) => Incoming::End,
            }
        }
        Some(Err(error)) => {
            tracing::debug!(%error, "cannot read from the socket");
            Incoming::End
        }
        None => Incoming::End,
    }
}

fn too_large() -> Close {
    Close::new(code::TOO_LARGE, "frame too large").after(frames::error(
        None,
        "frame_too_large",
        &format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
        None,
    ))
}

fn binary_refused(id: Option<&frames::FrameId>) -> Utf8Bytes {
    frames::error(
        id,
        "invalid_frame",
        "frames are JSON text; binary frames are not accepted",
        None,
    )
}

/// What becomes of one frame from the client.
enum Step {
    Handle(frames::ClientFrame),
    /// Answered (refused) without being handled.
    Answer(Utf8Bytes),
    Close(Close),
}

/// Judges a text frame (`None`: a binary one) by its size, the frame rate and its
/// envelope.
fn judge(text: Option<Utf8Bytes>, limiter: &mut FrameLimiter) -> Step {
    if text
        .as_ref()
        .is_some_and(|text| text.len() > MAX_FRAME_BYTES)
    {
        return Step::Close(too_large());
    }
    let frame = text.as_deref().map(frames::parse);
    let id = match &frame {
        Some(Ok(frame)) => frame.id.as_ref(),
        Some(Err(refusal)) => refusal.id.as_ref(),
        None => None,
    };
    match limiter.check(Instant::now()) {
        Verdict::Admitted => {}
        Verdict::Refused => return Step::Answer(rate_limited(id)),
        Verdict::Abusive => {
            tracing::info!("closing a connection that kept exceeding the frame rate");
            return Step::Close(
                Close::new(code::POLICY_VIOLATION, "rate limit exceeded").after(rate_limited(id)),
            );
        }
    }
    match frame {
        None => Step::Answer(binary_refused(None)),
        Some(Err(refusal)) => Step::Answer(refusal.encode()),
        Some(Ok(frame)) => Step::Handle(frame),
    }
}

/// Reads frames until the connection ends, answering each.
async fn read(
    stream: &mut Reader,
    connection: &mut Connection,
    activity: &Activity,
    ended: &CancellationToken,
) {
    let mut limiter = FrameLimiter::new(connection.live.limits.ws_frames(), Instant::now());
    loop {
        let text = match next(stream, activity, ended).await {
            Incoming::Text(text) => Some(text),
            Incoming::Binary => None,
            Incoming::Control => continue,
            Incoming::End => return,
        };
        match judge(text, &mut limiter) {
            Step::Answer(reply) => {
                connection.outbound.reply(reply).await;
            }
            Step::Close(close) => {
                connection.outbound.close(close);
                return;
            }
            Step::Handle(frame) => {
                // Boxed: a handler's future (its RPCs included) is several KiB.
                tokio::select! {
                    biased;
                    () = ended.cancelled() => return,
                    () = Box::pin(handlers::dispatch(connection, frame)) => {}
                }
            }
        }
    }
}

fn rate_limited(id: Option<&frames::FrameId>) -> Utf8Bytes {
    frames::error(id, "rate_limited", "too many frames; slow down", Some(1))
}

/// Waits for the `auth` frame of a client that did not authenticate on upgrade. Any
/// other first frame, a refused token or silence for [`AUTH_TIMEOUT`] closes (4001).
async fn authenticate(
    stream: &mut Reader,
    outbound: &Outbound,
    auth: &Auth,
    device_id: String,
    activity: &Activity,
    ended: &CancellationToken,
) -> Option<(Principal, String)> {
    let refuse = |frame: Utf8Bytes| {
        outbound.close(Close::new(code::UNAUTHENTICATED, "unauthenticated").after(frame));
        None
    };
    let deadline = Instant::now() + AUTH_TIMEOUT;
    let text = loop {
        let incoming = tokio::time::timeout_at(deadline, next(stream, activity, ended)).await;
        match incoming {
            Err(_) => {
                return refuse(frames::error(
                    None,
                    "auth_timeout",
                    "no `auth` frame in time",
                    None,
                ));
            }
            Ok(Incoming::Text(text)) => break text,
            Ok(Incoming::Binary) => return refuse(binary_refused(None)),
            Ok(Incoming::Control) => continue,
            Ok(Incoming::End) => return None,
        }
    };
    if text.len() > MAX_FRAME_BYTES {
        outbound.close(too_large());
        return None;
    }
    let frame = match frames::parse(&text) {
        Ok(frame) => frame,
        Err(refusal) => return refuse(refusal.encode()),
    };
    let id = frame.id.as_ref();
    if frame.kind != "auth" {
        return refuse(frames::error(
            id,
            "unauthenticated",
            "authenticate first: send an `auth` frame, or connect with a token",
            None,
        ));
    }
    let admitted = async {
        let data: AuthData = frame.data()?;
        let device_id = check_device_id(data.device_id.unwrap_or(device_id))?;
        let principal = admit(auth, &data.access_token).await?;
        Ok::<_, ApiError>((principal, device_id))
    };
    match admitted.await {
        Ok((principal, device_id)) => {
            if let Some(id) = id {
                let ack = serde_json::json!({
                    "user_id": principal.user_id,
                    "session_id": principal.session_id,
                });
                outbound
                    .reply(frames::encode("auth.ack", Some(id), ack))
                    .await;
            }
            Some((principal, device_id))
        }
        Err(error) => refuse(frames::api_error(id, &error)),
    }
}

/// The only writer of the socket: queued replies and pushes, pings every
/// [`PING_EVERY`] (closing an idle connection), and finally the close. Not an `async
/// fn`, for the same reason as [`serve`].
fn write(
    mut sink: SplitSink<WebSocket, Message>,
    queued: Queued,
    activity: Arc<Activity>,
    ended: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let ended = ended.drop_guard();
    let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    async move {
        // Tells the reader when the writer ends, however it ends.
        let _ended = ended;
        let close = loop {
            let message = tokio::select! {
                biased;
                next = queued.next() => match next {
                    Next::Frame(frame) => Message::Text(frame),
                    Next::Close(close) => break close,
                },
                _ = pings.tick() => {
                    if activity.idle_for() >= IDLE_TIMEOUT {
                        tracing::debug!("closing an idle connection");
                        break Some(Close::new(code::IDLE, "idle timeout"));
                    }
                    Message::Ping(Default::default())
                }
            };
            match send(&mut sink, message, &queued).await {
                Sent::Written => {}
                Sent::Failed => return,
                Sent::Closing => break queued.close(),
            }
        };
        // Boxed: it happens once, and would otherwise take room for the whole life.
        Box::pin(finish(&mut sink, close)).await;
    }
}

enum Sent {
    Written,
    /// The socket failed, or the client stopped reading: drop it.
    Failed,
    /// A close was asked for meanwhile, and the frame did get written.
    Closing,
}

/// Writes one frame within [`WRITE_TIMEOUT`]. A close asked for meanwhile leaves the
/// frame [`CLOSE_WRITE_TIMEOUT`] to get through (a slow consumer's will not).
fn send<'a>(
    sink: &'a mut SplitSink<WebSocket, Message>,
    message: Message,
    queued: &'a Queued,
) -> impl Future<Output = Sent> + Send + 'a {
    // Made here, so the future holds the frame once.
    let mut sending = sink.send(message);
    async move {
        tokio::select! {
            biased;
            written = &mut sending => {
                return match written {
                    Ok(()) => Sent::Written,
                    Err(error) => {
                        tracing::debug!(%error, "cannot write to the socket");
                        Sent::Failed
                    }
                };
            }
            () = queued.closing() => {}
            () = tokio::time::sleep(WRITE_TIMEOUT) => {
                tracing::info!("cutting off a client that stopped reading");
                metrics::counter!(super::SLOW_CONSUMERS_METRIC).increment(1);
                return Sent::Failed;
            }
        }
        match tokio::time::timeout(CLOSE_WRITE_TIMEOUT, &mut sending).await {
            Ok(Ok(())) => Sent::Closing,
            _ => Sent::Failed,
        }
    }
}

/// Writes the close's last frame and the close frame, each bounded in time.
async fn finish(sink: &mut SplitSink<WebSocket, Message>, close: Option<Close>) {
    if let Some(close) = close {
        if let Some(frame) = close.last_frame {
            let _ =
                tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.send(Message::Text(frame))).await;
        }
        let frame = CloseFrame {
            code: close.code,
            reason: close.reason.into(),
        };
        let _ =
            tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.close()).await;
}

/// How long a new connection waits for presence to know its device.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);

/// Tells presence about this device before the client's first frame is served. A client
/// connects and then syncs; a message stored after that sync is found only by pushes,
/// which are routed by presence, so presence must already know the device. The matching
/// disconnect is queued by the hub only after this socket's frames are done, so it can
/// never overtake this. Bounded, and a failure only logs (the next heartbeat re-records
/// the device): presence being down never blocks a connection (DESIGN.md section 6).
async fn announce(live: &Live, device: DeviceRef) {
    let sent = live.hub.reports().connected(device);
    match tokio::time::timeout(ANNOUNCE_WAIT, sent).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            tracing::warn!("presence reports are backed up; a new device waits for the heartbeat")
        }
        Err(_) => tracing::warn!("presence did not answer for a new device in time"),
    }
}
