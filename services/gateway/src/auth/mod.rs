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
pub use middleware::{authenticate, guard_ip};
pub use principal::Principal;
pub use public_routes::PublicRoutes;
pub use verifier::TokenVerifier;

use crate::authz::Authorizer;
use crate::http::ApiError;
use std::sync::Arc;

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
    /// session is revoked nor its user banned.
    pub async fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self.verifier.verify(token).await?;
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
}
