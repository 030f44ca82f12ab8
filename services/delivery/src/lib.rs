//! Delivery: fans message, receipt and membership events out to the gateway nodes that
//! hold the recipients' connections. Stateless; it consumes the bus and asks presence.

use im_runtime::grpc::{Clients, DownstreamCheck};
use im_runtime::health::BusCheck;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::Delivery;

/// Connects the service's adapters and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    let clients = Clients::new(ctx.infra.registry.clone());
    Ok(Service::new(NAME)
        .with_check(BusCheck(ctx.infra.bus.clone()))
        .with_check(DownstreamCheck::new(clients.clone(), ServiceName::Presence))
        .with_check(DownstreamCheck::new(clients, ServiceName::Gateway)))
}
