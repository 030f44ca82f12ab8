//! What a service is to the runtime: a name, gRPC routes and readiness checks, built from
//! a [`ServiceContext`] that hands it configuration and the process's shared adapters.

use crate::bus::Bus;
use crate::config::Config;
use crate::grpc::Clients;
use crate::health::{DatabaseCheck, ReadinessCheck};
use crate::in_process::InProcess;
use crate::kv::Kv;
use crate::objects::ObjectStoreHandle;
use crate::registry::Registry;
use crate::resilience::ServerLimits;
use crate::{bus, db, kv, objects, registry};
use anyhow::Context as _;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use tonic::service::Routes;

/// The eight services of IM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    Gateway,
    Identity,
    Conversation,
    Message,
    Delivery,
    Presence,
    File,
    MediaSignal,
}

impl ServiceName {
    pub const ALL: [ServiceName; 8] = [
        Self::Gateway,
        Self::Identity,
        Self::Conversation,
        Self::Message,
        Self::Delivery,
        Self::Presence,
        Self::File,
        Self::MediaSignal,
    ];

    /// The name people type: `media-signal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Identity => "identity",
            Self::Conversation => "conversation",
            Self::Message => "message",
            Self::Delivery => "delivery",
            Self::Presence => "presence",
            Self::File => "file",
            Self::MediaSignal => "media-signal",
        }
    }

    /// The key in configuration, environment variables and database names: `media_signal`.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::MediaSignal => "media_signal",
            other => other.as_str(),
        }
    }

    /// The fully qualified gRPC service this service serves, as reported by gRPC health.
    pub fn grpc_service(self) -> &'static str {
        match self {
            Self::Gateway => "im.v1.Push",
            Self::Identity => "im.v1.Identity",
            Self::Conversation => "im.v1.ConversationService",
            Self::Message => "im.v1.MessageService",
            Self::Delivery => "im.v1.Delivery",
            Self::Presence => "im.v1.Presence",
            Self::File => "im.v1.File",
            Self::MediaSignal => "im.v1.Signal",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown service {0:?}; known: gateway, identity, conversation, message, delivery, presence, file, media-signal"
)]
pub struct UnknownService(String);

impl FromStr for ServiceName {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|name| name.as_str() == wanted)
            .ok_or_else(|| UnknownService(s.to_owned()))
    }
}

/// The adapters one process shares between the services it runs.
#[derive(Clone)]
pub struct Infra {
    pub kv: Arc<dyn Kv>,
    pub bus: Arc<dyn Bus>,
    pub registry: Arc<dyn Registry>,
    pub objects: ObjectStoreHandle,
    /// The services this process serves, for calls between them without a socket.
    pub in_process: InProcess,
}

impl Infra {
    /// Connects every port to the embedded or built-in adapter its configured URL names.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let bus = bus::connect(&config.bus.url).await.context("bus")?;
        let registry = registry::connect(&config.registry).context("registry")?;
        Self::assemble(config, bus, registry).await
    }

    /// Connects the remaining ports around a `bus` and `registry` that the caller
    /// connected itself (the distributed adapters live in their own crates, so that only
    /// the binary links Kafka and etcd clients).
    pub async fn assemble(
        config: &Config,
        bus: Arc<dyn Bus>,
        registry: Arc<dyn Registry>,
    ) -> anyhow::Result<Self> {
        let kv = kv::connect(&config.kv.url).await.context("kv")?;
        let objects = objects::connect(&config.object_store_url()).context("object store")?;
        Ok(Self {
            kv,
            bus,
            registry,
            objects,
            in_process: InProcess::default(),
        })
    }
}

/// Everything a service's `build` may use.
#[derive(Clone)]
pub struct ServiceContext {
    pub config: Arc<Config>,
    pub infra: Infra,
}

impl ServiceContext {
    pub fn new(config: Arc<Config>, infra: Infra) -> Self {
        Self { config, infra }
    }

    /// Connects to the service's own database and brings its schema up to date.
    pub async fn database<M: MigratorTrait>(
        &self,
        service: ServiceName,
    ) -> anyhow::Result<DatabaseConnection> {
        let url = self.config.database_url(service);
        let conn = db::connect(&url, &self.config.database)
            .await
            .with_context(|| format!("connect to the {service} database at {url}"))?;
        db::migrate::<M>(&conn)
            .await
            .with_context(|| format!("migrate the {service} database"))?;
        Ok(conn)
    }

    /// Clients of the other services, with the configured resilience; those this
    /// process serves are called in process.
    pub fn clients(&self) -> Clients {
        Clients::new(self.infra.registry.clone(), &self.config.resilience)
            .with_in_process(self.infra.in_process.clone())
    }

    /// An empty service named `name`, its server limits taken from the configuration.
    pub fn service(&self, name: ServiceName) -> Service {
        Service::new(name).with_limits(self.config.resilience.server.clone())
    }
}

/// A built service, ready to be served on a gRPC listener by [`crate::grpc::serve`].
pub struct Service {
    pub name: ServiceName,
    pub routes: Routes,
    pub checks: Vec<Arc<dyn ReadinessCheck>>,
    /// Load shedding of its gRPC server.
    pub limits: ServerLimits,
}

impl Service {
    /// An empty service with default server limits; [`ServiceContext::service`] takes
    /// them from the configuration.
    pub fn new(name: ServiceName) -> Self {
        Self {
            name,
            routes: Routes::default(),
            checks: Vec::new(),
            limits: ServerLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a gRPC service (a generated `…Server::new(impl)`) to this service's listener.
    pub fn with_grpc<S>(mut self, grpc: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes = self.routes.add_service(grpc);
        self
    }

    /// Adds a readiness check: the service is ready when all its required checks pass.
    pub fn with_check(mut self, check: impl ReadinessCheck + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Shorthand for the most common check: the service's own database answers.
    pub fn with_database(self, db: DatabaseConnection) -> Self {
        self.with_check(DatabaseCheck::new(db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ServiceName::ALL {
            assert_eq!(name.as_str().parse::<ServiceName>().unwrap(), name);
            assert_eq!(name.config_key().parse::<ServiceName>().unwrap(), name);
        }
        assert!("billing".parse::<ServiceName>().is_err());
    }
}
