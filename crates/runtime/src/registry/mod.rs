//! The registry port: where each service's instances can be reached.
//! `static://` (configured endpoints plus this process's own services) is the embedded
//! default; etcd arrives with the distributed mode.

mod fixed;

pub use fixed::StaticRegistry;

use crate::config::RegistryConfig;
use crate::service::ServiceName;
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    #[error("invalid endpoint {endpoint:?} for {service}: {reason}")]
    InvalidEndpoint {
        service: String,
        endpoint: String,
        reason: String,
    },
    #[error("unsupported registry url scheme {0:?} (expected static://)")]
    UnsupportedScheme(String),
}

/// One running instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instance {
    pub service: ServiceName,
    /// Unique per instance (node id + service), so two instances never collide.
    pub id: String,
    /// Where its gRPC server listens, e.g. `http://127.0.0.1:7101`.
    pub endpoint: String,
}

#[async_trait]
pub trait Registry: Send + Sync {
    /// Announces an instance; it stays listed until deregistered (or, for adapters with
    /// leases, until its process stops renewing them).
    async fn register(&self, instance: Instance) -> Result<(), RegistryError>;

    async fn deregister(&self, instance: &Instance) -> Result<(), RegistryError>;

    /// The live instances of `service`, in a stable order.
    async fn resolve(&self, service: ServiceName) -> Result<Vec<Instance>, RegistryError>;
}

/// What every adapter accepts as an instance's endpoint: `http(s)://host:port`.
pub fn validate_endpoint(service: ServiceName, endpoint: &str) -> Result<(), RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidEndpoint {
        service: service.to_string(),
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(endpoint).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || url.port().is_none() {
        return Err(invalid("expected http://host:port"));
    }
    Ok(())
}

pub fn connect(config: &RegistryConfig) -> Result<Arc<dyn Registry>, RegistryError> {
    match config.url.scheme() {
        "static" => Ok(Arc::new(StaticRegistry::from_config(config)?)),
        other => Err(RegistryError::UnsupportedScheme(other.to_owned())),
    }
}
