//! The public HTTP application: routes, and the layers every request passes through
//! (request id, trace span, metrics, JSON errors).

mod error;

pub use error::ApiError;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use im_runtime::health::{self, Health};
use im_runtime::metrics::track_http;
use im_runtime::telemetry;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(health: Health) -> Router {
    Router::new()
        .merge(health::routes(health))
        .route_layer(axum::middleware::from_fn(track_http))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}

/// One span per request, carrying the ids every log line inside it should show.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    let trace_id = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(telemetry::trace_id_from_traceparent)
        .map_or_else(telemetry::new_trace_id, str::to_owned);
    tracing::info_span!(
        "http",
        service = "gateway",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        trace_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, StatusCode};
    use tower::ServiceExt;

    async fn call(
        method: Method,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = router(Health::default()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn unknown_routes_get_a_json_404_with_a_request_id() {
        let (status, headers, body) = call(Method::GET, "/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(headers.contains_key("x-request-id"));
    }

    #[tokio::test]
    async fn wrong_method_gets_a_json_405() {
        let (status, _, body) = call(Method::DELETE, "/healthz").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn health_is_answered_on_the_public_port() {
        let (status, _, body) = call(Method::GET, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        let (status, _, body) = call(Method::GET, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["ready"], true);
    }
}
