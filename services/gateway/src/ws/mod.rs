//! The live side of the gateway: the WebSocket edge (`GET /api/v1/ws`, frames as
//! docs/PROTOCOL.md describes them), the hub of this node's connections, the internal
//! `Push` gRPC service through which delivery reaches them, and what keeps the rest of
//! the system informed (presence reports) and the sockets honest (revocations, presence
//! changes).
//!
//! - [`upgrade`]: the route and its authentication; [`connection`]: one socket's reader
//!   and writer; [`outbound`]: the bounded way into a socket; [`frames`]: the wire
//!   format; [`handlers`]: what each client frame does; [`rate_limit`]: frames per
//!   connection;
//! - [`hub`]: the connections of this node; [`push`]: the Push service;
//! - [`presence_report`], [`presence_feed`], [`revocation`]: background work;
//!   [`shutdown`]: closing every socket when the node stops.

mod connection;
mod frames;
mod handlers;
mod hub;
mod outbound;
mod presence_feed;
mod presence_report;
mod push;
mod rate_limit;
mod revocation;
mod shutdown;
mod upgrade;

pub use hub::Hub;
pub use push::PushService;
pub use upgrade::router;

use crate::auth::Denylist;
use crate::delivery::Delivery;
use crate::message::Message;
use crate::presence::Presence;
use crate::throttle::EdgeLimits;
use im_runtime::ServiceContext;
use im_runtime::grpc::Clients;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Gauge: open WebSocket connections on this node.
pub const CONNECTIONS_METRIC: &str = "im_gateway_ws_connections";
/// Counter: frames queued for sockets by the Push service.
pub const PUSHED_METRIC: &str = "im_gateway_ws_pushed_frames_total";
/// Counter: connections cut off for not reading fast enough.
pub const SLOW_CONSUMERS_METRIC: &str = "im_gateway_ws_slow_consumers_total";

/// What every connection shares: this node's hub and the services frames call.
pub struct Live {
    pub hub: Arc<Hub>,
    /// Every socket from its upgrade on, authenticated or not: what stopping waits for.
    pub sockets: Arc<shutdown::OpenSockets>,
    /// The quotas of frames and of sending messages.
    pub limits: Arc<EdgeLimits>,
    pub message: Message,
    pub presence: Presence,
    pub delivery: Delivery,
}

/// Builds the live side and starts its background work: device reports and heartbeats
/// to presence, presence changes to subscribers, revocations to sockets. The tasks run
/// until their handles are aborted.
pub fn start(
    ctx: &ServiceContext,
    clients: Clients,
    denylist: Arc<Denylist>,
    limits: Arc<EdgeLimits>,
) -> (Arc<Live>, Vec<JoinHandle<()>>) {
    // Subscribed before any socket can open: no revocation is missed.
    let revocations = denylist.subscribe();
    let (reports, changes) = presence_report::DeviceReports::channel();
    let hub = Arc::new(Hub::new(ctx.config.node_id.clone(), reports));
    let presence = Presence::new(clients.clone());
    let tasks = vec![
        presence_report::spawn_reporter(presence.clone(), changes),
        presence_report::spawn_heartbeat(presence.clone(), hub.clone(), ctx.infra.registry.clone()),
        presence_feed::spawn(ctx.infra.bus.clone(), hub.clone()),
        revocation::spawn(revocations, denylist, hub.clone()),
    ];
    let live = Live {
        hub,
        sockets: Arc::default(),
        limits,
        message: Message::new(clients.clone()),
        presence,
        delivery: Delivery::new(clients),
    };
    (Arc::new(live), tasks)
}
