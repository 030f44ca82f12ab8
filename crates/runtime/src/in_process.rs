//! Calls between the services of one process without a socket.
//!
//! `im serve` runs several services in one process. Each still listens on its own gRPC
//! port for other processes, but a call from one of them to another that this process
//! serves is handed straight to the callee's stack (its metrics, load shedding and
//! routes, as [`crate::grpc::serve`] layers them), in the caller's task. Nothing else
//! changes: the same protobuf messages and status codes, the same deadlines, circuit
//! breakers and retries of [`crate::resilience::ResilientChannel`]. What goes away is
//! the loopback TCP, HTTP/2 framing and the task hops on each side, which were a third
//! of the server's CPU time in the profile of a send through the API
//! (docs/BENCHMARKS.md).
//!
//! A caller finds the callee by endpoint: the one it registered, which is what the
//! registry hands out. [`InProcess::serve`] must therefore come before the instance is
//! registered, so that no caller of this process sees the endpoint and dials it.

use http::{Request, Response};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::Channel;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service};

/// A service's whole server-side stack, callable in this process.
pub type LocalService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The gRPC endpoints this process serves, by the endpoint each is registered under.
#[derive(Clone, Default)]
pub struct InProcess {
    served: Arc<RwLock<HashMap<String, LocalService>>>,
}

impl InProcess {
    /// Serves `endpoint` in this process from now on. Call it before the endpoint is
    /// registered.
    pub fn serve(&self, endpoint: &str, service: LocalService) {
        self.served
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(endpoint.to_owned(), service);
    }

    /// The service behind `endpoint`, when this process serves it.
    pub fn get(&self, endpoint: &str) -> Option<LocalService> {
        self.served
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(endpoint)
            .cloned()
    }
}

/// How a call reaches its service: an HTTP/2 channel, or the service itself when this
/// process serves it.
#[derive(Clone)]
pub enum Transport {
    Socket(Channel),
    InProcess(LocalService),
}

impl Transport {
    /// `endpoint` served in this process when it is, else a channel to it made by
    /// `dial`.
    pub fn to<E>(
        in_process: &InProcess,
        endpoint: &str,
        dial: impl FnOnce() -> Result<Channel, E>,
    ) -> Result<Self, E> {
        match in_process.get(endpoint) {
            Some(local) => Ok(Self::InProcess(local)),
            None => dial().map(Self::Socket),
        }
    }
}

type Exchange = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

impl Service<Request<Body>> for Transport {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Exchange;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::Socket(channel) => channel.poll_ready(cx).map_err(Into::into),
            Self::InProcess(local) => local.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: Request<Body>) -> Exchange {
        match self {
            Self::Socket(channel) => {
                let exchange = channel.call(request);
                Box::pin(async move { exchange.await.map_err(Into::into) })
            }
            Self::InProcess(local) => {
                // The stack polled ready takes the call; a clone waits for the next.
                let mut ready = std::mem::replace(local, local.clone());
                let uri = request.uri().clone();
                Box::pin(caught(uri, ready.call(request)))
            }
        }
    }
}

/// One in-process call, run in the caller's task. A panic in the callee fails this
/// call, as a panicking handler behind a socket resets its stream, instead of unwinding
/// through the caller.
async fn caught(
    uri: http::Uri,
    exchange: impl Future<Output = Result<Response<Body>, Infallible>>,
) -> Result<Response<Body>, BoxError> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(exchange).catch_unwind().await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(never)) => match never {},
        Err(_) => {
            let path = uri.path();
            tracing::error!(path, "an in-process gRPC handler panicked");
            Err(tonic::Status::internal(format!("the handler of {path} panicked")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    fn answering(code: tonic::Code) -> LocalService {
        BoxCloneSyncService::new(tower::service_fn(move |_: Request<Body>| async move {
            Ok::<_, Infallible>(tonic::Status::new(code, "test").into_http())
        }))
    }

    fn request() -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = http::Uri::from_static("/im.v1.Test/Get");
        request
    }

    #[tokio::test]
    async fn an_endpoint_served_here_is_called_without_dialing() {
        let in_process = InProcess::default();
        in_process.serve("http://127.0.0.1:1", answering(tonic::Code::NotFound));
        let transport = Transport::to(&in_process, "http://127.0.0.1:1", || {
            Err::<Channel, _>("dialed")
        })
        .unwrap();
        let response = transport.oneshot(request()).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "5");
        let other = Transport::to(&in_process, "http://127.0.0.1:2", || {
            Err::<Channel, _>("dialed")
        });
        assert_eq!(other.err(), Some("dialed"));
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_the_call_not_the_caller() {
        let panicking = BoxCloneSyncService::new(tower::service_fn(|_: Request<Body>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<Response<Body>, Infallible>(Response::new(Body::empty()))
        }));
        let error = Transport::InProcess(panicking)
            .oneshot(request())
            .await
            .unwrap_err();
        let status = tonic::Status::from_error(error);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("/im.v1.Test/Get"), "{status:?}");
    }
}
