//! The gateway's own Casbin adapter: the rules identity stores (policies, role
//! assignments, role inheritance) as fetched in one reload, loaded into a Casbin model.
//!
//! It is read-only: rules change through identity's AccessControl API (the admin
//! routes), never through Casbin, so every write of the adapter interface is refused.

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};
use im_access::{Rule, RuleError, validate_role};
use im_contracts::v1::{Policy, PolicyEffect, RoleAssignment, RoleLink};

/// Everything an enforcer is built from, as identity stores it.
#[derive(Debug, Clone, Default)]
pub struct AccessRules {
    /// `p` lines: who may (or may not) do what.
    pub policies: Vec<Policy>,
    /// `g` lines user → role.
    pub assignments: Vec<RoleAssignment>,
    /// `g` lines role → parent role (`admin` inherits `user`).
    pub links: Vec<RoleLink>,
}

/// The text of a stored effect, as [`Rule::parse`] reads it (empty when unknown).
pub fn effect_text(policy: &Policy) -> &'static str {
    match policy.effect() {
        PolicyEffect::Allow => "allow",
        PolicyEffect::Deny => "deny",
        PolicyEffect::Unspecified => "",
    }
}

/// The Casbin `p` line of a stored policy, if it still validates.
fn policy_line(policy: &Policy) -> Result<Vec<String>, RuleError> {
    Rule::parse(
        &policy.subject,
        &policy.object,
        &policy.action,
        effect_text(policy),
    )?
    .to_casbin()
}

impl AccessRules {
    /// The `p` lines of every stored policy that still validates; the others are left
    /// out (and logged): a rule that no longer compiles must not break enforcement.
    pub fn policy_lines(&self) -> Vec<Vec<String>> {
        self.policies
            .iter()
            .filter_map(|policy| match policy_line(policy) {
                Ok(line) => Some(line),
                Err(error) => {
                    tracing::warn!(
                        id = %policy.id,
                        subject = %policy.subject,
                        object = %policy.object,
                        action = %policy.action,
                        %error,
                        "skipping a stored access policy that does not validate"
                    );
                    None
                }
            })
            .collect()
    }

    /// The `g` lines: user → role, then role → parent.
    pub fn grouping_lines(&self) -> Vec<Vec<String>> {
        let assignments = self
            .assignments
            .iter()
            .map(|assignment| (assignment.user_id.as_str(), assignment.role.as_str()));
        let links = self
            .links
            .iter()
            .map(|link| (link.role.as_str(), link.parent.as_str()));
        assignments
            .chain(links)
            .filter(|(member, role)| {
                let valid = !member.is_empty() && validate_role(role).is_ok();
                if !valid {
                    tracing::warn!(member, role, "skipping a malformed stored role entry");
                }
                valid
            })
            .map(|(member, role)| vec![member.to_owned(), role.to_owned()])
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("access rules change through identity's AccessControl API, not through Casbin")]
struct ReadOnly;

fn read_only<T>() -> casbin::Result<T> {
    Err(AdapterError(Box::new(ReadOnly)).into())
}

#[async_trait]
impl Adapter for AccessRules {
    async fn load_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        for line in self.policy_lines() {
            model.add_policy("p", "p", line);
        }
        for line in self.grouping_lines() {
            model.add_policy("g", "g", line);
        }
        Ok(())
    }

    /// Filters are not used by the gateway: everything is loaded.
    async fn load_filtered_policy<'a>(
        &mut self,
        model: &mut dyn Model,
        _filter: Filter<'a>,
    ) -> casbin::Result<()> {
        self.load_policy(model).await
    }

    async fn save_policy(&mut self, _: &mut dyn Model) -> casbin::Result<()> {
        read_only()
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        read_only()
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(&mut self, _: &str, _: &str, _: Vec<String>) -> casbin::Result<bool> {
        read_only()
    }

    async fn add_policies(
        &mut self,
        _: &str,
        _: &str,
        _: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_policy(&mut self, _: &str, _: &str, _: Vec<String>) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_policies(
        &mut self,
        _: &str,
        _: &str,
        _: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_filtered_policy(
        &mut self,
        _: &str,
        _: &str,
        _: usize,
        _: Vec<String>,
    ) -> casbin::Result<bool> {
        read_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(id: &str, object: &str, effect: PolicyEffect) -> Policy {
        Policy {
            id: id.into(),
            subject: "user".into(),
            object: object.into(),
            action: "GET".into(),
            effect: effect.into(),
        }
    }

    #[test]
    fn stored_rules_that_no_longer_validate_are_skipped() {
        let rules = AccessRules {
            policies: vec![
                policy("p1", "/api/v1/users/:id", PolicyEffect::Allow),
                policy("p2", "/api/(", PolicyEffect::Allow),
                policy("p3", "/api/v1/x", PolicyEffect::Unspecified),
                policy("p4", "/api/v1/admin/*", PolicyEffect::Deny),
            ],
            ..AccessRules::default()
        };
        assert_eq!(
            rules.policy_lines(),
            vec![
                vec![
                    "user".to_owned(),
                    "^(?:/api/v1/users/[^/]+)$".into(),
                    "^(?:GET)$".into(),
                    "allow".into()
                ],
                vec![
                    "user".to_owned(),
                    "^(?:/api/v1/admin(?:/.*)?)$".into(),
                    "^(?:GET)$".into(),
                    "deny".into()
                ],
            ]
        );
    }

    #[test]
    fn assignments_then_links_become_grouping_lines() {
        let rules = AccessRules {
            assignments: vec![
                RoleAssignment {
                    user_id: "u1".into(),
                    role: "moderator".into(),
                },
                RoleAssignment {
                    user_id: "u2".into(),
                    role: "Not A Role".into(),
                },
            ],
            links: vec![RoleLink {
                role: "admin".into(),
                parent: "user".into(),
            }],
            ..AccessRules::default()
        };
        assert_eq!(
            rules.grouping_lines(),
            vec![
                vec!["u1".to_owned(), "moderator".into()],
                vec!["admin".to_owned(), "user".into()],
            ]
        );
    }
}
