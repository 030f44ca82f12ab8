//! Identity: users, credentials, sessions and tokens (issue, renew, verify, revoke), signing keys and JWKS, bans, roles and policies.
//!
//! Owns the `identity` database (`sqlite://<data_dir>/identity.db` embedded, `im_identity` on MySQL).
//! Hexagonal: `domain` (pure rules), `app` (use cases over `ports`), `adapters` (gRPC in;
//! SQL, argon2, kv, bus and clock out). Serves `im.v1.Identity` and `im.v1.AccessControl`.

mod adapters;
pub mod admin;
mod app;
mod domain;
mod ports;
#[cfg(feature = "testing")]
pub mod testing;

use adapters::clock::SystemClock;
use adapters::counter::KvFailureCounter;
use adapters::events::BusEvents;
use adapters::grpc::IdentityGrpc;
use adapters::grpc_access::AccessControlGrpc;
use adapters::password::Argon2Hasher;
use adapters::sql::{Migrator, SqlStore};
use app::{App, Settings};
use im_contracts::v1::access_control_server::AccessControlServer;
use im_contracts::v1::identity_server::IdentityServer;
use im_runtime::health::KvCheck;
use im_runtime::{Service, ServiceContext, ServiceName};
use sea_orm::DatabaseConnection;
use std::sync::{Arc, Weak};
use std::time::Duration;

const NAME: ServiceName = ServiceName::Identity;

/// How often signing keys are reloaded, so a rotation by another process (another
/// instance, `im admin rotate-keys`) is picked up for signing.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// The adapters identity runs on.
struct Production;

impl ports::Ports for Production {
    type Store = SqlStore;
    type Hasher = Argon2Hasher;
    type Counter = KvFailureCounter;
    type Events = BusEvents<SystemClock>;
    type Clock = SystemClock;
}

/// Connects the service's adapters, migrates its database and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    build_with(ctx, Argon2Hasher::production().await?).await
}

/// Brings the service's database schema up to date (`im migrate`).
pub async fn migrate(ctx: &ServiceContext) -> anyhow::Result<()> {
    ctx.database::<Migrator>(NAME).await?.close().await?;
    Ok(())
}

async fn build_with(ctx: &ServiceContext, hasher: Argon2Hasher) -> anyhow::Result<Service> {
    let db = ctx.database::<Migrator>(NAME).await?;
    let app = Arc::new(new_app(ctx, db.clone(), hasher));
    app.load_keys().await?;
    tokio::spawn(reload_keys_regularly(Arc::downgrade(&app)));
    Ok(ctx
        .service(NAME)
        .with_database(db)
        .with_check(KvCheck(ctx.infra.kv.clone()))
        .with_grpc(IdentityServer::new(IdentityGrpc::new(app.clone())))
        .with_grpc(AccessControlServer::new(AccessControlGrpc::new(app))))
}

fn new_app(ctx: &ServiceContext, db: DatabaseConnection, hasher: Argon2Hasher) -> App<Production> {
    App::new(
        SqlStore::new(db),
        hasher,
        KvFailureCounter::new(ctx.infra.kv.clone()),
        BusEvents::new(ctx.infra.bus.clone(), SystemClock),
        SystemClock,
        Settings::from(&ctx.config.auth),
    )
}

/// Reloads the keys until the service is dropped.
async fn reload_keys_regularly(app: Weak<App<Production>>) {
    let mut ticks = tokio::time::interval(KEY_RELOAD_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(app) = app.upgrade() else {
            return;
        };
        if let Err(error) = app.reload_keys().await {
            tracing::warn!(error = format!("{error:#}"), "cannot reload signing keys");
        }
    }
}
