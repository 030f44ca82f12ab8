//! The access rules as Casbin enforces them, decided by the Authorizer itself from
//! rules in memory: who may call what.

use im_access::{DEFAULT_ROLE_LINKS, Effect, Rule, default_rules};
use im_contracts::v1::{Policy, PolicyEffect, RoleAssignment, RoleLink};
use im_gateway::{AccessRules, Authorizer, DENIED_METRIC, Decision, DenyReason};
use metrics_exporter_prometheus::PrometheusBuilder;

fn policy(n: usize, rule: &Rule) -> Policy {
    Policy {
        id: format!("p{n}"),
        subject: rule.subject.clone(),
        object: rule.object.clone(),
        action: rule.action.clone(),
        effect: match rule.effect {
            Effect::Allow => PolicyEffect::Allow,
            Effect::Deny => PolicyEffect::Deny,
        }
        .into(),
    }
}

/// The defaults plus `extra` (`subject, object, action, effect`), with these roles.
fn rules(extra: &[(&str, &str, &str, &str)], roles: &[(&str, &str)]) -> AccessRules {
    let mut all = default_rules();
    all.extend(
        extra
            .iter()
            .map(|(s, o, a, e)| Rule::parse(s, o, a, e).unwrap()),
    );
    AccessRules {
        policies: all.iter().enumerate().map(|(n, r)| policy(n, r)).collect(),
        assignments: roles
            .iter()
            .map(|(user_id, role)| RoleAssignment {
                user_id: (*user_id).into(),
                role: (*role).into(),
            })
            .collect(),
        links: DEFAULT_ROLE_LINKS
            .iter()
            .chain(&[("senior-mod", "moderator")])
            .map(|(role, parent)| RoleLink {
                role: (*role).into(),
                parent: (*parent).into(),
            })
            .collect(),
    }
}

async fn authorizer(rules: AccessRules) -> Authorizer {
    let authorizer = Authorizer::new();
    authorizer.install(rules).await.unwrap();
    authorizer
}

#[tokio::test]
async fn who_may_call_what() {
    let authorizer = authorizer(rules(
        &[
            (
                "moderator",
                "/api/v1/admin/users/:id/ban",
                "POST|DELETE",
                "allow",
            ),
            ("auditor", "/api/v1/admin/*", "GET", "allow"),
            ("u-special", "/api/v1/reports/[0-9]+", "GET", "allow"),
            ("u-troll", "/api/v1/conversations/*", ".*", "deny"),
            ("admin", "/api/v1/admin/policies/:id", "DELETE", "deny"),
            ("user", "/api/v1/users/me/password", "PUT", "deny"),
        ],
        &[
            ("u-admin", "admin"),
            ("u-mod", "moderator"),
            ("u-audit", "auditor"),
            ("u-senior", "senior-mod"),
        ],
    ))
    .await;
    let cases = [
        // (user, method, path, allowed)
        ("u1", "GET", "/api/v1/users/me", true),
        ("u1", "POST", "/api/v1/conversations/c1/messages", true),
        ("u1", "GET", "/api/v1/admin/users", false),
        ("u1", "GET", "/evil/api/v1/users/me", false),
        ("u1", "GET", "/api/v1/usersx", false),
        // role inheritance: admin inherits user, senior-mod inherits moderator
        ("u-admin", "GET", "/api/v1/admin/users", true),
        ("u-admin", "GET", "/api/v1/sessions", true),
        ("u-senior", "POST", "/api/v1/admin/users/u9/ban", true),
        ("u-senior", "GET", "/api/v1/admin/users", false),
        // keyMatch-style `:id`: exactly one segment
        ("u-mod", "POST", "/api/v1/admin/users/u9/ban", true),
        ("u-mod", "DELETE", "/api/v1/admin/users/u9/ban", true),
        ("u-mod", "GET", "/api/v1/admin/users/u9/ban", false),
        ("u-mod", "POST", "/api/v1/admin/users/a/b/ban", false),
        ("u-mod", "POST", "/api/v1/admin/users//ban", false),
        ("u-mod", "POST", "/api/v1/admin/policies", false),
        // trailing `/*`: the directory and everything below, nothing beside
        ("u-audit", "GET", "/api/v1/admin", true),
        ("u-audit", "GET", "/api/v1/admin/policies/p7", true),
        ("u-audit", "HEAD", "/api/v1/admin/users", true),
        ("u-audit", "POST", "/api/v1/admin/policies", false),
        ("u-audit", "GET", "/api/v1/administrators", false),
        // a regular expression, for one user id
        ("u-special", "GET", "/api/v1/reports/42", true),
        ("u-special", "GET", "/api/v1/reports/42x", false),
        ("u1", "GET", "/api/v1/reports/42", false),
        // deny overrides allow: for a user, for a role, for everyone
        ("u-troll", "GET", "/api/v1/conversations/c1", false),
        ("u-troll", "GET", "/api/v1/users/me", true),
        ("u-admin", "DELETE", "/api/v1/admin/policies/p1", false),
        ("u-admin", "GET", "/api/v1/admin/policies/p1", true),
        ("u1", "PUT", "/api/v1/users/me/password", false),
        ("u-admin", "PUT", "/api/v1/users/me/password", false),
    ];
    for (user, method, path, allowed) in cases {
        let decision = authorizer.check(user, method, path);
        assert_eq!(
            decision == Decision::Allowed,
            allowed,
            "{user} {method} {path}: {decision:?}"
        );
    }
}

