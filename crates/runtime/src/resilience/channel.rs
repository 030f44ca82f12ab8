//! [`ResilientChannel`]: the channel every outbound gRPC call goes through. Generated
//! clients take it like a plain channel (`FooClient::new(channel)`), and each call gets
//! a deadline, the downstream's circuit breaker and, when marked
//! [`super::idempotent`], retries.
//!
//! The deadline bounds the wait for the response headers: all of a unary call (a
//! server answers it at once, headers, message and status together) and the start of
//! a stream, never the stream itself. It is sent along as `grpc-timeout` so the server
//! can give up too.

use super::breaker::CircuitBreaker;
use super::call::CallKind;
use super::config::ResilienceConfig;
use super::deadline;
use super::outcome::{AttemptError, Verdict, grpc_code};
use super::retry::{RetryPolicy, jitter};
use crate::errors::status;
use crate::in_process::Transport;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{BoxError, ServiceExt as _};

pub const RETRIES_METRIC: &str = "im_grpc_client_retries_total";
pub const DEADLINE_METRIC: &str = "im_grpc_client_deadline_exceeded_total";

/// How close to our deadline a failure may come and still be that deadline, enforced
/// by someone else first: tonic's channel and server both apply the `grpc-timeout` we
/// send and answer CANCELLED ("timeout expired"), on the same timer tick as ours.
const DEADLINE_SLACK: Duration = Duration::from_millis(5);

/// A [`Transport`] (or any gRPC service `S`) with deadlines, a circuit breaker and
/// retries of idempotent calls.
#[derive(Clone)]
pub struct ResilientChannel<S = Transport> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S> std::fmt::Debug for ResilientChannel<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientChannel")
            .field("breaker", &self.guard.breaker)
            .field("deadline", &self.guard.deadline)
            .finish_non_exhaustive()
    }
}

/// What every call through one channel shares.
struct Guard {
    breaker: Arc<CircuitBreaker>,
    deadline: Duration,
    retry: RetryPolicy,
}

impl<S> ResilientChannel<S> {
    /// Guards `inner` with `breaker` (which may be shared with other channels to the
    /// same downstream) and the deadline and retries of `config`.
    pub fn new(inner: S, breaker: Arc<CircuitBreaker>, config: &ResilienceConfig) -> Self {
        Self {
            inner,
            guard: Arc::new(Guard {
                breaker,
                deadline: config.deadline,
                retry: RetryPolicy::new(&config.retry),
            }),
        }
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.guard.breaker
    }
}

impl<S> tower::Service<http::Request<Body>> for ResilientChannel<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Status>> + Send>>;

    /// Always ready: waiting for the inner channel is part of each call, within its
    /// deadline.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(self.guard.clone().run(self.inner.clone(), request))
    }
}

impl Guard {
    async fn run<S>(
        self: Arc<Self>,
        inner: S,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Status>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone,
        S::Error: Into<BoxError>,
    {
        let kind = CallKind::of(request.extensions());
        let budget = deadline::budget(request.headers(), kind, self.deadline);
        let deadline_at = budget.map(|budget| Instant::now() + budget);
        let result = if kind.idempotent {
            self.with_retries(inner, request, deadline_at).await
        } else {
            self.attempt(inner, request, deadline_at).await
        };
        result.map_err(|error| match error {
            AttemptError::Transport(status) | AttemptError::CircuitOpen(status) => status,
            AttemptError::Deadline => {
                metrics::counter!(DEADLINE_METRIC, &self.breaker.target().labels()).increment(1);
                status(
                    Code::DeadlineExceeded,
                    "deadline_exceeded",
                    format!(
                        "{} did not answer within {:?}",
                        self.breaker.target(),
                        budget.unwrap_or_default()
                    ),
                )
            }
        })
    }

    /// Attempts until one succeeds, fails for good, or the attempts or the time run out.
    /// The request body (one encoded message) is kept to be sent again.
    async fn with_retries<S>(
        &self,
        inner: S,
        request: http::Request<Body>,
        deadline_at: Option<Instant>,
    ) -> Result<http::Response<Body>, AttemptError>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone,
        S::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(AttemptError::Transport)?
            .to_bytes();
        let mut attempts = 0;
        loop {
            let request = replay(&parts, &body);
            let result = self.attempt(inner.clone(), request, deadline_at).await;
            attempts += 1;
            let left = deadline_at.map(|at| at.saturating_duration_since(Instant::now()));
            let verdict = Verdict::of(&result);
            let Some(pause) = self.retry.next(attempts, verdict, left, jitter()) else {
                return result;
            };
            metrics::counter!(RETRIES_METRIC, &self.breaker.target().labels()).increment(1);
            tracing::debug!(
                downstream = %self.breaker.target(),
                path = parts.uri.path(),
                attempts,
                ?pause,
                "retrying an idempotent call"
            );
            tokio::time::sleep(pause).await;
        }
    }

