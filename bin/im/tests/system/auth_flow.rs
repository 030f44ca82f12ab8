//! The auth center through the gateway, as a new user meets it (issue: identity).

use crate::api::{Api, PASSWORD, token};
use crate::process::ImProcess;
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Revocations must reach every gateway within a second.
const WITHIN: Duration = Duration::from_secs(1);

fn start(dir: &Path, envs: &[(&str, &str)]) -> ImProcess {
    ImProcess::start(dir, |command| {
        command.envs(envs.iter().copied());
    })
}

/// Register, log in, refresh, read and edit the profile, log out and be locked out.
pub async fn the_whole_journey(envs: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), envs);
    let api = Api::new(&im);

    let user = api.register("Alice_01").await;
    assert_eq!(user["username"], "Alice_01");
    assert_eq!(user["display_name"], "Alice_01");
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{user}"
    );

    let duplicate = api
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "alice_01", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        duplicate.status, 409,
        "usernames are case-insensitively unique"
    );
    assert_eq!(duplicate.error_code(), "username_taken");

    let login = api.login("alice_01", "laptop").await;
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["expires_in"].as_u64().unwrap() > 0);
    assert!(login["refresh_expires_in"].as_u64().unwrap() > login["expires_in"].as_u64().unwrap());
    assert_eq!(login["user"]["id"], user["id"]);

    let me = api.get("/api/v1/users/me", token(&login)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], user["id"]);

    let edited = api
        .send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(token(&login)),
            Some(json!({"display_name": "Alice A.", "bio": "hello"})),
            &[],
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let me = api.get("/api/v1/users/me", token(&login)).await;
    assert_eq!(me.body["display_name"], "Alice A.");
    assert_eq!(me.body["bio"], "hello");

    // public profile and search, as another user sees them
    api.register("bob").await;
    let bob = api.login("bob", "phone").await;
    let profile = api
        .get(
            &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
            token(&bob),
        )
        .await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["display_name"], "Alice A.");
    let found = api.get("/api/v1/users?q=ALI", token(&bob)).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let names: Vec<&str> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["Alice_01"]);

    // refresh rotates: the new pair works
    let refreshed = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_ne!(refreshed.body["refresh_token"], login["refresh_token"]);
    assert_eq!(
        api.get("/api/v1/users/me", token(&refreshed.body))
            .await
            .status,
        200
    );

    // presenting the rotated token again revokes the whole session
    let reused = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(reused.status, 401);
    let locked = api
        .eventually_status("/api/v1/users/me", token(&refreshed.body), 401, WITHIN)
        .await;
    assert_eq!(
        locked.status, 401,
        "the session's newest access token dies with it"
    );
    let again = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refreshed.body["refresh_token"]}),
        )
        .await;
    assert_eq!(again.status, 401, "and so does its newest refresh token");

    // log out: the access token is refused right away, and so is its refresh token
    let session = api.login("alice_01", "laptop").await;
    let logout = api
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(token(&session)),
            None,
            &[],
        )
        .await;
    assert_eq!(logout.status, 204);
    let after = api
        .eventually_status("/api/v1/users/me", token(&session), 401, WITHIN)
        .await;
    assert_eq!(after.status, 401);
    let refresh = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status, 401);

    // bob was never affected
    assert_eq!(api.get("/api/v1/users/me", token(&bob)).await.status, 200);
}

#[tokio::test]
async fn the_whole_journey_on_sqlite() {
    the_whole_journey(&[]).await;
}

#[tokio::test]
async fn sessions_are_listed_and_revocable_per_device() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    api.register("carol").await;
    let laptop = api.login("carol", "laptop").await;
    let phone = api.login("carol", "phone").await;

    let sessions = api.get("/api/v1/sessions", token(&laptop)).await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    let items = sessions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], "laptop");
    let phone_session = items.iter().find(|s| s["device_id"] == "phone").unwrap();

    let path = format!("/api/v1/sessions/{}", phone_session["id"].as_str().unwrap());
    let revoked = api
        .send(Method::DELETE, &path, Some(token(&laptop)), None, &[])
        .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(
        api.eventually_status("/api/v1/users/me", token(&phone), 401, WITHIN)
            .await
            .status,
        401
    );
    assert_eq!(
        api.get("/api/v1/users/me", token(&laptop)).await.status,
        200
    );

    // someone else's session is not yours to revoke
    api.register("mallory").await;
    let mallory = api.login("mallory", "x").await;
    let laptop_session = items.iter().find(|s| s["device_id"] == "laptop").unwrap();
    let path = format!(
        "/api/v1/sessions/{}",
        laptop_session["id"].as_str().unwrap()
    );
    let refused = api
        .send(Method::DELETE, &path, Some(token(&mallory)), None, &[])
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        api.get("/api/v1/users/me", token(&laptop)).await.status,
        200
    );
}

#[tokio::test]
async fn a_password_change_revokes_every_other_session() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    api.register("dave").await;
    let here = api.login("dave", "here").await;
    let there = api.login("dave", "there").await;

    let wrong = api
        .send(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(token(&here)),
            Some(json!({"old_password": "not my password", "new_password": "a brand new secret"})),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert_eq!(
        api.get("/api/v1/users/me", token(&there)).await.status,
        200,
        "nothing changed"
    );

    let changed = api
        .send(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(token(&here)),
            Some(json!({"old_password": PASSWORD, "new_password": "a brand new secret"})),
            &[],
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(
        api.eventually_status("/api/v1/users/me", token(&there), 401, WITHIN)
            .await
            .status,
        401
    );
    assert_eq!(
        api.get("/api/v1/users/me", token(&here)).await.status,
        200,
        "the asking session stays"
    );
    assert_eq!(api.login_as("dave", PASSWORD, "x").await.status, 401);
    assert_eq!(
        api.login_as("dave", "a brand new secret", "x").await.status,
        200
    );
}

#[tokio::test]
async fn a_deleted_account_is_locked_out_and_its_name_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    let erin = api.register("erin").await;
    let login = api.login("erin", "d").await;

    let wrong = api
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(token(&login)),
            Some(json!({"password": "nope nope"})),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 403);
    let deleted = api
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(token(&login)),
            Some(json!({"password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    assert_eq!(
        api.eventually_status("/api/v1/users/me", token(&login), 401, WITHIN)
            .await
            .status,
        401
    );
    assert_eq!(api.login_as("erin", PASSWORD, "d").await.status, 401);
    let taken = api
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "erin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(taken.status, 409, "a deleted user's name is reserved");

    api.register("frank").await;
    let frank = api.login("frank", "d").await;
    let profile = api
        .get(
            &format!("/api/v1/users/{}", erin["id"].as_str().unwrap()),
            token(&frank),
        )
        .await;
    assert_eq!(profile.status, 404);
}
