//! Authentication at the edge: who is calling (client address, access token), and what
//! this gateway refuses regardless (blocked addresses, revoked sessions, banned users).
//! What an authenticated caller may do is then up to [`crate::authz`].
//!
//! Tokens are verified locally against identity's cached public keys; the denylist is
//! fed by identity's snapshot and events, so identity being down does not stop users
//! who already hold a token (DESIGN.md section 6).

mod client_ip;
mod denylist;
mod denylist_feed;
mod middleware;
mod principal;
mod public_routes;
mod verifier;

pub use client_ip::{ClientIp, TrustedProxies};
pub use denylist::{Denylist, Revocation, parse_network};
pub use denylist_feed::{BackgroundTasks, spawn_events, spawn_snapshots};
pub use middleware::{authenticate, bearer_token, guard_ip};
pub use principal::Principal;
pub use public_routes::PublicRoutes;
pub use verifier::TokenVerifier;

use crate::authz::{Authorizer, Decision};
use crate::http::ApiError;
use axum::http::StatusCode;
use std::sync::Arc;

/// Seconds a client should wait while no access rules are loaded yet.
const RULES_RETRY_AFTER_S: u64 = 2;

/// Everything the authentication middleware consults.
pub struct Auth {
    pub verifier: TokenVerifier,
    pub denylist: Arc<Denylist>,
    pub public_routes: PublicRoutes,
    pub proxies: TrustedProxies,
    /// Decides, once the caller is known, whether they may call the route.
    pub authorizer: Arc<Authorizer>,
}

impl Auth {
    /// The principal behind an access token, if the token is valid and neither its
    /// session is revoked nor its user banned. `remember` keeps a valid token's claims
    /// for its next request (REST calls; a WebSocket verifies once and stays).
    pub async fn principal(&self, token: &str, remember: bool) -> Result<Principal, ApiError> {
        let claims = self.verifier.verify(token, remember).await?;
        if self.denylist.is_session_revoked(&claims.sid) {
            return Err(ApiError::unauthorized(
                "session_revoked",
                "this session has been revoked; log in again",
            ));
        }
        if self.denylist.is_user_banned(&claims.sub) {
            return Err(ApiError::forbidden("user_banned", "this account is banned"));
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            expires_at: claims.exp,
        })
    }

    /// Whether the access rules let `principal` send `method` to `path`; the refusal
    /// otherwise (403, or 503 while no rules are loaded).
    pub fn authorize(
        &self,
        principal: &Principal,
        method: &str,
        path: &str,
    ) -> Result<(), ApiError> {
        match self.authorizer.check(&principal.user_id, method, path) {
            Decision::Allowed => Ok(()),
            Decision::Denied(_) => Err(ApiError::forbidden(
                "forbidden",
                "you are not allowed to do this",
            )),
            Decision::Unavailable => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "authorization_unavailable",
                "access rules are not loaded yet, retry later",
            )
            .with_retry_after(RULES_RETRY_AFTER_S)),
            Decision::Failed => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )),
        }
    }
}
