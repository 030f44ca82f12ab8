//! Presence: which devices of which users are connected to which gateway node; online
//! status and last seen. Its state lives in the kv store (`memory://` or Redis) with
//! expiries, so a gateway node that dies without reporting loses its devices on its own.
//!
//! Hexagonal: `domain` (pure rules), `app` (use cases over `ports`), `adapters` (gRPC in;
//! kv store, bus events and clock out). Serves `im.v1.Presence`; publishes
//! `im.v1.PresenceChanged` on [`PRESENCE_EVENTS`] once per user transition between
//! online and offline; a background sweeper announces and forgets expired connections.

mod adapters;
mod app;
mod domain;
mod ports;
mod settings;

pub use settings::Settings;

use adapters::clock::SystemClock;
use adapters::events::BusEvents;
use adapters::grpc::PresenceGrpc;
use adapters::kv_store::KvPresenceStore;
use app::App;
use im_contracts::v1::presence_server::PresenceServer;
use im_runtime::health::KvCheck;
use im_runtime::{Service, ServiceContext, ServiceName};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const NAME: ServiceName = ServiceName::Presence;

pub use im_contracts::topics::PRESENCE_EVENTS;

/// The adapters the service runs on.
struct Production;

impl ports::Ports for Production {
    type Store = KvPresenceStore;
    type Events = BusEvents;
    type Clock = SystemClock;
}

/// Connects the service's adapters and returns it ready to serve, with the default
/// [`Settings`].
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    build_with_settings(ctx, Settings::default()).await
}

/// [`build`] with explicit settings. Starts the sweeper; it stops when the service is
/// dropped.
pub async fn build_with_settings(
    ctx: &ServiceContext,
    settings: Settings,
) -> anyhow::Result<Service> {
    let kv = ctx.infra.kv.clone();
    let store = KvPresenceStore::new(kv.clone(), &settings);
    let events = BusEvents::new(ctx.infra.bus.clone());
    let app = Arc::new(App::<Production>::new(store, events, SystemClock, settings));
    let stop = CancellationToken::new();
    tokio::spawn(sweep_regularly(app.clone(), stop.child_token()));
    Ok(ctx
        .service(NAME)
        .with_check(KvCheck(kv))
        .with_grpc(PresenceServer::new(PresenceGrpc::new(app, stop))))
}

/// Sweeps expired connections until stopped.
async fn sweep_regularly(app: Arc<App<Production>>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(app.settings().sweep_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = app.sweep().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot sweep expired presence"
            );
        }
    }
}
