//! The local view of every registered instance, which `resolve` answers from without a
//! network round trip: filled by one prefix read, then kept current by a watch from the
//! next revision. When the watch breaks, the view is read again and a new watch starts,
//! with jittered backoff; meanwhile, and for as long as etcd stays unreachable, the last
//! known view keeps being served rather than an empty one.

use crate::backoff::Backoff;
use crate::record::Layout;
use crate::{unavailable, within};
use etcd_client::{Client, Event, EventType, GetOptions, KeyValue, WatchOptions, WatchStream};
use im_runtime::ServiceName;
use im_runtime::registry::{Instance, RegistryError};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::timeout;

/// Instances by service, then by id: iteration order is the stable order resolve promises.
type Instances = BTreeMap<ServiceName, BTreeMap<String, Instance>>;

pub struct View {
    layout: Layout,
    instances: RwLock<Instances>,
    /// The etcd revision the view reflects, so a writer can wait to read its own write.
    revision: watch::Sender<i64>,
}

impl View {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            instances: RwLock::default(),
            revision: watch::Sender::new(0),
        }
    }

    /// The known instances of `service`, sorted by id.
    pub fn instances(&self, service: ServiceName) -> Vec<Instance> {
        let instances = self.instances.read().unwrap_or_else(|p| p.into_inner());
        instances
            .get(&service)
            .map(|by_id| by_id.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Waits until the view reflects `revision` (a write this process made), at most
    /// `within`. False when the watch is lagging or broken.
    pub async fn caught_up(&self, revision: i64, within: Duration) -> bool {
        let mut seen = self.revision.subscribe();
        matches!(
            timeout(within, seen.wait_for(|seen| *seen >= revision)).await,
            Ok(Ok(_))
        )
    }

    /// Replaces the view with a fresh read of the whole prefix; returns its revision.
    pub async fn relist(&self, client: &Client) -> Result<i64, RegistryError> {
        let options = GetOptions::new().with_prefix();
        let response = within(client.kv_client().get(self.layout.root(), Some(options)))
            .await
            .map_err(|e| unavailable("read", e))?;
        let revision = response.header().map_or(0, |header| header.revision());
        let mut fresh = Instances::new();
        for kv in response.kvs() {
            if let Some(instance) = self.decode(kv) {
                fresh
                    .entry(instance.service)
                    .or_default()
                    .insert(instance.id.clone(), instance);
            }
        }
        *self.instances.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.advance(revision);
        Ok(revision)
    }

    fn apply(&self, events: &[Event]) {
        let mut instances = self.instances.write().unwrap_or_else(|p| p.into_inner());
        let mut revision = 0;
        for event in events {
            let Some(kv) = event.kv() else { continue };
            revision = revision.max(kv.mod_revision());
            let Some((service, id)) = std::str::from_utf8(kv.key())
                .ok()
                .and_then(|key| self.layout.service_and_id(key))
            else {
                continue;
            };
            let by_id = instances.entry(service).or_default();
            // A put this version cannot read replaces what was there: never serve stale.
            match (event.event_type(), self.decode(kv)) {
                (EventType::Put, Some(instance)) => {
                    by_id.insert(id.to_owned(), instance);
                }
                _ => {
                    by_id.remove(id);
                }
            }
        }
        drop(instances);
        self.advance(revision);
    }

    fn decode(&self, kv: &KeyValue) -> Option<Instance> {
        let instance = self.layout.decode(kv.key(), kv.value());
        if instance.is_none() {
            tracing::debug!(key = %String::from_utf8_lossy(kv.key()), "ignoring an unreadable registry entry");
        }
        instance
    }

    fn advance(&self, revision: i64) {
        self.revision.send_if_modified(|seen| {
            let newer = revision > *seen;
            *seen = (*seen).max(revision);
            newer
        });
    }
}

/// Keeps `view` current from `revision` on, forever: the task behind a registry handle.
pub async fn follow(client: Client, view: Arc<View>, mut revision: i64) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut outage = false;
    loop {
        let ended = watch_from(&client, &view, revision + 1, &mut backoff, &mut outage).await;
        match ended {
            Ok(reason) => tracing::info!(reason, "registry watch ended; reading the view again"),
            Err(error) if !outage => {
                outage = true;
                tracing::warn!(%error, "registry watch lost; serving the last known instances until etcd answers");
            }
            Err(error) => tracing::debug!(%error, "registry watch still failing"),
        }
        loop {
            tokio::time::sleep(backoff.next_delay()).await;
            match view.relist(&client).await {
                Ok(listed) => {
                    revision = listed;
                    break;
                }
                Err(error) if !outage => {
                    outage = true;
                    tracing::warn!(%error, "registry read failed; serving the last known instances until etcd answers");
                }
                Err(error) => tracing::debug!(%error, "registry read still failing"),
            }
        }
    }
}

/// Applies watch events until the watch ends; `Ok` carries why etcd ended it.
async fn watch_from(
    client: &Client,
    view: &View,
    start: i64,
    backoff: &mut Backoff,
    outage: &mut bool,
) -> Result<&'static str, RegistryError> {
    let options = WatchOptions::new().with_prefix().with_start_revision(start);
    let mut stream: WatchStream = within(
        client
            .watch_client()
            .watch(view.layout.root(), Some(options)),
    )
    .await
    .map_err(|e| unavailable("watch", e))?;
    loop {
        let Some(response) = stream
            .message()
            .await
            .map_err(|e| unavailable("watch", e))?
        else {
            return Ok("stream closed");
        };
        if response.created() {
            backoff.reset();
            if std::mem::take(outage) {
                tracing::info!("registry watch restored");
            }
        }
        if response.canceled() {
            // Typically a compacted start revision: only a fresh read can recover.
            return Ok("watch canceled by etcd");
        }
        view.apply(response.events());
    }
}