    /// One attempt: within what is left of the deadline, through the breaker.
    async fn attempt<S>(
        &self,
        mut inner: S,
        mut request: http::Request<Body>,
        deadline_at: Option<Instant>,
    ) -> Result<http::Response<Body>, AttemptError>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
        S::Error: Into<BoxError>,
    {
        if let Some(at) = deadline_at {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AttemptError::Deadline);
            }
            deadline::announce(request.headers_mut(), left);
        }
        let permit = self.breaker.admit().map_err(AttemptError::CircuitOpen)?;
        let exchange = async move {
            inner.ready().await.map_err(transport)?;
            inner.call(request).await.map_err(transport)
        };
        let result = match deadline_at {
            None => exchange.await,
            Some(at) => match tokio::time::timeout_at(at, exchange).await {
                Ok(result) if !ended_by_deadline(&result, at) => result,
                Ok(_) | Err(_) => Err(AttemptError::Deadline),
            },
        };
        permit.record(Verdict::of(&result).failed);
        result
    }
}

/// The same request again, with the kept body.
fn replay(parts: &http::request::Parts, body: &Bytes) -> http::Request<Body> {
    http::Request::from_parts(parts.clone(), Body::new(Full::new(body.clone())))
}

/// A failure to reach the downstream, as UNAVAILABLE unless tonic knows better.
fn transport(error: impl Into<BoxError>) -> AttemptError {
    let status = Status::from_error(error.into());
    AttemptError::Transport(match status.code() {
        Code::Unknown => Status::unavailable(status.message().to_owned()),
        _ => status,
    })
}

