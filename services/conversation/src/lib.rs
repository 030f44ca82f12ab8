//! Conversation: contacts, friend requests, blocks, direct and group conversations, members and their roles, group settings. It decides who may talk to whom.
//!
//! Owns the `conversation` database (`sqlite://<data_dir>/conversation.db` embedded, `im_conversation` on MySQL).

mod adapters;

use adapters::sql::Migrator;
use im_runtime::{Service, ServiceContext, ServiceName};

const NAME: ServiceName = ServiceName::Conversation;

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