#[tokio::test]
async fn a_denial_names_the_deny_rule_or_the_missing_allow() {
    let authorizer = authorizer(rules(
        &[("u-troll", "/api/v1/conversations/*", ".*", "deny")],
        &[],
    ))
    .await;
    let Decision::Denied(DenyReason::DenyRule(rule)) =
        authorizer.check("u-troll", "GET", "/api/v1/conversations/c1")
    else {
        panic!("a deny rule decided");
    };
    assert_eq!(rule[0], "u-troll");
    assert_eq!(rule[3], "deny");
    assert_eq!(
        authorizer.check("u1", "GET", "/api/v1/admin/users"),
        Decision::Denied(DenyReason::NoAllowRule)
    );
}

#[tokio::test]
async fn nothing_is_allowed_before_rules_are_loaded_and_a_reload_replaces_them() {
    let authorizer = Authorizer::new();
    assert!(!authorizer.is_loaded());
    assert_eq!(
        authorizer.check("u-admin", "GET", "/api/v1/users/me"),
        Decision::Unavailable
    );
    authorizer
        .install(rules(&[], &[("u-admin", "admin")]))
        .await
        .unwrap();
    assert_eq!(
        authorizer.check("u-admin", "GET", "/api/v1/admin/users"),
        Decision::Allowed
    );
    authorizer.install(rules(&[], &[])).await.unwrap();
    assert!(matches!(
        authorizer.check("u-admin", "GET", "/api/v1/admin/users"),
        Decision::Denied(_)
    ));
}

#[tokio::test]
async fn a_stored_rule_that_no_longer_validates_is_skipped() {
    let mut broken = rules(&[], &[]);
    broken.policies.push(Policy {
        id: "p-bad".into(),
        subject: "user".into(),
        object: "/api/(".into(),
        action: ".*".into(),
        effect: PolicyEffect::Allow.into(),
    });
    let authorizer = authorizer(broken).await;
    assert_eq!(
        authorizer.check("u1", "GET", "/api/v1/users/me"),
        Decision::Allowed
    );
    assert!(matches!(
        authorizer.check("u1", "GET", "/api/("),
        Decision::Denied(_)
    ));
}

#[tokio::test]
async fn denials_are_counted_by_reason() {
    let authorizer = authorizer(rules(
        &[("u-troll", "/api/v1/conversations/*", ".*", "deny")],
        &[],
    ))
    .await;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        authorizer.check("u1", "GET", "/api/v1/admin/users");
        authorizer.check("u1", "DELETE", "/api/v1/admin/policies/p1");
        authorizer.check("u-troll", "GET", "/api/v1/conversations/c1");
        authorizer.check("u1", "GET", "/api/v1/users/me");
    });
    let text = handle.render();
    assert!(
        text.contains(&format!(r#"{DENIED_METRIC}{{reason="no_allow_rule"}} 2"#)),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"{DENIED_METRIC}{{reason="deny_rule"}} 1"#)),
        "{text}"
    );
}
