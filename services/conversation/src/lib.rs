//! Conversation: contacts, friend requests, blocks, direct and group conversations,
//! members and their roles, group settings. It decides who may talk to whom.
//!
//! Owns the `conversation` database (`sqlite://<data_dir>/conversation.db` embedded,
//! `im_conversation` on MySQL). Hexagonal: `domain` (pure rules), `app` (use cases over
//! `ports`), `adapters` (gRPC and the message-event consumer in; SQL, outbox records and
//! the clock out). Serves `im.v1.ConversationService`; publishes `im.v1.ConversationEvent`
//! on the bus through the runtime's transactional outbox; consumes `im.v1.MessageEvent` to keep
//! each conversation's newest message and each member's unread count.

mod adapters;
mod app;
mod domain;
mod ports;
mod settings;

pub use domain::DirectPolicy;
pub use im_runtime::outbox::RelaySettings;
pub use settings::Settings;

use adapters::clock::SystemClock;
use adapters::grpc::ConversationGrpc;
use adapters::message_events;
use adapters::sql::{Migrator, SqlStore};
use app::App;
use im_contracts::v1::conversation_service_server::ConversationServiceServer;
use im_runtime::outbox::Relay;
use im_runtime::{Service, ServiceContext, ServiceName};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const NAME: ServiceName = ServiceName::Conversation;

/// The adapters the service runs on.
struct Production;

impl ports::Ports for Production {
    type Store = SqlStore;
    type Clock = SystemClock;
}

/// Connects the service's adapters, migrates its database and returns it ready to serve,
/// with the default [`Settings`].
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    build_with_settings(ctx, Settings::default()).await
}

/// [`build`] with explicit settings. Starts the outbox relay, the message-event
/// consumer and the membership log pruning; they stop when the service is dropped.
pub async fn build_with_settings(
    ctx: &ServiceContext,
    settings: Settings,
) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    let relay = Relay::new(db.clone(), ctx.infra.bus.clone(), settings.outbox.clone());
    let store = SqlStore::new(db.clone(), relay.waker());
    let app = Arc::new(App::<Production>::new(store, SystemClock, settings));
    let stop = CancellationToken::new();
    tokio::spawn(relay.run(stop.child_token()));
    tokio::spawn(message_events::consume(
        ctx.infra.bus.clone(),
        app.clone(),
        stop.child_token(),
    ));
    tokio::spawn(prune_regularly(app.clone(), stop.child_token()));
    Ok(ctx
        .service(NAME)
        .with_database(db)
        .with_grpc(ConversationServiceServer::new(ConversationGrpc::new(
            app, stop,
        ))))
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}

/// Keeps the membership log to its retention until stopped.
async fn prune_regularly(app: Arc<App<Production>>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(app.settings().maintenance_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = app.prune_membership_log().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot prune the membership log"
            );
        }
    }
}
