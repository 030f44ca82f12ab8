//! Identity: users, credentials, sessions and tokens (issue, renew, verify, revoke), signing keys and JWKS, bans, roles and policies.
//!
//! Owns the `identity` database (`sqlite://<data_dir>/identity.db` embedded, `im_identity` on MySQL).

mod adapters;

use adapters::sql::Migrator;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::Identity;

/// Connects the service's adapters, migrates its database and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    Ok(Service::new(NAME).with_database(db))
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}
