//! Keeps the [`Authorizer`] current: identity's rules loaded at start (retried until
//! identity answers), again whenever identity announces a change on the bus
//! ([`AccessFeed::request_reload`], called by the identity event consumer), again right
//! after a change made through this gateway, and every [`RELOAD_INTERVAL`] regardless.

use super::authorizer::Authorizer;
use super::rules::AccessRules;
use crate::identity::{Identity, IdentityError};
use im_contracts::v1::{ListPoliciesRequest, ListRoleAssignmentsRequest};
use im_runtime::resilience::idempotent;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

/// How often the rules are reloaded even without an event (one may have been missed).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);
/// Waits between attempts while identity is unreachable.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot fetch the access rules: {0}")]
    Fetch(#[from] IdentityError),
    #[error("cannot build an enforcer from the access rules: {0}")]
    Build(#[from] casbin::Error),
}

/// Reloads of one gateway's rules. Cheap to clone.
#[derive(Clone)]
pub struct AccessFeed {
    identity: Identity,
    authorizer: Arc<Authorizer>,
    /// Set by [`Self::request_reload`]; the background task waits on it.
    wanted: Arc<Notify>,
    /// One reload at a time, so a slow one that read older rules cannot install them
    /// over a newer one.
    serial: Arc<Mutex<()>>,
}

impl AccessFeed {
    pub fn new(identity: Identity, authorizer: Arc<Authorizer>) -> Self {
        Self {
            identity,
            authorizer,
            wanted: Arc::default(),
            serial: Arc::default(),
        }
    }

    /// Fetches every rule from identity and puts them in force; on failure the rules in
    /// force stay.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.serial.lock().await;
        let rules = self.fetch().await?;
        self.authorizer.install(rules).await?;
        Ok(())
    }

    /// Asks the background task to reload soon (identity announced a change).
    pub fn request_reload(&self) {
        self.wanted.notify_one();
    }

    async fn fetch(&self) -> Result<AccessRules, IdentityError> {
        let policies = self
            .identity
            .access(ListPoliciesRequest {}, |mut c, r| async move {
                c.list_policies(idempotent(r)).await
            })
            .await?
            .policies;
        let roles = self
            .identity
            .access(
                ListRoleAssignmentsRequest::default(),
                |mut c, r| async move { c.list_role_assignments(idempotent(r)).await },
            )
            .await?;
        Ok(AccessRules {
            policies,
            assignments: roles.assignments,
            links: roles.links,
        })
    }

    /// Loads the rules now, then on every request and every [`RELOAD_INTERVAL`].
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = RETRY_MIN;
            loop {
                let wait = match self.reload().await {
                    Ok(()) => {
                        backoff = RETRY_MIN;
                        RELOAD_INTERVAL
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?backoff, "cannot reload the access rules");
                        let wait = backoff;
                        backoff = (backoff * 2).min(RETRY_MAX);
                        wait
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.wanted.notified() => {}
                }
            }
        })
    }
}
