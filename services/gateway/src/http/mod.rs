//! The public HTTP application: routes, and the layers every request passes through
//! (request id, trace span, load shedding, address guard, metrics, authentication and
//! authorization, rate limits, JSON errors).

mod admin;
mod auth;
mod blocks;
mod contacts;
mod conversations;
mod error;
mod friend_requests;
mod groups;
mod joins;
mod json;
mod known_users;
mod members;
mod messages;
mod openapi;
mod params;
mod policies;
mod presence;
mod roles;
mod sessions;
mod sync;
mod users;
pub(crate) mod views;

pub use error::{ApiError, ErrorBody};
pub use openapi::document as openapi_document;

use crate::auth::{Auth, BackgroundTasks, Denylist, authenticate, guard_ip};
use crate::authz::AccessFeed;
use crate::conversation::Conversation;
use crate::identity::Identity;
use crate::throttle::{EdgeLimits, InFlight, shed_load, throttle};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use im_contracts::v1::RevokedSession;
use im_runtime::health::{self, Health};
use im_runtime::metrics::track_http;
use im_runtime::telemetry;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub identity: Identity,
    pub conversation: Conversation,
    /// The WebSocket side: this node's connections and what they call.
    pub live: Arc<crate::ws::Live>,
    /// Reloads this gateway's access rules (after a change made through it).
    pub access: AccessFeed,
    pub auth: Arc<Auth>,
    /// Largest accepted JSON body.
    pub max_body_bytes: usize,
    /// Request quotas (and the WebSocket's, through `live`).
    pub limits: Arc<EdgeLimits>,
    /// The cap on requests in flight.
    pub in_flight: InFlight,
    /// Background work (the denylist feed): held, never read, so that it stops when
    /// the last clone of this state (the last router) is dropped.
    pub _tasks: Arc<BackgroundTasks>,
}

impl AppState {
    /// Makes a revocation effective on this gateway at once, ahead of identity's event.
    pub fn revoke_locally(&self, user_id: &str, session_id: &str) {
        self.auth.denylist.revoke_session(&RevokedSession {
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            forget_after_ms: 0,
        });
    }

    pub fn denylist(&self) -> &Arc<Denylist> {
        &self.auth.denylist
    }

    /// Puts a change of the access rules made through this gateway in force here at
    /// once, ahead of identity's event. The change is stored either way: a failed
    /// reload is logged and left to the background feed.
    pub async fn reload_access(&self) {
        if let Err(error) = self.access.reload().await {
            tracing::warn!(%error, "cannot reload the access rules after a change");
            self.access.request_reload();
        }
    }
}

/// Every documented route of the API, without state or layers.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(auth::router())
        .merge(users::router())
        .merge(sessions::router())
        .merge(admin::router())
        .merge(policies::router())
        .merge(roles::router())
        .merge(friend_requests::router())
        .merge(contacts::router())
        .merge(blocks::router())
        .merge(conversations::router())
        .merge(groups::router())
        .merge(members::router())
        .merge(joins::router())
        .merge(messages::router())
        .merge(sync::router())
        .merge(presence::router())
        .merge(openapi::router())
}

pub fn router(state: AppState, health: Health) -> Router {
    let (api, _) = api_routes().split_for_parts();
    let auth = state.auth.clone();
    let max_body_bytes = state.max_body_bytes;
    let limits = state.limits.clone();
    let in_flight = state.in_flight.clone();
    Router::new()
        .merge(api.with_state(state.clone()))
        .merge(health::routes(health))
        // After authentication: a signed-in caller spends their own budget.
        .route_layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            throttle,
        ))
        // Route layers run for matched routes only: unknown paths answer 404 without
        // asking for a token. Wrong methods answer 405 without one too: the 405
        // fallback set below replaces the (layered) default one.
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            authenticate,
        ))
        // Merged after the bearer middleware, which it must not pass: a WebSocket may
        // carry its token in the query or its first frame, and is checked there alike.
        // Its upgrades spend the client address's budget.
        .merge(
            crate::ws::router()
                .route_layer(axum::middleware::from_fn_with_state(limits, throttle))
                .with_state(state),
        )
        .route_layer(axum::middleware::from_fn(track_http))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(auth, guard_ip))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // Outside everything but the request id and span: shedding must cost nothing.
        .layer(axum::middleware::from_fn_with_state(in_flight, shed_load))
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
