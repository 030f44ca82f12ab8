//! File: uploads and downloads, object storage, size and type policy, access checks.
//!
//! Owns the `file` database (`sqlite://<data_dir>/file.db` embedded, `im_file` on MySQL) and the
//! objects in the configured object store.

mod adapters;

use adapters::sql::Migrator;
use im_runtime::health::ObjectStoreCheck;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::File;

/// Connects the service's adapters, migrates its database and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    Ok(ctx
        .service(NAME)
        .with_database(db)
        .with_check(ObjectStoreCheck(ctx.infra.objects.clone())))
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}
