//! Message: messages, per-conversation sequence numbers, history, read cursors, recall and edit, and the outbox that feeds the bus.
//!
//! Owns the `message` database (`sqlite://<data_dir>/message.db` embedded, `im_message` on MySQL).

mod adapters;

use adapters::sql::Migrator;
use im_runtime::health::BusCheck;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::Message;

/// Connects the service's adapters, migrates its database and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    Ok(Service::new(NAME)
        .with_database(db)
        .with_check(BusCheck(ctx.infra.bus.clone())))
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}
