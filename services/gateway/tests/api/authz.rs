//! Authorization over HTTP: the admin API of policies and roles, changes in force at
//! once on the gateway that made them and within a second on the others, malformed
//! rules refused before identity is asked, and no access at all before rules load.

use crate::fake_identity::FakeState;
use crate::{TestApp, spawn_app, spawn_gateway};
use im_contracts::v1::PolicyEffect;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

const POLICIES: &str = "/api/v1/admin/policies";
const ROLES: &str = "/api/v1/admin/roles";
const BAN: &str = "/api/v1/admin/users/u-spam/ban";
const WITHIN: Duration = Duration::from_secs(1);

fn moderator_rule() -> Value {
    json!({
        "subject": "moderator",
        "object": "/api/v1/admin/users/:id/ban",
        "action": "POST|DELETE",
        "effect": "allow"
    })
}

async fn ban(app: &TestApp, token: &str) -> u16 {
    app.post(BAN, Some(token), json!({"reason": "spam"}))
        .await
        .status
}

#[tokio::test]
async fn policies_and_roles_are_listed() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let policies = app.get(POLICIES, Some(&admin)).await;
    assert_eq!(policies.status, 200, "{:?}", policies.body);
    assert!(policies.body["next_cursor"].is_null());
    let items = policies.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        json!({"id": "p2", "subject": "admin", "object": "/api/v1/admin/.*", "action": ".*", "effect": "allow"})
    );

    let roles = app.get(&format!("{ROLES}?role=admin"), Some(&admin)).await;
    assert_eq!(roles.status, 200, "{:?}", roles.body);
    assert_eq!(
        roles.body,
        json!({
            "items": [{"user_id": "u-admin", "role": "admin"}],
            "links": [{"role": "admin", "parent": "user"}],
            "next_cursor": null
        })
    );
    let none = app.get(&format!("{ROLES}?user_id=u1"), Some(&admin)).await;
    assert_eq!(none.body["items"], json!([]));
    let bad = app.get(&format!("{ROLES}?role=Admin"), Some(&admin)).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_role"));
}

#[tokio::test]
async fn the_moderator_scenario() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let moderator = app.token("u-mod", "s-mod");

    let added = app.post(POLICIES, Some(&admin), moderator_rule()).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["subject"], "moderator");
    assert_eq!(added.body["effect"], "allow");
    assert!(added.body["id"].is_string());
    assert_eq!(ban(&app, &moderator).await, 403, "no role yet");

    let assigned = app
        .post(
            ROLES,
            Some(&admin),
            json!({"user_id": "u-mod", "role": "moderator"}),
        )
        .await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);
    assert_eq!(
        assigned.body,
        json!({"user_id": "u-mod", "role": "moderator"})
    );
    // The same token, at once: roles are not read from it.
    assert_eq!(ban(&app, &moderator).await, 201);
    let unban = app.delete(BAN, Some(&moderator)).await;
    assert_eq!(unban.status, 204);
    let escalate = app.post(POLICIES, Some(&moderator), moderator_rule()).await;
    assert_eq!((escalate.status, escalate.code()), (403, "forbidden"));
    let users = app.get("/api/v1/admin/users", Some(&moderator)).await;
    assert_eq!(users.status, 403);

    let removed = app
        .delete(&format!("{ROLES}/moderator/members/u-mod"), Some(&admin))
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    assert_eq!(ban(&app, &moderator).await, 403, "refused at once");
    let again = app
        .delete(&format!("{ROLES}/moderator/members/u-mod"), Some(&admin))
        .await;
    assert_eq!((again.status, again.code()), (404, "role_not_assigned"));
}

#[tokio::test]
async fn changes_through_one_gateway_apply_on_another_within_a_second() {
    let first = spawn_app().await;
    let second = first.spawn_peer("node-b").await;
    let admin = first.admin_token();
    let auditor = first.token("u-aud", "s-aud");
    let path = "/api/v1/admin/ip-blocks";
    assert_eq!(second.get(path, Some(&auditor)).await.status, 403);

    let rule = json!({"subject": "auditor", "object": path, "action": "GET", "effect": "allow"});
    assert_eq!(first.post(POLICIES, Some(&admin), rule).await.status, 201);
    let assignment = json!({"user_id": "u-aud", "role": "auditor"});
    assert_eq!(
        first.post(ROLES, Some(&admin), assignment).await.status,
        201
    );
    let reply = second.eventually(path, &auditor, 200, WITHIN).await;
    assert_eq!(reply.status, 200, "role and policy reached the other node");

    // The other way round, with a deny rule naming the user: it overrides the role.
    let deny =
        json!({"subject": "u-aud", "object": "/api/v1/admin/*", "action": ".*", "effect": "deny"});
    let denied = second.post(POLICIES, Some(&admin), deny).await;
    assert_eq!(denied.status, 201, "{:?}", denied.body);
    assert_eq!(second.get(path, Some(&auditor)).await.status, 403);
    let reply = first.eventually(path, &auditor, 403, WITHIN).await;
    assert_eq!((reply.status, reply.code()), (403, "forbidden"));

    // Removing the deny rule through the second node reopens the first.
    let id = denied.body["id"].as_str().unwrap();
    let removed = second
        .delete(&format!("{POLICIES}/{id}"), Some(&admin))
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        first.eventually(path, &auditor, 200, WITHIN).await.status,
        200
    );
}