/// Whether an attempt that failed right at the deadline failed because of it.
fn ended_by_deadline(result: &Result<http::Response<Body>, AttemptError>, at: Instant) -> bool {
    if Instant::now() + DEADLINE_SLACK < at {
        return false;
    }
    match result {
        Ok(response) => matches!(
            grpc_code(response.headers()),
            Some(Code::Cancelled | Code::DeadlineExceeded)
        ),
        Err(AttemptError::Transport(_)) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::error_code;
    use crate::resilience::breaker::{BreakerState, Target};
    use crate::resilience::config::{BreakerConfig, RetryConfig};
    use crate::resilience::{idempotent, streaming};
    use crate::service::ServiceName;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::Service as _;
    use tower::util::BoxCloneService;

    /// What the fake downstream saw and how it answers.
    #[derive(Default)]
    struct Seen {
        calls: AtomicU32,
        timeouts: Mutex<Vec<Option<String>>>,
    }

    type Reply = fn(u32) -> Result<http::Response<Body>, Status>;

    type Fake = BoxCloneService<http::Request<Body>, http::Response<Body>, Status>;

    fn downstream(seen: Arc<Seen>, delay: Duration, reply: Reply) -> Fake {
        BoxCloneService::new(tower::service_fn(move |request: http::Request<Body>| {
            let seen = seen.clone();
            async move {
                let call = seen.calls.fetch_add(1, Ordering::SeqCst) + 1;
                let timeout = request
                    .headers()
                    .get(deadline::GRPC_TIMEOUT)
                    .map(|value| value.to_str().unwrap_or_default().to_owned());
                seen.timeouts.lock().unwrap().push(timeout);
                tokio::time::sleep(delay).await;
                reply(call)
            }
        }))
    }

    fn config() -> ResilienceConfig {
        ResilienceConfig {
            deadline: Duration::from_millis(200),
            retry: RetryConfig {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(2),
            },
            breaker: BreakerConfig {
                consecutive_failures: 100,
                ..BreakerConfig::default()
            },
            ..ResilienceConfig::default()
        }
    }

    fn guarded<S>(inner: S, config: &ResilienceConfig) -> ResilientChannel<S> {
        let target = Target {
            service: ServiceName::Conversation,
            node: None,
        };
        ResilientChannel::new(inner, CircuitBreaker::new(target, &config.breaker), config)
    }

    async fn send(
        channel: &mut ResilientChannel<Fake>,
        request: tonic::Request<()>,
    ) -> Result<Code, Status> {
        let mut http = http::Request::new(Body::empty());
        let (metadata, extensions, ()) = request.into_parts();
        *http.headers_mut() = metadata.into_headers();
        *http.extensions_mut() = extensions;
        *http.uri_mut() = http::Uri::from_static("http://test/im.v1.Test/Get");
        let response = channel.ready().await?.call(http).await?;
        Ok(grpc_code(response.headers()).unwrap_or(Code::Ok))
    }

    fn ok(_: u32) -> Result<http::Response<Body>, Status> {
        Ok(http::Response::new(Body::empty()))
    }

    fn unavailable_twice(call: u32) -> Result<http::Response<Body>, Status> {
        if call <= 2 {
            Ok(Status::unavailable("restarting").into_http())
        } else {
            ok(call)
        }
    }

    #[tokio::test]
    async fn every_call_carries_the_default_deadline_or_a_shorter_one() {
        let seen = Arc::new(Seen::default());
        let mut channel = guarded(downstream(seen.clone(), Duration::ZERO, ok), &config());
        send(&mut channel, tonic::Request::new(())).await.unwrap();
        let mut shorter = tonic::Request::new(());
        shorter.set_timeout(Duration::from_millis(50));
        send(&mut channel, shorter).await.unwrap();
        send(&mut channel, streaming(tonic::Request::new(())))
            .await
            .unwrap();
        let sent: Vec<Option<Duration>> = seen
            .timeouts
            .lock()
            .unwrap()
            .iter()
            .map(|value| value.as_deref().map(|v| deadline::parse(v).unwrap()))
            .collect();
        assert!(
            matches!(sent[0], Some(d) if d <= Duration::from_millis(200) && d > Duration::from_millis(150)),
            "{sent:?}"
        );
        assert!(
            matches!(sent[1], Some(d) if d <= Duration::from_millis(50)),
            "{sent:?}"
        );
        assert_eq!(sent[2], None, "a stream gets no default deadline");
    }

    #[tokio::test]
    async fn a_slow_downstream_is_cut_at_the_deadline() {
        let seen = Arc::new(Seen::default());
        let mut channel = guarded(downstream(seen, Duration::from_secs(30), ok), &config());
        let started = std::time::Instant::now();
        let error = send(&mut channel, idempotent(tonic::Request::new(())))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded);
        assert_eq!(error_code(&error), Some("deadline_exceeded"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn idempotent_calls_are_retried_and_others_are_not() {
        let seen = Arc::new(Seen::default());
        let mut channel = guarded(
            downstream(seen.clone(), Duration::ZERO, unavailable_twice),
            &config(),
        );
        let code = send(&mut channel, tonic::Request::new(())).await.unwrap();
        assert_eq!(code, Code::Unavailable, "a write is tried once");
        assert_eq!(seen.calls.load(Ordering::SeqCst), 1);

        let seen = Arc::new(Seen::default());
        let mut channel = guarded(
            downstream(seen.clone(), Duration::ZERO, unavailable_twice),
            &config(),
        );
        let code = send(&mut channel, idempotent(tonic::Request::new(())))
            .await
            .unwrap();
        assert_eq!(code, Code::Ok, "a read is retried until it succeeds");
        assert_eq!(seen.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_stop_after_the_last_attempt() {
        let seen = Arc::new(Seen::default());
        let always = |_| Ok(Status::unavailable("down").into_http());
        let mut channel = guarded(downstream(seen.clone(), Duration::ZERO, always), &config());
        let code = send(&mut channel, idempotent(tonic::Request::new(())))
            .await
            .unwrap();
        assert_eq!(code, Code::Unavailable);
        assert_eq!(seen.calls.load(Ordering::SeqCst), 3);
        assert_eq!(channel.breaker().state(), BreakerState::Closed);
    }
}
