//! Message: messages, per-conversation sequence numbers, history, read cursors, recall
//! and edit, delete-for-me, sync, and the system messages conversation changes leave.
//!
//! Owns the `message` database (`sqlite://<data_dir>/message.db` embedded, `im_message`
//! on MySQL). Hexagonal: `domain` (pure rules), `app` (use cases over `ports`),
//! `adapters` (gRPC and the conversation-event consumer in; SQL, outbox records, the
//! conversation service's membership answers and the clock out). Serves
//! `im.v1.MessageService`; publishes `im.v1.MessageEvent` on the bus through the
//! runtime's transactional outbox, keyed by conversation; consumes
//! `im.v1.ConversationEvent` into system messages.
//!
//! The guarantees (DESIGN.md §4): each conversation's seqs are gapless from 1, taken in
//! the transaction that stores the message together with its outbox event; a send is
//! idempotent on (conversation, sender, client message id); the reply comes after the
//! commit.

mod adapters;
mod app;
mod domain;
mod ports;
mod settings;

pub use domain::{ConversationId, ConversationKind, Role, SendCheck, UserId};
pub use im_runtime::outbox::RelaySettings;
pub use ports::{Clock, Membership, MembershipError};
pub use settings::Settings;

use adapters::clock::SystemClock;
use adapters::conversation_events;
use adapters::grpc::MessageGrpc;
use adapters::membership::ConversationMembership;
use adapters::sql::{Migrator, SqlStore};
use app::App;
use im_contracts::v1::message_service_server::MessageServiceServer;
use im_runtime::grpc::DownstreamCheck;
use im_runtime::health::BusCheck;
use im_runtime::outbox::Relay;
use im_runtime::{Service, ServiceContext, ServiceName};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const NAME: ServiceName = ServiceName::Message;

/// Outbound adapters that replace the defaults (the conversation service over gRPC, the
/// system clock), for tests and embedders.
#[derive(Default, Clone)]
pub struct Adapters {
    pub membership: Option<Arc<dyn Membership>>,
    pub clock: Option<Arc<dyn Clock>>,
}

/// The adapters the service runs on.
struct Production;

impl ports::Ports for Production {
    type Store = SqlStore;
    type Membership = Arc<dyn Membership>;
    type Clock = Arc<dyn Clock>;
}

/// Connects the service's adapters, migrates its database and returns it ready to serve,
/// with the default [`Settings`].
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    build_with(ctx, Settings::default(), Adapters::default()).await
}

/// [`build`] with explicit settings and adapters. Starts the outbox relay and the
/// conversation-event consumer; they stop when the service is dropped.
pub async fn build_with(
    ctx: &ServiceContext,
    settings: Settings,
    adapters: Adapters,
) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    let relay = Relay::new(db.clone(), ctx.infra.bus.clone(), settings.outbox.clone());
    let store = SqlStore::new(db.clone(), relay.waker());
    let clients = ctx.clients();
    let membership = adapters.membership.unwrap_or_else(|| {
        Arc::new(ConversationMembership::new(
            clients.clone(),
            settings.conversation_deadline,
        ))
    });
    let clock = adapters.clock.unwrap_or_else(|| Arc::new(SystemClock));
    let app = Arc::new(App::<Production>::new(store, membership, clock, settings));
    let stop = CancellationToken::new();
    tokio::spawn(relay.run(stop.child_token()));
    tokio::spawn(conversation_events::consume(
        ctx.infra.bus.clone(),
        app.clone(),
        stop.child_token(),
    ));
    Ok(ctx
        .service(NAME)
        .with_database(db)
        .with_check(BusCheck(ctx.infra.bus.clone()))
        .with_check(DownstreamCheck::new(clients, ServiceName::Conversation))
        .with_grpc(MessageServiceServer::new(MessageGrpc::new(app, stop))))
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}
