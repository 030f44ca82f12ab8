//! gRPC plumbing shared by every service: serving a built [`Service`] with the standard
//! health service beside it and load shedding in front, and reaching other services
//! through the registry over [`ResilientChannel`]s.

use crate::health::{ReadinessCheck, service_report};
use crate::in_process::{InProcess, LocalService, Transport};
use crate::metrics::GrpcMetricsLayer;
use crate::registry::Registry;
use crate::resilience::{
    CircuitBreaker, LoadShedLayer, ResilienceConfig, ResilientChannel, Target, idempotent,
};
use crate::service::{Service, ServiceName};
use crate::shutdown::Shutdown;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;

/// How often each server re-evaluates its readiness for gRPC health.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// Serves `service` plus `grpc.health.v1.Health` on `listener` until `shutdown` fires,
/// then drains in-flight calls (see [`ServiceStack`]).
pub async fn serve(
    service: Service,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    ServiceStack::new(service)
        .await
        .serve(listener, shutdown)
        .await
}

/// A built service behind what every call to it passes through, whether it comes over
/// a socket or from this process ([`crate::in_process`]): metrics, then load shedding
/// (calls beyond the service's concurrency limit are refused at once,
/// [`LoadShedLayer`]), then its routes with `grpc.health.v1.Health` beside them.
/// Health reports SERVING for the overall server ("") and for the service's gRPC name
/// while its required readiness checks pass.
pub struct ServiceStack {
    name: ServiceName,
    checks: Vec<Arc<dyn ReadinessCheck>>,
    routes: Routes,
    shedding: LoadShedLayer,
    reporter: HealthReporter,
}

impl ServiceStack {
    pub async fn new(service: Service) -> Self {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        // Known but not yet serving until the first readiness evaluation says otherwise.
        for name in ["", service.name.grpc_service()] {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        Self {
            name: service.name,
            checks: service.checks,
            routes: service.routes.add_service(health_service),
            shedding: LoadShedLayer::new(service.name, &service.limits),
            reporter,
        }
    }

    /// The stack, to be called from this process: it shares the load-shedding limit
    /// with the calls that come over the socket.
    pub fn local(&self) -> LocalService {
        LocalService::new(
            tower::ServiceBuilder::new()
                .layer(GrpcMetricsLayer)
                .layer(self.shedding.clone())
                .service(self.routes.clone()),
        )
    }

    /// Serves the stack on `listener` until `shutdown` fires, then drains in-flight
    /// calls.
    pub async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
        let watcher = tokio::spawn(watch_readiness(
            self.name,
            self.checks,
            self.reporter,
            shutdown.clone(),
        ));
        let served = Server::builder()
            .layer(GrpcMetricsLayer)
            .layer(self.shedding)
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(incoming(listener), shutdown.signal())
            .await;
        watcher.abort();
        Ok(served?)
    }
}

/// The accepted connections of `listener`, without Nagle's delay (see
/// [`crate::http::no_delay`]).
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    TcpListenerStream::new(listener).map(|accepted| {
        accepted.map(|mut stream| {
            crate::http::no_delay(&mut stream);
            stream
        })
    })
}

async fn watch_readiness(
    name: ServiceName,
    checks: Vec<Arc<dyn ReadinessCheck>>,
    reporter: HealthReporter,
    shutdown: Shutdown,
) {
    let mut last = None;
    loop {
        let ready = service_report(&checks).await.ready;
        if last != Some(ready) {
            let status = if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter
                .set_service_status(name.grpc_service(), status)
                .await;
            if last.is_some() {
                tracing::warn!(service = %name, ready, "readiness changed");
            }
            last = Some(ready);
        }
        tokio::select! {
            () = tokio::time::sleep(HEALTH_INTERVAL) => {}
            () = shutdown.wait() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                reporter.set_service_status(name.grpc_service(), ServingStatus::NotServing).await;
                return;
            }
        }
    }
}

