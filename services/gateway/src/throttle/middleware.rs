//! The rate limit of every routed request. It runs after authentication, so a request
//! with a valid token spends its user's budget and one without (a public route, a
//! WebSocket upgrade) its client address's.

use super::{Caller, EdgeLimits, Scope};
use crate::auth::{ClientIp, Principal};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn throttle(
    State(limits): State<Arc<EdgeLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let extensions = request.extensions();
    let route = extensions
        .get::<MatchedPath>()
        .and_then(|route| Scope::of_route(request.method(), route.as_str()));
    let caller = match (extensions.get::<Principal>(), extensions.get::<ClientIp>()) {
        (Some(principal), _) => Caller::User(&principal.user_id),
        (None, Some(ClientIp(Some(ip)))) => Caller::Ip(*ip),
        (None, _) => Caller::Unknown,
    };
    if let Err(refusal) = limits.admit(caller, route).await {
        return refusal.into_response();
    }
    next.run(request).await
}
