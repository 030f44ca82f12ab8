//! The one place that knows every service crate: building them by name and migrating
//! their databases.

use anyhow::Context as _;
use im_runtime::{Config, Infra, Service, ServiceContext, ServiceName};
use std::sync::Arc;

/// A built service; the gateway also brings the public HTTP application.
pub enum Built {
    Service(Service),
    Gateway(Box<im_gateway::Gateway>),
}

pub async fn build(name: ServiceName, ctx: &ServiceContext) -> anyhow::Result<Built> {
    let service = match name {
        ServiceName::Gateway => {
            return Ok(Built::Gateway(Box::new(im_gateway::build(ctx).await?)));
        }
        ServiceName::Identity => im_identity::build(ctx).await?,
        ServiceName::Conversation => im_conversation::build(ctx).await?,
        ServiceName::Message => im_message::build(ctx).await?,
        ServiceName::Delivery => im_delivery::build(ctx).await?,
        ServiceName::Presence => im_presence::build(ctx).await?,
        ServiceName::File => im_file::build(ctx).await?,
        ServiceName::MediaSignal => im_media_signal::build(ctx).await?,
    };
    Ok(Built::Service(service))
}

/// Connects every port to the adapter its URL names: the distributed bus and registry
/// adapters here (their crates link librdkafka and an etcd client, which only this
/// binary needs), the others in `im-runtime`.
///
/// The adapters' connect futures are boxed: nested in `serve` and `run` unboxed, their
/// state machines grow past what the compiler lays out in a release build.
pub async fn infra(config: &Config) -> anyhow::Result<Infra> {
    let bus = match config.bus.url.scheme() {
        "kafka" => Box::pin(im_bus_kafka::connect(&config.bus.url)).await,
        _ => Box::pin(im_runtime::bus::connect(&config.bus.url)).await,
    }
    .with_context(|| format!("bus at {}", config.bus.url))?;
    let registry = match config.registry.url.scheme() {
        "etcd" => Box::pin(im_registry_etcd::connect(&config.registry)).await,
        _ => im_runtime::registry::connect(&config.registry),
    }
    .with_context(|| format!("registry at {}", config.registry.url))?;
    Box::pin(Infra::assemble(config, bus, registry)).await
}

/// A context for one-off commands (migrate, admin) on the configured adapters.
pub async fn context(config: Config) -> anyhow::Result<ServiceContext> {
    let infra = infra(&config).await?;
    Ok(ServiceContext::new(Arc::new(config), infra))
}

/// Migrates the database of every selected service that owns one.
pub async fn migrate(config: Config, services: &[ServiceName]) -> anyhow::Result<()> {
    let ctx = context(config).await?;
    for &name in services {
        let migrated = match name {
            ServiceName::Identity => im_identity::migrate(&ctx).await,
            ServiceName::Conversation => im_conversation::migrate(&ctx).await,
            ServiceName::Message => im_message::migrate(&ctx).await,
            ServiceName::File => im_file::migrate(&ctx).await,
            ServiceName::Gateway
            | ServiceName::Delivery
            | ServiceName::Presence
            | ServiceName::MediaSignal => continue,
        };
        migrated.with_context(|| format!("migrate {name}"))?;
        let url = ctx.config.database_url(name);
        tracing::info!(service = %name, database = %url, "migrated");
    }
    Ok(())
}
