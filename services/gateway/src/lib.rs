//! Gateway: the public edge. REST and (later) WebSocket for clients, authentication and
//! authorization, rate limits, and the live connection hub of its node, which delivery
//! reaches through the internal Push service.

mod http;

use im_runtime::grpc::{Clients, DownstreamCheck};
use im_runtime::health::{Health, KvCheck};
use im_runtime::{Service, ServiceContext, ServiceName};

pub use http::ApiError;

const NAME: ServiceName = ServiceName::Gateway;

/// The services the gateway calls. Their health is reported by the gateway's `/readyz`
/// without making it unready: with identity down, existing sessions keep working
/// (DESIGN.md section 6), so the edge must stay in the load balancer.
const DOWNSTREAM: [ServiceName; 6] = [
    ServiceName::Identity,
    ServiceName::Conversation,
    ServiceName::Message,
    ServiceName::Presence,
    ServiceName::File,
    ServiceName::MediaSignal,
];

/// A built gateway: its gRPC side (Push, for delivery) and its public HTTP side.
pub struct Gateway {
    pub service: Service,
    pub http: PublicHttp,
}

/// The public REST (and later WebSocket) application of one gateway node.
pub struct PublicHttp {}

impl PublicHttp {
    /// The public HTTP application. `health` is this process's health, answered on
    /// `/healthz` and `/readyz` of the public port as well as on the admin listener.
    pub fn router(&self, health: Health) -> axum::Router {
        http::router(health)
    }
}

/// Connects the gateway's adapters and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Gateway> {
    let clients = Clients::new(ctx.infra.registry.clone());
    let service = DOWNSTREAM.into_iter().fold(
        Service::new(NAME).with_check(KvCheck(ctx.infra.kv.clone())),
        |service, downstream| service.with_check(DownstreamCheck::new(clients.clone(), downstream)),
    );
    Ok(Gateway {
        service,
        http: PublicHttp {},
    })
}
