//! Telling presence which devices this node holds: ConnectDevice when a session's first
//! socket opens and DisconnectDevice when its last one closes, both through one queue
//! sent in order, and a Heartbeat listing every device every [`HEARTBEAT_EVERY`], which
//! also repairs reports that were lost. A new socket waits for its ConnectDevice to be
//! sent before its frames are served (see `connection::announce`), so a client's first
//! sync never races its registration. One queue, because a session that reconnects at
//! once (its old socket's close and its new socket's open a moment apart) must reach
//! presence as disconnect-then-connect: the other way round it would be offline.
//!
//! Presence being down never affects a connection (DESIGN.md section 6): reports are
//! queued without waiting, failures logged, and a full queue drops reports (the next
//! heartbeat re-records connected devices; a lost disconnect expires with its TTL).

use crate::presence::Presence;
use crate::ws::hub::Hub;
use im_contracts::v1::{
    ConnectDeviceRequest, DeviceRef, DisconnectDeviceRequest, HeartbeatRequest,
};
use im_runtime::ServiceName;
use im_runtime::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How often the node lists its devices to presence (their TTL is presence's default,
/// 30 s).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// The first heartbeat, once the node had time to register its Push address.
const FIRST_HEARTBEAT_AFTER: Duration = Duration::from_secs(1);
/// Presence takes at most this many devices per heartbeat.
const DEVICES_PER_HEARTBEAT: usize = 10_000;
/// Reports waiting for presence before new ones are dropped.
const REPORT_QUEUE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    Connected(DeviceRef),
    Disconnected(DeviceRef),
}

/// A queued change, and whom to tell once it was sent (or failed).
pub type QueuedChange = (DeviceChange, Option<oneshot::Sender<()>>);

/// The queue of device changes, written by the hub and by new connections.
#[derive(Clone)]
pub struct DeviceReports(mpsc::Sender<QueuedChange>);

impl DeviceReports {
    pub fn channel() -> (Self, mpsc::Receiver<QueuedChange>) {
        let (sender, receiver) = mpsc::channel(REPORT_QUEUE);
        (Self(sender), receiver)
    }

    pub fn disconnected(&self, device: DeviceRef) {
        self.send(DeviceChange::Disconnected(device), None);
    }

    /// Queues a new device; the receiver fires once presence was told (or could not
    /// be), or at once when the queue is full.
    pub fn connected(&self, device: DeviceRef) -> oneshot::Receiver<()> {
        let (done, sent) = oneshot::channel();
        self.send(DeviceChange::Connected(device), Some(done));
        sent
    }

    fn send(&self, change: DeviceChange, done: Option<oneshot::Sender<()>>) {
        if let Err(mpsc::error::TrySendError::Full((change, _))) = self.0.try_send((change, done)) {
            tracing::warn!(?change, "presence reports are backed up; dropping one");
        }
    }
}

/// Sends the queued device changes to presence, one at a time, in order.
pub fn spawn_reporter(
    presence: Presence,
    mut changes: mpsc::Receiver<QueuedChange>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some((change, done)) = changes.recv().await {
            let reported =
                match &change {
                    DeviceChange::Connected(device) => {
                        presence
                            .call(
                                ConnectDeviceRequest {
                                    device: Some(device.clone()),
                                    ttl_s: 0,
                                },
                                |mut client, request| async move {
                                    client.connect_device(request).await
                                },
                            )
                            .await
                            .map(drop)
                    }
                    DeviceChange::Disconnected(device) => {
                        presence
                            .call(
                                DisconnectDeviceRequest {
                                    device: Some(device.clone()),
                                },
                                |mut client, request| async move {
                                    client.disconnect_device(request).await
                                },
                            )
                            .await
                            .map(drop)
                    }
                };
            if let Some(done) = done {
                let _ = done.send(()); // the connection may have stopped waiting
            }
            if let Err(status) = reported {
                tracing::warn!(?change, code = ?status.code(), message = status.message(), "cannot report a device to presence");
            }
        }
    })
}

/// Lists this node's devices to presence every [`HEARTBEAT_EVERY`].
pub fn spawn_heartbeat(
    presence: Presence,
    hub: Arc<Hub>,
    registry: Arc<dyn Registry>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + FIRST_HEARTBEAT_AFTER;
        let mut ticks = tokio::time::interval_at(start, HEARTBEAT_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(push_addr) = push_addr(registry.as_ref(), hub.node_id()).await else {
                tracing::debug!("no Push address registered yet; heartbeat skipped");
                continue;
            };
            heartbeat(&presence, &hub, &push_addr).await;
        }
    })
}

async fn heartbeat(presence: &Presence, hub: &Hub, push_addr: &str) {
    let devices = hub.devices();
    // An empty heartbeat still announces the node (delivery pushes to every live node
    // when presence cannot locate devices).
    let batches: Vec<Vec<DeviceRef>> = if devices.is_empty() {
        vec![Vec::new()]
    } else {
        devices
            .chunks(DEVICES_PER_HEARTBEAT)
            .map(<[DeviceRef]>::to_vec)
            .collect()
    };
    for devices in batches {
        let request = HeartbeatRequest {
            node_id: hub.node_id().to_owned(),
            push_addr: push_addr.to_owned(),
            devices,
            ttl_s: 0,
        };
        let beat = presence
            .call(request, |mut client, request| async move {
                client.heartbeat(request).await
            })
            .await;
        if let Err(status) = beat {
            tracing::warn!(code = ?status.code(), message = status.message(), "presence heartbeat failed");
            return;
        }
    }
}

/// Where this node's Push service is reachable: its gateway instance in the registry,
/// which `im serve` registers as `<node_id>/gateway`.
async fn push_addr(registry: &dyn Registry, node_id: &str) -> Option<String> {
    let instance_id = format!("{node_id}/{}", ServiceName::Gateway.as_str());
    match registry.resolve(ServiceName::Gateway).await {
        Ok(instances) => instances
            .into_iter()
            .find(|instance| instance.id == instance_id)
            .map(|instance| instance.endpoint),
        Err(error) => {
            tracing::warn!(%error, "cannot resolve this node's Push address");
            None
        }
    }
}
