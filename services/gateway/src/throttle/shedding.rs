//! Load shedding: a cap on the HTTP requests this gateway serves at once. Beyond it a
//! request is answered 503 `overloaded` with `Retry-After` at once, not queued: a
//! queue would only make every client wait longer and then time out anyway.
//!
//! A request counts until its response head is ready, so an upgraded WebSocket stops
//! counting once it answered 101. Health probes never count and are never shed: an
//! orchestrator must not restart a node for being busy.

use crate::http::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The requests in flight; cheap to clone.
#[derive(Clone)]
pub struct InFlight {
    /// `None`: no cap.
    permits: Option<Arc<Semaphore>>,
}

impl InFlight {
    /// At most `max` requests at once; 0 means no cap.
    pub fn new(max: usize) -> Self {
        Self {
            permits: (max > 0).then(|| Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)))),
        }
    }
}

pub async fn shed_load(
    State(in_flight): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    let Some(permits) = &in_flight.permits else {
        return next.run(request).await;
    };
    if matches!(request.uri().path(), "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    let Ok(_permit) = permits.clone().try_acquire_owned() else {
        metrics::counter!(super::OVERLOADED_METRIC).increment(1);
        return ApiError::overloaded().into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tower::ServiceExt as _;

    /// `/slow` counts itself in `entered`, then answers once `gate` has a permit.
    fn app(max: usize, gate: Arc<Semaphore>, entered: Arc<AtomicUsize>) -> Router {
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let gate = gate.clone();
                    let entered = entered.clone();
                    async move {
                        entered.fetch_add(1, Ordering::SeqCst);
                        drop(gate.acquire().await);
                    }
                }),
            )
            .route("/healthz", get(|| async {}))
            .layer(axum::middleware::from_fn_with_state(
                InFlight::new(max),
                shed_load,
            ))
    }

    fn get_request(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn beyond_the_cap_requests_are_shed_at_once_and_served_again_after() {
        let gate = Arc::new(Semaphore::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let app = app(2, gate.clone(), entered.clone());
        let held: Vec<_> = (0..2)
            .map(|_| tokio::spawn(app.clone().oneshot(get_request("/slow"))))
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while entered.load(Ordering::SeqCst) < 2 {
            assert!(std::time::Instant::now() < deadline, "never served");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let shed = app.clone().oneshot(get_request("/slow")).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        let probe = app.clone().oneshot(get_request("/healthz")).await.unwrap();
        assert_eq!(probe.status(), StatusCode::OK, "probes are never shed");

        gate.add_permits(1);
        for request in held {
            assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
        }
        let served = app.oneshot(get_request("/slow")).await.unwrap();
        assert_eq!(served.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn no_cap_sheds_nothing() {
        let response = app(0, Arc::new(Semaphore::new(1)), Arc::default())
            .oneshot(get_request("/slow"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
