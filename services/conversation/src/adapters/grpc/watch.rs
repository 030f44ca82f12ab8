//! `WatchMembership`: replays the membership log after the caller's version, then follows
//! new changes (woken by local commits, polling for other instances'), as one stream.

use super::status::to_status;
use crate::adapters::wire;
use crate::app::App;
use crate::ports::Ports;
use futures::Stream;
use im_contracts::v1 as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// Entries read per round.
const BATCH: u64 = 500;
/// Events buffered for a slow reader before the feed waits for it.
const BUFFER: usize = 256;

pub type MembershipStream =
    Pin<Box<dyn Stream<Item = Result<pb::MembershipEvent, Status>> + Send + 'static>>;

pub fn watch<P: Ports>(
    app: Arc<App<P>>,
    from_version: u64,
    stop: CancellationToken,
) -> MembershipStream {
    let (events, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(feed(app, from_version, events, stop));
    Box::pin(ReceiverStream::new(receiver))
}

type Events = mpsc::Sender<Result<pb::MembershipEvent, Status>>;

async fn feed<P: Ports>(app: Arc<App<P>>, from: u64, events: Events, stop: CancellationToken) {
    let poll = app.settings().watch_poll_interval;
    let mut after = from;
    loop {
        // Listen before reading, so a commit between the read and the wait wakes us.
        let changed = app.membership_changed().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let feed = match app.membership_since(after, BATCH).await {
            Ok(feed) => feed,
            Err(error) => {
                let _closed = events.send(Err(to_status(error))).await;
                return;
            }
        };
        let mut more = feed.entries.len() as u64 == BATCH;
        if let Some(version) = feed.reset_to {
            if events.send(Ok(wire::reset_event(version))).await.is_err() {
                return;
            }
            after = version;
            more = true;
        }
        for entry in &feed.entries {
            if events
                .send(Ok(wire::membership_event(entry)))
                .await
                .is_err()
            {
                return;
            }
            after = entry.version;
        }
        if more {
            continue;
        }
        tokio::select! {
            () = &mut changed => {}
            () = tokio::time::sleep(poll) => {}
            () = events.closed() => return,
            () = stop.cancelled() => return,
        }
    }
}
