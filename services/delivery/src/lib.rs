//! Delivery: fans message, receipt and membership events out to the gateway nodes that
//! hold the recipients' connections. Stateless apart from a cache of members.
//!
//! Hexagonal: `domain` (audiences, routing per node, the member cache), `app` (use cases
//! over `ports`), `adapters` (in: the bus consumers with the event-to-frame translation,
//! and `im.v1.Delivery` for ephemeral frames; out: conversation for members, presence
//! for devices, the registry and each gateway node's `im.v1.Push`). Consumes
//! `im.v1.MessageEvent` and `im.v1.ConversationEvent` in consumer group `delivery`.
//! With presence down it pushes to every gateway node (DESIGN §6).

mod adapters;
mod app;
mod domain;
mod ports;
mod settings;

pub use settings::Settings;

use adapters::consumer::{self, CONVERSATIONS, MESSAGES};
use adapters::conversation::GrpcConversations;
use adapters::gateways::RegistryGateways;
use adapters::grpc::DeliveryGrpc;
use adapters::presence::GrpcPresence;
use app::App;
use im_contracts::v1::delivery_server::DeliveryServer;
use im_runtime::grpc::DownstreamCheck;
use im_runtime::health::BusCheck;
use im_runtime::{Service, ServiceContext, ServiceName};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const NAME: ServiceName = ServiceName::Delivery;

/// The adapters the service runs on.
struct Production;

impl ports::Ports for Production {
    type Conversations = GrpcConversations;
    type Presence = GrpcPresence;
    type Gateways = RegistryGateways;
}

/// Connects the service's adapters and returns it ready to serve, with the default
/// [`Settings`].
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    build_with_settings(ctx, Settings::default()).await
}

/// [`build`] with explicit settings. Starts the consumers; they stop when the service
/// is dropped (which serving it does on shutdown).
pub async fn build_with_settings(
    ctx: &ServiceContext,
    settings: Settings,
) -> anyhow::Result<Service> {
    let clients = ctx.clients();
    let app = Arc::new(App::<Production>::new(
        GrpcConversations::new(clients.clone(), settings.lookup_timeout),
        GrpcPresence::new(clients.clone(), settings.lookup_timeout),
        RegistryGateways::new(
            ctx.infra.registry.clone(),
            ctx.infra.in_process.clone(),
            settings.push_timeout,
            &ctx.config.resilience,
        ),
        settings,
    ));
    let stop = CancellationToken::new();
    tokio::spawn(consumer::forget_on_membership_changes(
        ctx.infra.bus.clone(),
        app.clone(),
        ctx.config.node_id.clone(),
        stop.child_token(),
    ));
    for topic in [MESSAGES, CONVERSATIONS] {
        tokio::spawn(consumer::consume(
            ctx.infra.bus.clone(),
            app.clone(),
            topic,
            stop.child_token(),
        ));
    }
    let service = [
        ServiceName::Conversation,
        ServiceName::Presence,
        ServiceName::Gateway,
    ]
    .into_iter()
    .fold(
        ctx.service(NAME)
            .with_check(BusCheck(ctx.infra.bus.clone())),
        |service, downstream| service.with_check(DownstreamCheck::new(clients.clone(), downstream)),
    );
    Ok(service.with_grpc(DeliveryServer::new(DeliveryGrpc::new(app, stop))))
}
