//! Access control: the rules gateways enforce and who holds which role, as an
//! administrator manages them, and the events gateways reload them on.

use crate::harness::{Events, PASSWORD, TestApp, on_every_backend, refused};
use im_contracts::v1 as pb;
use im_contracts::v1::identity_event::Kind;
use pb::PolicyEffect::{Allow, Deny, Unspecified};
use sea_orm::ConnectionTrait as _;
use tonic::Code;

on_every_backend!(
    defaults_are_seeded_and_rules_are_added_and_removed,
    malformed_rules_are_refused_and_nothing_is_stored,
    roles_are_assigned_and_unassigned,
    the_access_migration_can_run_again_without_duplicating_its_seeds,
);

fn add_request(
    subject: &str,
    object: &str,
    action: &str,
    effect: pb::PolicyEffect,
) -> pb::AddPolicyRequest {
    pb::AddPolicyRequest {
        subject: subject.into(),
        object: object.into(),
        action: action.into(),
        effect: effect.into(),
        actor_id: "admin-1".into(),
    }
}

fn role_request(user_id: &str, role: &str) -> pb::AssignRoleRequest {
    pb::AssignRoleRequest {
        user_id: user_id.into(),
        role: role.into(),
        actor_id: "admin-1".into(),
    }
}

fn unassign_request(user_id: &str, role: &str) -> pb::UnassignRoleRequest {
    pb::UnassignRoleRequest {
        user_id: user_id.into(),
        role: role.into(),
        actor_id: "admin-1".into(),
    }
}

fn remove_request(id: &str) -> pb::RemovePolicyRequest {
    pb::RemovePolicyRequest {
        id: id.into(),
        actor_id: "admin-1".into(),
    }
}

impl TestApp {
    async fn policies(&self) -> Vec<pb::Policy> {
        self.access
            .clone()
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .unwrap()
            .into_inner()
            .policies
    }

