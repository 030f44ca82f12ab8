//! Role-based access control through the API alone (issue: Casbin RBAC).

use crate::api::{Api, create_admin, token};
use crate::process::ImProcess;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_administrator_delegates_banning_to_a_moderator_and_takes_it_back() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), &[], "root");
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let admin = api.login("root", "console").await;
    let admin = token(&admin);

    // the seeded rules: users use the user-facing API, admins also the admin API
    let policies = api.get("/api/v1/admin/policies", admin).await;
    assert_eq!(policies.status, 200, "{}", policies.body);
    let subjects: Vec<&str> = policies.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["subject"].as_str())
        .collect();
    assert!(
        subjects.contains(&"user") && subjects.contains(&"admin"),
        "{}",
        policies.body
    );

    let mod_user = api.register("modest").await;
    let mod_id = mod_user["id"].as_str().unwrap().to_owned();
    let target = api.register("troll").await;
    let ban_path = format!("/api/v1/admin/users/{}/ban", target["id"].as_str().unwrap());
    let moderator = api.login("modest", "d").await;
    let moderator = token(&moderator);

    // before: a plain user may not ban
    let refused = api
        .post(&ban_path, Some(moderator), json!({"reason": "spam"}))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // a malformed rule is refused and nothing is stored
    let count = |body: &serde_json::Value| body["items"].as_array().unwrap().len();
    let before = count(&api.get("/api/v1/admin/policies", admin).await.body);
    let malformed = api
        .post(
            "/api/v1/admin/policies",
            Some(admin),
            json!({"subject": "moderator", "object": "/api/v1/admin/users/([", "action": "POST", "effect": "allow"}),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(
        count(&api.get("/api/v1/admin/policies", admin).await.body),
        before
    );

    // the role: may ban and unban, nothing else of the admin API
    let rule = api
        .post(
            "/api/v1/admin/policies",
            Some(admin),
            json!({"subject": "moderator", "object": "/api/v1/admin/users/:id/ban", "action": "POST|DELETE", "effect": "allow"}),
        )
        .await;
    assert_eq!(rule.status, 201, "{}", rule.body);
    let assigned = api
        .post(
            "/api/v1/admin/roles",
            Some(admin),
            json!({"user_id": mod_id, "role": "moderator"}),
        )
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.body);
    let roles = api
        .get(&format!("/api/v1/admin/roles?user_id={mod_id}"), admin)
        .await;
    assert!(
        roles.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["role"] == "moderator"),
        "{}",
        roles.body
    );

    // in force at once, with the same token
    let banned = api
        .post(&ban_path, Some(moderator), json!({"reason": "spam"}))
        .await;
    assert_eq!(banned.status, 201, "the moderator bans: {}", banned.body);
    let unbanned = api
        .send(Method::DELETE, &ban_path, Some(moderator), None, &[])
        .await;
    assert_eq!(unbanned.status, 204);
    let escalate = api
        .post(
            "/api/v1/admin/policies",
            Some(moderator),
            json!({"subject": "moderator", "object": ".*", "action": ".*", "effect": "allow"}),
        )
        .await;
    assert_eq!(
        escalate.status, 403,
        "a moderator cannot change policies: {}",
        escalate.body
    );
    assert_eq!(api.get("/api/v1/admin/users", moderator).await.status, 403);
    assert_eq!(
        api.get("/api/v1/users/me", moderator).await.status,
        200,
        "still a user"
    );

    // a deny rule overrides the allow
    let deny = api
        .post(
            "/api/v1/admin/policies",
            Some(admin),
            json!({"subject": "moderator", "object": "/api/v1/admin/users/:id/ban", "action": "DELETE", "effect": "deny"}),
        )
        .await;
    assert_eq!(deny.status, 201, "{}", deny.body);
    assert_eq!(
        api.send(Method::DELETE, &ban_path, Some(moderator), None, &[])
            .await
            .status,
        403
    );
    assert_eq!(
        api.post(&ban_path, Some(moderator), json!({"reason": "again"}))
            .await
            .status,
        201
    );
    let deny_id = deny.body["id"].as_str().unwrap();
    let removed = api
        .send(
            Method::DELETE,
            &format!("/api/v1/admin/policies/{deny_id}"),
            Some(admin),
            None,
            &[],
        )
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        api.send(Method::DELETE, &ban_path, Some(moderator), None, &[])
            .await
            .status,
        204
    );

    // taken away: refused at the very next request
    let path = format!("/api/v1/admin/roles/moderator/members/{mod_id}");
    let unassigned = api
        .send(Method::DELETE, &path, Some(admin), None, &[])
        .await;
    assert_eq!(unassigned.status, 204);
    let after = api
        .post(&ban_path, Some(moderator), json!({"reason": "spam"}))
        .await;
    assert_eq!(after.status, 403, "{}", after.body);
}
