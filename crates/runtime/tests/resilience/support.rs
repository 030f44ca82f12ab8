//! Downstream servers to call, and clients that find them through a static registry.

use im_runtime::config::RegistryConfig;
use im_runtime::grpc::{self, Clients, ServiceStack};
use im_runtime::registry::StaticRegistry;
use im_runtime::resilience::{BreakerConfig, ResilienceConfig, RetryConfig, ServerLimits};
use im_runtime::secret::SecretUrl;
use im_runtime::{Service, ServiceName, Shutdown};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::ServiceExt as _;

/// The service the tests call.
pub const DOWNSTREAM: ServiceName = ServiceName::Presence;

/// Short enough for quick tests, long enough for loopback.
pub fn config() -> ResilienceConfig {
    ResilienceConfig {
        deadline: Duration::from_millis(300),
        // One attempt per call, so each call is one verdict for the breaker.
        retry: RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        },
        breaker: BreakerConfig {
            consecutive_failures: 3,
            open_for: Duration::from_millis(300),
            ..BreakerConfig::default()
        },
        ..ResilienceConfig::default()
    }
}

/// Clients that find [`DOWNSTREAM`] at `endpoint`.
pub fn clients(endpoint: &str, config: &ResilienceConfig) -> Clients {
    clients_of(&[endpoint], config)
}

/// Clients that find [`DOWNSTREAM`] at every one of `endpoints`.
pub fn clients_of(endpoints: &[&str], config: &ResilienceConfig) -> Clients {
    let registry = StaticRegistry::from_config(&RegistryConfig {
        url: SecretUrl::new("static://"),
        endpoints: [(
            DOWNSTREAM.config_key().to_owned(),
            endpoints.iter().map(|&e| e.to_owned()).collect(),
        )]
        .into(),
    })
    .unwrap();
    Clients::new(Arc::new(registry), config)
}

/// One gRPC health check of [`DOWNSTREAM`] through `clients`.
pub async fn check(
    clients: &Clients,
    request: tonic::Request<HealthCheckRequest>,
) -> Result<(), Status> {
    let channel = clients
        .channel(DOWNSTREAM)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    HealthClient::new(channel).check(request).await.map(|_| ())
}

pub fn health_request() -> tonic::Request<HealthCheckRequest> {
    tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    })
}

/// A downstream served by [`grpc::serve`], as every IM service is.
pub struct Downstream {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<()>,
}

impl Downstream {
    pub async fn start(service: Service) -> Self {
        Self::serve(service, TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// Serves again where a stopped downstream was.
    pub async fn restart_at(addr: SocketAddr) -> Self {
        Self::serve(
            Service::new(DOWNSTREAM),
            TcpListener::bind(addr).await.unwrap(),
        )
    }

    /// Serves a stack whose in-process side the test keeps.
    pub async fn serve_stack(stack: ServiceStack) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::spawn(listener, |listener, stop| stack.serve(listener, stop))
    }

    fn serve(service: Service, listener: TcpListener) -> Self {
        Self::spawn(listener, |listener, stop| {
            grpc::serve(service, listener, stop)
        })
    }

    fn spawn<F>(listener: TcpListener, serve: impl FnOnce(TcpListener, Shutdown) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let serving = serve(listener, shutdown.clone());
        let task = tokio::spawn(async move {
            serving.await.unwrap();
        });
        Self {
            addr,
            shutdown,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and closes the port.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        (&mut self.task).await.unwrap();
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A health server that answers every call only after `delay`.
pub async fn slow_server(delay: Duration) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (_, health) = tonic_health::server::health_reporter();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(tower::util::MapFutureLayer::new(move |answer| async move {
                tokio::time::sleep(delay).await;
                answer.await
            }))
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (endpoint, task)
}

/// `grpc.health.v1.Health` served under another name (`im.test.Slow`), each call
/// answered after `delay`: a route that keeps its caller waiting, beside the real
/// health service of [`grpc::serve`].
#[derive(Clone)]
pub struct SlowHealth<S> {
    inner: S,
    delay: Duration,
    pub entered: Arc<AtomicUsize>,
}

const SLOW_PREFIX: &str = "/im.test.Slow/";
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

impl<S> SlowHealth<S> {
    pub fn new(inner: S, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            entered: Arc::default(),
        }
    }
}

impl<S> NamedService for SlowHealth<S> {
    const NAME: &'static str = "im.test.Slow";
}

impl<S> tower::Service<http::Request<Body>> for SlowHealth<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let request = rename(request, SLOW_PREFIX, HEALTH_PREFIX);
        let inner = self.inner.clone();
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            inner.oneshot(request).await
        })
    }
}