    async fn role_assignments(&self, role: &str, user_id: &str) -> pb::ListRoleAssignmentsResponse {
        self.access
            .clone()
            .list_role_assignments(pb::ListRoleAssignmentsRequest {
                role: role.into(),
                user_id: user_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
}

/// A policy without its id, to compare with what was asked.
fn rule(policy: &pb::Policy) -> (&str, &str, &str, pb::PolicyEffect) {
    (
        policy.subject.as_str(),
        policy.object.as_str(),
        policy.action.as_str(),
        policy.effect(),
    )
}

fn access_changed(user_id: &str) -> (String, Kind) {
    (
        "access".to_owned(),
        Kind::AccessChanged(pb::AccessChanged {
            user_id: user_id.into(),
        }),
    )
}

async fn defaults_are_seeded_and_rules_are_added_and_removed(app: TestApp) {
    let defaults = app.policies().await;
    let expected: Vec<_> = im_access::default_rules()
        .into_iter()
        .map(|rule| {
            let effect = match rule.effect {
                im_access::Effect::Allow => Allow,
                im_access::Effect::Deny => Deny,
            };
            (rule.subject, rule.object, rule.action, effect)
        })
        .collect();
    let seeded: Vec<_> = defaults
        .iter()
        .map(|p| {
            let (subject, object, action, effect) = rule(p);
            (
                subject.to_owned(),
                object.to_owned(),
                action.to_owned(),
                effect,
            )
        })
        .collect();
    assert_eq!(seeded, expected, "the defaults are there, in order");
    assert!(defaults.iter().all(|p| !p.id.is_empty()));

    let mut access = app.access.clone();
    let mut events = Events::subscribe(&app).await;
    let ban_rule = || {
        add_request(
            "moderator",
            "/api/v1/admin/users/:id/ban",
            "POST|DELETE",
            Allow,
        )
    };
    let added = access
        .add_policy(ban_rule())
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(
        rule(&added),
        (
            "moderator",
            "/api/v1/admin/users/:id/ban",
            "POST|DELETE",
            Allow
        )
    );
    assert_eq!(events.next().await, access_changed(""));
    let mut listed = defaults.clone();
    listed.push(added.clone());
    assert_eq!(app.policies().await, listed);

    refused(
        access.add_policy(ban_rule()).await,
        Code::AlreadyExists,
        "policy_exists",
    );
    // the same paths with the other effect are another rule
    let denied = access
        .add_policy(add_request(
            "moderator",
            "/api/v1/admin/users/:id/ban",
            "POST|DELETE",
            Deny,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(denied.effect(), Deny);
    assert_ne!(denied.id, added.id);
    assert_eq!(events.next().await, access_changed(""));

    for policy in [&added, &denied] {
        access
            .remove_policy(remove_request(&policy.id))
            .await
            .unwrap();
        assert_eq!(events.next().await, access_changed(""));
    }
    for id in [added.id.as_str(), "", "no-such-policy", &"x".repeat(1000)] {
        refused(
            access.remove_policy(remove_request(id)).await,
            Code::NotFound,
            "policy_not_found",
        );
    }
    assert_eq!(app.policies().await, defaults);

    // even a seeded rule may go: the operator decides (and `im admin` can recover)
    access
        .remove_policy(remove_request(&defaults[1].id))
        .await
        .unwrap();
    assert_eq!(events.next().await, access_changed(""));
    assert_eq!(app.policies().await, defaults[..1]);
    events.assert_quiet().await;
}

async fn malformed_rules_are_refused_and_nothing_is_stored(app: TestApp) {
    let defaults = app.policies().await;
    let mut access = app.access.clone();
    let mut events = Events::subscribe(&app).await;
    let huge = "a".repeat(100_000);
    let over_limit = format!("/{}", "a".repeat(512));
    let cases = [
        (add_request("user", "/api/(", "GET", Allow), "object"),
        (add_request("user", "/api/v1/x", "[", Allow), "action"),
        (add_request("user", "", "GET", Allow), "object"),
        (add_request("user", "   ", "GET", Allow), "object"),
        (add_request("user", "/x", "", Deny), "action"),
        (add_request("user", &over_limit, "GET", Allow), "object"),
        (add_request("user", "/x", &huge, Allow), "action"),
        // compiles to more than a gateway should hold in memory
        (
            add_request("user", "(a{1000}){1000}", "GET", Allow),
            "object",
        ),
        (add_request("us er", "/x", "GET", Allow), "subject"),
        (add_request("", "/x", "GET", Allow), "subject"),
        (add_request(&"s".repeat(65), "/x", "GET", Allow), "subject"),
        (add_request("user'--", "/x", "GET", Allow), "subject"),
        (add_request("user", "/x", "GET", Unspecified), "effect"),
    ];
    for (request, part) in cases {
        let status = refused(
            access.add_policy(request.clone()).await,
            Code::InvalidArgument,
            "invalid_policy",
        );
        assert!(
            status.message().contains(part),
            "{part}: {:?} for {request:?}",
            status.message()
        );
    }
    // an effect this version does not know
    let mut unknown_effect = add_request("user", "/x", "GET", Allow);
    unknown_effect.effect = 7;
    refused(
        access.add_policy(unknown_effect).await,
        Code::InvalidArgument,
        "invalid_policy",
    );
    let mut long_actor = add_request("user", "/x", "GET", Allow);
    long_actor.actor_id = "a".repeat(129);
    refused(
        access.add_policy(long_actor).await,
        Code::InvalidArgument,
        "invalid_actor_id",
    );

    assert_eq!(app.policies().await, defaults, "nothing was stored");
    events.assert_quiet().await;
}

async fn roles_are_assigned_and_unassigned(app: TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let mut access = app.access.clone();
    let mut events = Events::subscribe(&app).await;

    let listed = app.role_assignments("", "").await;
    assert!(listed.assignments.is_empty());
    let admin_inherits_user = pb::RoleLink {
        role: "admin".into(),
        parent: "user".into(),
    };
    assert_eq!(listed.links, std::slice::from_ref(&admin_inherits_user));

    let assignment = access
        .assign_role(role_request(&ann.id, "admin"))
        .await
        .unwrap()
        .into_inner()
        .assignment
        .unwrap();
    let ann_admin = pb::RoleAssignment {
        user_id: ann.id.clone(),
        role: "admin".into(),
    };
    assert_eq!(assignment, ann_admin);
    assert_eq!(events.next().await, access_changed(&ann.id));

    refused(
        access.assign_role(role_request(&ann.id, "admin")).await,
        Code::AlreadyExists,
        "role_assigned",
    );
    for (user_id, role, code, error) in [
        (
            ann.id.as_str(),
            "user",
            Code::InvalidArgument,
            "implicit_role",
        ),
        (
            ann.id.as_str(),
            "Admin",
            Code::InvalidArgument,
            "invalid_role",
        ),
        (ann.id.as_str(), "", Code::InvalidArgument, "invalid_role"),
        (
            ann.id.as_str(),
            &"r".repeat(33),
            Code::InvalidArgument,
            "invalid_role",
        ),
        (
            "0190a1b2-no-such-user",
            "admin",
            Code::NotFound,
            "user_not_found",
        ),
        ("not an id!", "admin", Code::NotFound, "user_not_found"),
        ("", "admin", Code::NotFound, "user_not_found"),
    ] {
        refused(
            access.assign_role(role_request(user_id, role)).await,
            code,
            error,
        );
    }

    // a deleted account can hold no role, and loses those it had
    access
        .assign_role(role_request(&bob.id, "moderator"))
        .await
        .unwrap();
    assert_eq!(events.next().await, access_changed(&bob.id));
    app.client
        .clone()
        .delete_user(pb::DeleteUserRequest {
            user_id: bob.id.clone(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    refused(
        access.assign_role(role_request(&bob.id, "admin")).await,
        Code::NotFound,
        "user_not_found",
    );
    assert!(
        app.role_assignments("", &bob.id)
            .await
            .assignments
            .is_empty()
    );

    access
        .assign_role(role_request(&ann.id, "moderator"))
        .await
        .unwrap();
    assert_eq!(events.next().await, access_changed(&ann.id));
    let ann_moderator = pb::RoleAssignment {
        user_id: ann.id.clone(),
        role: "moderator".into(),
    };
    assert_eq!(
        app.role_assignments("", &ann.id).await.assignments,
        [ann_admin.clone(), ann_moderator.clone()]
    );
    let admins = app.role_assignments("admin", "").await;
    assert_eq!(admins.assignments, std::slice::from_ref(&ann_admin));
    assert_eq!(admins.links, std::slice::from_ref(&admin_inherits_user));
    assert_eq!(
        app.role_assignments("moderator", &ann.id).await.assignments,
        std::slice::from_ref(&ann_moderator)
    );
    assert!(
        app.role_assignments("", "no such user!")
            .await
            .assignments
            .is_empty()
    );
    for (role, error) in [("user", "implicit_role"), ("Admin", "invalid_role")] {
        refused(
            access
                .list_role_assignments(pb::ListRoleAssignmentsRequest {
                    role: role.into(),
                    user_id: String::new(),
                })
                .await,
            Code::InvalidArgument,
            error,
        );
    }

    // tokens carry the roles held when they were issued
    let tokens = app.login("ann").await;
    assert_eq!(
        app.verify(&tokens.access_token).await.roles,
        ["user", "admin", "moderator"]
    );

    // taking admin from the last administrator is allowed: `im admin` can make another
    access
        .unassign_role(unassign_request(&ann.id, "admin"))
        .await
        .unwrap();
    assert_eq!(events.next().await, access_changed(&ann.id));
    for (user_id, role, code, error) in [
        (
            ann.id.as_str(),
            "admin",
            Code::NotFound,
            "role_not_assigned",
        ),
        (
            ann.id.as_str(),
            "user",
            Code::InvalidArgument,
            "implicit_role",
        ),
        (
            ann.id.as_str(),
            "ADMIN",
            Code::InvalidArgument,
            "invalid_role",
        ),
        (
            "not an id!",
            "moderator",
            Code::NotFound,
            "role_not_assigned",
        ),
        (
            bob.id.as_str(),
            "moderator",
            Code::NotFound,
            "role_not_assigned",
        ),
    ] {
        refused(
            access.unassign_role(unassign_request(user_id, role)).await,
            code,
            error,
        );
    }
    assert_eq!(
        app.role_assignments("", "").await.assignments,
        [ann_moderator]
    );
    assert_eq!(
        app.verify(&app.login("ann").await.access_token).await.roles,
        ["user", "moderator"]
    );
    events.assert_quiet().await;
}

/// MySQL cannot roll DDL back, so a migration that failed half-way runs again from the
/// start: it must neither fail on what it created nor seed twice.
async fn the_access_migration_can_run_again_without_duplicating_its_seeds(app: TestApp) {
    let policies = app.policies().await;
    let links = app.role_assignments("", "").await.links;
    let url = app
        .ctx
        .config
        .database_url(im_runtime::ServiceName::Identity);
    let db = sea_orm::Database::connect(url.expose()).await.unwrap();
    let forgotten = db
        .execute_unprepared(
            "DELETE FROM seaql_migrations_identity WHERE version = 'm0002_create_access_tables'",
        )
        .await
        .unwrap();
    assert_eq!(
        forgotten.rows_affected(),
        1,
        "the migration is pending again"
    );
    db.close().await.unwrap();

    im_identity::migrate(&app.ctx).await.unwrap();
    assert_eq!(app.policies().await, policies);
    assert_eq!(app.role_assignments("", "").await.links, links);
}
