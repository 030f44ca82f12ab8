//! Load shedding of a gRPC server: beyond a number of calls in progress, a call is
//! refused at once with UNAVAILABLE `overloaded` and a retry hint, rather than queued
//! without bound while its caller's deadline runs out. Refusals are counted in
//! `im_grpc_server_shed_total{service}`.
//!
//! A call holds its place until its response headers leave: the whole of a unary call,
//! the start of a stream (a long-lived stream does not keep a place).

use super::config::ServerLimits;
use crate::errors::{status, with_retry_after};
use crate::service::ServiceName;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;
use tonic::Code;

pub const SHED_METRIC: &str = "im_grpc_server_shed_total";

/// The error code of a call refused by an overloaded server.
pub const OVERLOADED: &str = "overloaded";

#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    service: ServiceName,
    /// `None`: no limit.
    places: Option<Arc<Semaphore>>,
    retry_after_secs: u64,
}

impl LoadShedLayer {
    pub fn new(service: ServiceName, limits: &ServerLimits) -> Self {
        Self {
            service,
            places: (limits.max_concurrent_calls > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_concurrent_calls))),
            retry_after_secs: limits.retry_after_secs,
        }
    }
}

impl<S> tower::Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    layer: LoadShedLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for LoadShed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let place = match &self.layer.places {
            None => None,
            Some(places) => match places.clone().try_acquire_owned() {
                Ok(place) => Some(place),
                Err(_) => {
                    let service = self.layer.service.as_str();
                    metrics::counter!(SHED_METRIC, "service" => service).increment(1);
                    tracing::debug!(
                        service,
                        path = request.uri().path(),
                        "overloaded: call refused"
                    );
                    let refusal = with_retry_after(
                        status(
                            Code::Unavailable,
                            OVERLOADED,
                            format!("{service} is overloaded, retry later"),
                        ),
                        self.layer.retry_after_secs,
                    );
                    return Box::pin(std::future::ready(Ok(refusal.into_http())));
                }
            },
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            drop(place);
            result
        })
    }
}
