//! Revocations close sockets: a revoked session (logout, password change, revoked
//! device) or a banned user learnt by this gateway's denylist gets a `session.revoked`
//! frame and its connections closed (4003) at once, within the second DESIGN.md
//! section 5 allows. The Push RPC's CloseSessions does the same on request.

use super::frames;
use super::hub::Hub;
use super::outbound::{Close, code};
use crate::auth::{Denylist, Revocation};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// The `reason` of a revoked session.
pub const SESSION_REVOKED: &str = "session_revoked";
/// The `reason` of a banned user.
pub const USER_BANNED: &str = "banned";

#[derive(Serialize)]
struct RevokedData<'a> {
    reason: &'a str,
}

/// How a revoked connection is closed: the `session.revoked` frame, then 4003.
pub fn revoked(reason: &str) -> Close {
    Close::new(code::REVOKED, "session revoked").after(frames::encode(
        "session.revoked",
        None,
        RevokedData { reason },
    ))
}

/// Closes connections as the revocation feed announces them. `feed` is subscribed by
/// the caller before any connection can open, so no revocation falls between.
pub fn spawn(
    mut feed: broadcast::Receiver<Revocation>,
    denylist: Arc<Denylist>,
    hub: Arc<Hub>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match feed.recv().await {
                Ok(Revocation::Session { session_id }) => {
                    let closed = hub.close(&[session_id], &[], &revoked(SESSION_REVOKED));
                    tracing::debug!(closed, "closed the sockets of a revoked session");
                }
                Ok(Revocation::User { user_id }) => {
                    let closed = hub.close(&[], &[user_id], &revoked(USER_BANNED));
                    tracing::debug!(closed, "closed the sockets of a banned user");
                }
                Err(RecvError::Lagged(missed)) => {
                    // Which ones were missed is unknown: check every connection.
                    let closed = hub.close_where(
                        |holder| {
                            denylist.is_session_revoked(&holder.session_id)
                                || denylist.is_user_banned(&holder.user_id)
                        },
                        &revoked(SESSION_REVOKED),
                    );
                    tracing::warn!(
                        missed,
                        closed,
                        "revocations were missed; swept every socket"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}