#[tokio::test]
async fn malformed_rules_are_refused_before_identity_is_asked() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let rule = |subject: &str, object: &str, action: &str, effect: &str| json!({"subject": subject, "object": object, "action": action, "effect": effect});
    for body in [
        rule("user", "/api/(", "GET", "allow"),
        rule("user", "/api/v1/x", "[", "allow"),
        rule("user", "", "GET", "allow"),
        rule("user", &"a".repeat(600), "GET", "allow"),
        rule("user", "(a{1000}){1000}", "GET", "allow"),
        rule("us er", "/api/v1/x", "GET", "allow"),
        rule("user", "/api/v1/x", "GET", "maybe"),
    ] {
        let reply = app.post(POLICIES, Some(&admin), body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_policy"),
            "{body}"
        );
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let missing = app
        .post(POLICIES, Some(&admin), json!({"subject": "user"}))
        .await;
    assert_eq!((missing.status, missing.code()), (400, "invalid_request"));
    for (body, code) in [
        (
            json!({"user_id": "u1", "role": "Moderator"}),
            "invalid_role",
        ),
        (json!({"user_id": "u1", "role": "user"}), "implicit_role"),
        (json!({"user_id": "", "role": "moderator"}), "invalid_id"),
    ] {
        let reply = app.post(ROLES, Some(&admin), body).await;
        assert_eq!((reply.status, reply.code()), (400, code));
    }
    let implicit = app
        .delete(&format!("{ROLES}/user/members/u1"), Some(&admin))
        .await;
    assert_eq!((implicit.status, implicit.code()), (400, "implicit_role"));

    assert_eq!(app.identity.access_writes(), 0, "identity was never asked");
    let list = app.get(POLICIES, Some(&admin)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn identity_refusals_keep_their_codes() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    assert_eq!(
        app.post(POLICIES, Some(&admin), moderator_rule())
            .await
            .status,
        201
    );
    let twice = app.post(POLICIES, Some(&admin), moderator_rule()).await;
    assert_eq!((twice.status, twice.code()), (409, "policy_exists"));
    let gone = app.delete(&format!("{POLICIES}/p999"), Some(&admin)).await;
    assert_eq!((gone.status, gone.code()), (404, "policy_not_found"));
    let nobody = app
        .post(
            ROLES,
            Some(&admin),
            json!({"user_id": "missing", "role": "moderator"}),
        )
        .await;
    assert_eq!((nobody.status, nobody.code()), (404, "user_not_found"));
    let held = app
        .post(
            ROLES,
            Some(&admin),
            json!({"user_id": "u-admin", "role": "admin"}),
        )
        .await;
    assert_eq!((held.status, held.code()), (409, "role_assigned"));
}

#[tokio::test]
async fn a_broken_stored_rule_is_skipped_and_the_others_still_apply() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    app.identity
        .access
        .lock()
        .unwrap()
        .insert_raw("user", "/api/(", ".*", PolicyEffect::Allow);
    // A change through the gateway reloads everything, the broken rule included.
    let admin = app.admin_token();
    assert_eq!(
        app.post(POLICIES, Some(&admin), moderator_rule())
            .await
            .status,
        201
    );
    assert_eq!(app.get("/api/v1/users/me", Some(&token)).await.status, 200);
    assert_eq!(app.get(POLICIES, Some(&admin)).await.status, 200);
}

#[tokio::test]
async fn nothing_but_public_routes_answers_before_the_rules_are_loaded() {
    let identity = FakeState::new();
    identity.access_down.store(true, Ordering::SeqCst);
    let fake = crate::fake_identity::start(identity.clone()).await;
    let app = spawn_gateway(identity.clone(), &fake.endpoint(), |_| {}).await;
    let token = app.token("u1", "s1");

    let reply = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (503, "authorization_unavailable")
    );
    assert!(reply.header("retry-after").is_some());
    let admin = app
        .get("/api/v1/admin/users", Some(&app.admin_token()))
        .await;
    assert_eq!(admin.status, 503, "fail closed, for administrators too");
    assert_eq!(app.get("/.well-known/jwks.json", None).await.status, 200);
    assert_eq!(app.get("/api/v1/users/me", None).await.status, 401);

    identity.access_down.store(false, Ordering::SeqCst);
    let reply = app
        .eventually("/api/v1/users/me", &token, 200, Duration::from_secs(5))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}
