//! Media signaling: call sessions (invite, ring, accept, reject, cancel, hang up, time
//! out, busy), SDP and ICE relay between the parties, and short-lived TURN credentials.
//! Call state is ephemeral and lives in the kv store.

use im_runtime::grpc::DownstreamCheck;
use im_runtime::health::KvCheck;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::MediaSignal;

/// Connects the service's adapters and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    let clients = ctx.clients();
    Ok(ctx
        .service(NAME)
        .with_check(KvCheck(ctx.infra.kv.clone()))
        .with_check(DownstreamCheck::new(clients, ServiceName::Presence)))
}
