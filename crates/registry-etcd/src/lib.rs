//! The etcd adapter of IM's registry port (etcd-client).
//!
//! URL: `etcd://host:port[/prefix][?endpoints=host2:port2,host3:port3][&ttl=10s]`.
//! The first member is the URL's host; further members of the cluster go in
//! `endpoints=` (a URL's authority cannot hold a comma-separated host list). The port
//! defaults to 2379, the prefix to `/im`, the TTL to 10 s (whole seconds or minutes:
//! `ttl=2s`, `ttl=1m`).
//!
//! Each instance is the key `{prefix}/services/{service}/{instance id}` with the JSON
//! value `{"endpoint":"http://host:port"}`, written under a lease this process renews
//! (`lease.rs`): a crashed process's instances vanish within one TTL.
//! `resolve` never waits on the network: it reads a local view kept current by a watch
//! (`view.rs`) and keeps serving the last known instances while etcd is unreachable.
//! Endpoints configured in `[registry.endpoints]` are served too, as by `static://`.

mod backoff;
mod lease;
mod record;
mod settings;
mod view;

pub use settings::{DEFAULT_PREFIX, DEFAULT_TTL};

use async_trait::async_trait;
use etcd_client::{Client, ConnectOptions};
use im_runtime::ServiceName;
use im_runtime::config::RegistryConfig;
use im_runtime::registry::validate_endpoint;
use im_runtime::registry::{Instance, Registry, RegistryError, StaticRegistry};
use lease::Announcer;
use record::Layout;
use settings::Settings;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use view::View;

/// The longest any single etcd call may take before it counts as an outage.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `register`/`deregister` wait for the local view to show their own write.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings find a silently dead connection (a partition, not a refused one).
const PING_INTERVAL: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to etcd and reads the current instances once; fails when etcd is
/// unreachable at start-up (later outages are ridden out, see the module docs).
pub async fn connect(config: &RegistryConfig) -> Result<Arc<dyn Registry>, RegistryError> {
    Ok(Arc::new(EtcdRegistry::connect(config).await?))
}

/// A registry handle backed by etcd. Dropping it stops renewing this process's lease
/// without revoking it, so its instances disappear one TTL later, exactly as after a
/// crash; call [`EtcdRegistry::release`] first to withdraw them at once.
pub struct EtcdRegistry {
    configured: Vec<Instance>,
    view: Arc<View>,
    announcer: Arc<Announcer>,
    tasks: [JoinHandle<()>; 2],
}

impl EtcdRegistry {
    /// Like [`connect`], keeping the concrete type for [`EtcdRegistry::release`].
    pub async fn connect(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let settings = Settings::parse(&config.url)?;
        let configured = configured_instances(config).await?;
        let options = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(PING_INTERVAL, PING_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let client = tokio::time::timeout(
            REQUEST_TIMEOUT,
            Client::connect(&settings.endpoints, Some(options)),
        )
        .await
        .map_err(|_| RegistryError::Unavailable("connecting to etcd timed out".to_owned()))?
        .map_err(|e| unavailable("connect", e))?;

        let layout = Layout::new(&settings.prefix);
        let view = Arc::new(View::new(layout.clone()));
        let revision = view.relist(&client).await?;
        let announcer = Arc::new(Announcer::new(client.clone(), layout, settings.ttl));
        let tasks = [
            tokio::spawn(view::follow(client, view.clone(), revision)),
            tokio::spawn(announcer.clone().renew()),
        ];
        tracing::info!(
            endpoints = ?settings.endpoints,
            prefix = %settings.prefix,
            ttl = ?settings.ttl,
            "connected to the etcd registry"
        );
        Ok(Self {
            configured,
            view,
            announcer,
            tasks,
        })
    }

    /// Withdraws every instance this handle registered at once (revokes its lease), for
    /// a graceful shutdown. The handle stays usable: a later `register` takes a new lease.
    pub async fn release(&self) -> Result<(), RegistryError> {
        self.announcer.release().await
    }

    async fn catch_up(&self, revision: i64, what: &str) {
        if !self.view.caught_up(revision, CATCH_UP_TIMEOUT).await {
            tracing::warn!(
                revision,
                "etcd accepted the {what}, but the local view has not caught up yet"
            );
        }
    }
}

impl Drop for EtcdRegistry {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[async_trait]
impl Registry for EtcdRegistry {
    async fn register(&self, instance: Instance) -> Result<(), RegistryError> {
        validate_endpoint(instance.service, &instance.endpoint)?;
        let revision = self.announcer.announce(instance).await?;
        // Read-your-writes: a resolve right after register must see the instance.
        self.catch_up(revision, "registration").await;
        Ok(())
    }

    async fn deregister(&self, instance: &Instance) -> Result<(), RegistryError> {
        if let Some(revision) = self.announcer.withdraw(instance).await? {
            self.catch_up(revision, "deregistration").await;
        }
        Ok(())
    }

    async fn resolve(&self, service: ServiceName) -> Result<Vec<Instance>, RegistryError> {
        let mut found = self.view.instances(service);
        found.extend(
            self.configured
                .iter()
                .filter(|instance| instance.service == service)
                .cloned(),
        );
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}

/// `[registry.endpoints]`, validated and named exactly as `static://` does.
async fn configured_instances(config: &RegistryConfig) -> Result<Vec<Instance>, RegistryError> {
    let fixed = StaticRegistry::from_config(config)?;
    let mut configured = Vec::new();
    for service in ServiceName::ALL {
        configured.extend(fixed.resolve(service).await?);
    }
    Ok(configured)
}

fn unavailable(what: &str, error: etcd_client::Error) -> RegistryError {
    RegistryError::Unavailable(format!("etcd {what}: {error}"))
}

/// Bounds one etcd call: while no member is reachable, calls would otherwise wait.
async fn within<T>(
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, etcd_client::Error> {
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(etcd_client::Error::Internal("call timed out".to_owned())))
}