/// A service whose `im.test.Slow` calls each take 500 ms, at most two at once (more are
/// refused with a retry hint of 3 s); with the count of calls that got in.
pub fn two_slow_places() -> (Service, Arc<AtomicUsize>) {
    let (_, health) = tonic_health::server::health_reporter();
    let slow = SlowHealth::new(health, Duration::from_millis(500));
    let entered = slow.entered.clone();
    let service = Service::new(DOWNSTREAM)
        .with_grpc(slow)
        .with_limits(ServerLimits {
            max_concurrent_calls: 2,
            retry_after_secs: 3,
        });
    (service, entered)
}

/// Starts two slow calls over the socket at `endpoint` and waits until both are in.
pub async fn take_both_places(
    endpoint: &str,
    entered: &AtomicUsize,
) -> Vec<JoinHandle<Result<tonic::Response<HealthCheckResponse>, Status>>> {
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let mut client = slow_client(endpoint);
            tokio::spawn(async move { client.check(health_request()).await })
        })
        .collect();
    let give_up = Instant::now() + Duration::from_secs(5);
    while entered.load(Ordering::SeqCst) < 2 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(entered.load(Ordering::SeqCst), 2);
    busy
}

/// A channel whose calls are renamed on their way out.
type Renamed<S = tonic::transport::Channel> =
    tower::util::MapRequest<S, fn(http::Request<Body>) -> http::Request<Body>>;

/// A health client whose calls go to `im.test.Slow`.
pub fn slow_client(endpoint: &str) -> HealthClient<Renamed> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .unwrap()
        .connect_lazy();
    slow_over(channel)
}

/// A health client whose calls go to `im.test.Slow` over `channel`.
pub fn slow_over<S>(channel: S) -> HealthClient<Renamed<S>>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Error: Into<tower::BoxError>,
{
    let to_slow: fn(http::Request<Body>) -> http::Request<Body> =
        |request| rename(request, HEALTH_PREFIX, SLOW_PREFIX);
    HealthClient::new(channel.map_request(to_slow))
}

fn rename(mut request: http::Request<Body>, from: &str, to: &str) -> http::Request<Body> {
    if let Some(method) = request.uri().path().strip_prefix(from) {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(format!("{to}{method}").parse().unwrap());
        *request.uri_mut() = http::Uri::from_parts(parts).unwrap();
    }
    request
}

/// A health server whose first `failures` calls answer UNAVAILABLE (without a retry
/// hint), as a restarting instance might; returns its endpoint and the calls it got.
pub async fn flaky_server(failures: usize) -> (String, Arc<AtomicUsize>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (_, health) = tonic_health::server::health_reporter();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(tower::layer::layer_fn(move |inner| FailFirst {
                inner,
                failures,
                calls: counted.clone(),
            }))
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (endpoint, calls, task)
}

#[derive(Clone)]
struct FailFirst<S> {
    inner: S,
    failures: usize,
    calls: Arc<AtomicUsize>,
}

impl<S> tower::Service<http::Request<Body>> for FailFirst<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            let refusal = Status::unavailable("warming up").into_http();
            return Box::pin(std::future::ready(Ok(refusal)));
        }
        Box::pin(self.inner.call(request))
    }
}