/// Channels to other services, found through the registry. A channel is reused until
/// the set of live instances of its service changes; each service keeps one circuit
/// breaker across such changes. An instance this process serves is called in process
/// ([`crate::in_process`]), and then no other instance is: it needs no socket and
/// adds no other node's load.
#[derive(Clone)]
pub struct Clients {
    registry: Arc<dyn Registry>,
    in_process: InProcess,
    connect_timeout: Duration,
    resilience: Arc<ResilienceConfig>,
    cache: Arc<Mutex<HashMap<ServiceName, CachedChannel>>>,
}

/// A channel and the endpoints it balances over.
type CachedChannel = (Vec<String>, ResilientChannel);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no instance of {0} is registered")]
    NoInstance(ServiceName),
    #[error("registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error("invalid endpoint {0}")]
    Endpoint(String),
}

impl Clients {
    /// Clients that reach every service over sockets.
    pub fn new(registry: Arc<dyn Registry>, resilience: &ResilienceConfig) -> Self {
        Self {
            registry,
            in_process: InProcess::default(),
            connect_timeout: Duration::from_secs(2),
            resilience: Arc::new(resilience.clone()),
            cache: Arc::default(),
        }
    }

    /// Calls the instances `in_process` serves without a socket.
    pub fn with_in_process(mut self, in_process: InProcess) -> Self {
        self.in_process = in_process;
        self
    }

    /// A lazily connecting channel balanced over every live instance of `service`,
    /// with deadlines, the service's circuit breaker and retries of calls marked
    /// [`idempotent`] (see [`crate::resilience`]).
    pub async fn channel(&self, service: ServiceName) -> Result<ResilientChannel, ClientError> {
        let instances = self.registry.resolve(service).await?;
        if instances.is_empty() {
            return Err(ClientError::NoInstance(service));
        }
        let addresses: Vec<String> = instances.iter().map(|i| i.endpoint.clone()).collect();
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((known, channel)) = cache.get(&service)
            && *known == addresses
        {
            return Ok(channel.clone());
        }
        let breaker = match cache.get(&service) {
            Some((_, previous)) => previous.breaker().clone(),
            None => CircuitBreaker::new(
                Target {
                    service,
                    node: None,
                },
                &self.resilience.breaker,
            ),
        };
        let transport = match addresses.iter().find_map(|a| self.in_process.get(a)) {
            Some(local) => Transport::InProcess(local),
            None => Transport::Socket(self.balanced(&addresses)?),
        };
        let channel = ResilientChannel::new(transport, breaker, &self.resilience);
        cache.insert(service, (addresses, channel.clone()));
        Ok(channel)
    }

    /// A channel balanced over `addresses`.
    fn balanced(&self, addresses: &[String]) -> Result<Channel, ClientError> {
        let endpoints = addresses
            .iter()
            .map(|address| {
                Endpoint::from_shared(address.clone())
                    .map(|e| e.connect_timeout(self.connect_timeout).tcp_nodelay(true))
                    .map_err(|_| ClientError::Endpoint(address.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Channel::balance_list(endpoints.into_iter()))
    }
}

/// Optional readiness check: a downstream service answers gRPC health with SERVING.
pub struct DownstreamCheck {
    clients: Clients,
    service: ServiceName,
}

impl DownstreamCheck {
    pub fn new(clients: Clients, service: ServiceName) -> Self {
        Self { clients, service }
    }
}

#[async_trait]
impl ReadinessCheck for DownstreamCheck {
    fn name(&self) -> &str {
        self.service.as_str()
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        let channel = self
            .clients
            .channel(self.service)
            .await
            .map_err(|e| e.to_string())?;
        let request = idempotent(tonic::Request::new(HealthCheckRequest {
            service: self.service.grpc_service().to_owned(),
        }));
        let response = HealthClient::new(channel)
            .check(request)
            .await
            .map_err(|status| format!("{}: {}", status.code(), status.message()))?;
        match response.into_inner().status() {
            WireStatus::Serving => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt as _;

    #[tokio::test]
    async fn accepted_connections_write_without_nagles_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut accepted = std::pin::pin!(incoming(listener));
        let stream = accepted.next().await.unwrap().unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
