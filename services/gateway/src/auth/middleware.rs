//! The two request guards, in the order requests meet them:
//! 1. [`guard_ip`] (every request, routed or not): resolve the client address, refuse
//!    blocked ones with 403 `ip_blocked`;
//! 2. [`authenticate`] (every routed request): let public routes pass, otherwise demand
//!    a valid Bearer token of a live session of a user who is not banned, then ask the
//!    access rules (Casbin) whether that user may call this method on this path; the
//!    caller becomes a [`Principal`] extension.

use super::{Auth, Principal};
use crate::http::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn guard_ip(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = auth.proxies.client_ip(peer, request.headers());
    if let Some(ip) = client.0
        && auth.denylist.is_ip_blocked(ip)
    {
        tracing::info!(%ip, "refused a blocked address");
        return ApiError::forbidden("ip_blocked", "requests from this address are refused")
            .into_response();
    }
    request.extensions_mut().insert(client);
    next.run(request).await
}

pub async fn authenticate(
    State(auth): State<Arc<Auth>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if auth.public_routes.is_public(request.method(), path) {
        return next.run(request).await;
    }
    let principal = match bearer_token(request.headers()) {
        Ok(token) => auth.principal(token, true).await,
        Err(error) => Err(error),
    };
    let principal: Principal = match principal {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if let Err(refusal) = auth.authorize(&principal, request.method().as_str(), path) {
        return refusal.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "missing_token",
            "an `Authorization: Bearer` access token is required",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| {
            ApiError::unauthorized("invalid_token", "the Authorization header is not text")
        })?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the Bearer token is empty",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(
            bearer_token(&with_authorization("Bearer abc")).unwrap(),
            "abc"
        );
        assert_eq!(
            bearer_token(&with_authorization("bearer  abc ")).unwrap(),
            "abc"
        );
    }

    #[test]
    fn other_schemes_and_absence_are_missing_tokens() {
        for headers in [
            HeaderMap::new(),
            with_authorization("Basic dXNlcjpwdw=="),
            with_authorization("Bearer"),
        ] {
            assert_eq!(bearer_token(&headers).unwrap_err().code, "missing_token");
        }
    }
}
