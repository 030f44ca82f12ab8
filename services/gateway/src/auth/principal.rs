//! The authenticated caller of a request, put there by the authentication middleware.
//! The token's `roles` claim is not kept: what a caller may do is decided by the access
//! rules in force ([`crate::authz`]), so a role change applies before the token expires.

use super::client_ip::ClientIp;
use crate::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub session_id: String,
    /// When the access token expires, unix seconds.
    pub expires_at: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Absent only when a route that needs a caller was configured as public.
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            ApiError::unauthorized("missing_token", "this route needs an access token")
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(None)))
    }
}
