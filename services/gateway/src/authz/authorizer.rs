//! The [`Authorizer`]: the Casbin enforcer currently in force on this gateway, swapped
//! whole on every reload, and the decision for one request.

use super::regex_cache;
use super::rules::AccessRules;
use casbin::function_map::OperatorFunction;
use casbin::{CoreApi, DefaultModel, Enforcer};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// The Prometheus counter of refused requests, by [`DenyReason::label`].
pub const DENIED_METRIC: &str = "im_authz_denied_total";

/// What the rules say about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied(DenyReason),
    /// No rules were loaded yet: every request is refused until they are (fail closed).
    Unavailable,
    /// The enforcer failed to evaluate (logged); the request is refused.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// This deny rule matched, as loaded: `[subject, object regex, action regex, "deny"]`.
    DenyRule(Vec<String>),
    /// No allow rule matched.
    NoAllowRule,
}

impl DenyReason {
    /// The bounded `reason` label of [`DENIED_METRIC`].
    pub fn label(&self) -> &'static str {
        match self {
            Self::DenyRule(_) => "deny_rule",
            Self::NoAllowRule => "no_allow_rule",
        }
    }
}

/// The enforcer in force. Requests read it without waiting on reloads: a reload builds
/// a whole new enforcer aside and swaps it in; a failed build keeps the old one.
#[derive(Default)]
pub struct Authorizer {
    current: RwLock<Option<Arc<Enforcer>>>,
    /// Woken on every install, for [`Self::loaded`].
    installed: Notify,
}

impl Authorizer {
    /// An authorizer without rules: it refuses everything until [`Self::install`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether rules were loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.enforcer().is_some()
    }

    /// Resolves once rules were loaded at least once (at once if they are).
    pub async fn loaded(&self) {
        loop {
            let installed = self.installed.notified();
            if self.is_loaded() {
                return;
            }
            installed.await;
        }
    }

    /// Builds an enforcer of [`im_access::MODEL`] from `rules` and puts it in force.
    pub async fn install(&self, rules: AccessRules) -> casbin::Result<()> {
        let (policies, assignments, links) = (
            rules.policies.len(),
            rules.assignments.len(),
            rules.links.len(),
        );
        let model = DefaultModel::from_str(im_access::MODEL).await?;
        let mut enforcer = Enforcer::new(model, rules).await?;
        // Casbin's own compiles the pattern on every call and panics on a bad one.
        enforcer.add_function(
            "regexMatch",
            OperatorFunction::Arg2(regex_cache::regex_match),
        );
        let replaced = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .replace(Arc::new(enforcer));
        // Dropped outside the lock: an enforcer's teardown joins its logger's thread.
        drop(replaced);
        self.installed.notify_waiters();
        tracing::debug!(policies, assignments, links, "access rules in force");
        Ok(())
    }

    fn enforcer(&self) -> Option<Arc<Enforcer>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// May `user_id` send `method` to `path`? A denial is logged and counted.
    /// `HEAD` is decided as `GET`, since the GET handler answers it.
    pub fn check(&self, user_id: &str, method: &str, path: &str) -> Decision {
        let Some(enforcer) = self.enforcer() else {
            return Decision::Unavailable;
        };
        let action = if method == "HEAD" { "GET" } else { method };
        let (allowed, explained) = match enforcer.enforce_ex((user_id, path, action)) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, user_id, path, method, "access rules failed to evaluate");
                return Decision::Failed;
            }
        };
        if allowed {
            return Decision::Allowed;
        }
        // The explanation lists the rules that decided: with a deny, that deny is one.
        let reason = explained
            .into_iter()
            .find(|rule| rule.get(3).is_some_and(|effect| effect == "deny"))
            .map_or(DenyReason::NoAllowRule, DenyReason::DenyRule);
        match &reason {
            DenyReason::DenyRule(rule) => tracing::info!(
                user_id,
                path,
                method,
                rule = %rule.join(", "),
                "request denied by a deny rule"
            ),
            DenyReason::NoAllowRule => {
                tracing::info!(user_id, path, method, "request denied: no allow rule")
            }
        }
        metrics::counter!(DENIED_METRIC, "reason" => reason.label()).increment(1);
        Decision::Denied(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_contracts::v1::{Policy, PolicyEffect};

    #[tokio::test]
    async fn patterns_are_matched_through_the_kept_regexes() {
        let authorizer = Authorizer::new();
        let rules = AccessRules {
            policies: vec![Policy {
                id: "p1".into(),
                subject: "user".into(),
                object: "/api/v1/kept/:id".into(),
                action: "PATCH".into(),
                effect: PolicyEffect::Allow.into(),
            }],
            ..AccessRules::default()
        };
        authorizer.install(rules).await.unwrap();
        assert_eq!(
            authorizer.check("u1", "PATCH", "/api/v1/kept/7"),
            Decision::Allowed
        );
        assert!(regex_cache::is_cached("^(?:/api/v1/kept/[^/]+)$"));
        assert!(regex_cache::is_cached("^(?:PATCH)$"));
    }

    #[tokio::test]
    async fn waiting_for_rules_ends_when_the_first_are_installed() {
        let authorizer = Arc::new(Authorizer::new());
        let waiting = tokio::spawn({
            let authorizer = authorizer.clone();
            async move { authorizer.loaded().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no rules were installed yet");

        authorizer.install(AccessRules::default()).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("still waiting after the rules were installed")
            .unwrap();
        // Once loaded, waiting ends at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), authorizer.loaded())
            .await
            .expect("waited although rules are loaded");
    }
}
