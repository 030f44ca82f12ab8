//! Keeps the [`Denylist`] current: identity's snapshot at start (retried until identity
//! answers) and every [`SNAPSHOT_INTERVAL`], plus identity's events from the bus in
//! between, so a revocation reaches this gateway within a second. The same events
//! announce changed access rules, which [`AccessFeed`] then reloads.

use super::denylist::Denylist;
use crate::authz::AccessFeed;
use crate::identity::Identity;
use im_contracts::topics::IDENTITY_EVENTS;
use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::{GetDenylistRequest, IdentityEvent};
use im_runtime::bus::{Bus, Subscription};
use im_runtime::resilience::idempotent;
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the whole denylist is reloaded, repairing anything an event missed.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(30);
/// Waits between attempts while identity or the bus is unreachable.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Background tasks that stop when the last holder of this guard is dropped.
#[derive(Default)]
pub struct BackgroundTasks(Vec<JoinHandle<()>>);

impl BackgroundTasks {
    pub fn push(&mut self, task: JoinHandle<()>) {
        self.0.push(task);
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(RETRY_MAX)
}

/// Loads identity's snapshot now and every [`SNAPSHOT_INTERVAL`].
pub fn spawn_snapshots(identity: Identity, denylist: Arc<Denylist>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = RETRY_MIN;
        loop {
            let loaded = identity
                .call(GetDenylistRequest {}, |mut client, request| async move {
                    client.get_denylist(idempotent(request)).await
                })
                .await;
            let wait = match loaded {
                Ok(snapshot) => {
                    denylist.load(&snapshot);
                    tracing::debug!(
                        bans = snapshot.bans.len(),
                        ip_blocks = snapshot.ip_blocks.len(),
                        revoked_sessions = snapshot.revoked_sessions.len(),
                        "denylist loaded"
                    );
                    backoff = RETRY_MIN;
                    SNAPSHOT_INTERVAL
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "cannot load the denylist");
                    let wait = backoff;
                    backoff = next_backoff(backoff);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
            denylist.prune();
        }
    })
}

/// Applies identity's events as consumer group `group` (one group per gateway node, so
/// every node sees every event), committing each once applied.
pub fn spawn_events(
    bus: Arc<dyn Bus>,
    group: String,
    denylist: Arc<Denylist>,
    access: AccessFeed,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = RETRY_MIN;
        loop {
            match bus.subscribe(IDENTITY_EVENTS, &group).await {
                Ok(subscription) => {
                    backoff = RETRY_MIN;
                    consume(subscription, &denylist, &access).await;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "cannot subscribe to identity events");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff);
        }
    })
}

/// Returns when the subscription fails.
async fn consume(
    mut subscription: Box<dyn Subscription>,
    denylist: &Denylist,
    access: &AccessFeed,
) {
    loop {
        let delivery = match subscription.next().await {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(%error, "identity events interrupted");
                return;
            }
        };
        match IdentityEvent::decode(&delivery.record.payload[..]) {
            Ok(IdentityEvent {
                kind: Some(Kind::AccessChanged(changed)),
                ..
            }) => {
                tracing::debug!(user_id = %changed.user_id, "access rules changed");
                access.request_reload();
            }
            Ok(event) => denylist.apply(&event),
            // A record nobody can read would block the stream forever: skip it.
            Err(error) => {
                tracing::error!(%error, offset = delivery.offset, "unreadable identity event")
            }
        }
        if let Err(error) = subscription.commit(&delivery).await {
            tracing::warn!(%error, "cannot commit identity event");
            return;
        }
    }
}
