//! Presence: which devices of which users are connected to which gateway node; online
//! status and last seen. Its state lives in the kv store, so it expires on its own when
//! a gateway node dies without reporting.

use im_runtime::health::KvCheck;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::Presence;

/// Connects the service's adapters and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    Ok(Service::new(NAME).with_check(KvCheck(ctx.infra.kv.clone())))
}
