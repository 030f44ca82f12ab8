//! The auth, users and sessions routes: paths, statuses and JSON shapes.

use crate::fake_identity::PASSWORD;
use crate::spawn_app_with;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn login_passes_the_client_and_answers_a_token_pair() {
    let app = spawn_app_with(|config| {
        config.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let reply = app
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "alice", "password": PASSWORD, "device_id": "laptop"})),
            &[
                ("user-agent", "im-test/1.0"),
                ("x-forwarded-for", "203.0.113.5"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let body = &reply.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_token"], "r1");
    assert_eq!(body["refresh_expires_in"], 86_400);
    assert_eq!(body["session_id"], "s-login");
    assert_eq!(body["user"]["id"], "u-alice");
    assert_eq!(body["user"]["created_at"], "2023-11-14T22:13:20Z");
    assert!(body["user"]["avatar_file_id"].is_null());

    let seen = app.identity.logins.lock().unwrap()[0].clone();
    assert_eq!(seen.client_ip, "203.0.113.5");
    assert_eq!(seen.user_agent, "im-test/1.0");
    assert_eq!(seen.device_id, "laptop");

    // The issued token works at once.
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/users/me", Some(token)).await.status, 200);
}

#[tokio::test]
async fn refresh_and_introspect() {
    let app = spawn_app_with(|_| {}).await;
    let reply = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "old"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_refresh_token"));

    let token = app.token("u1", "s1");
    let active = app
        .post(
            "/api/v1/auth/introspect",
            Some(&token),
            json!({"token": "r1"}),
        )
        .await;
    assert_eq!(
        active.body,
        json!({"active": true, "sub": "u1", "sid": "s1", "exp": 1_900_000_000, "roles": ["user"], "token_type": "refresh"})
    );
    for inactive in ["garbage", "unreadable"] {
        let reply = app
            .post(
                "/api/v1/auth/introspect",
                Some(&token),
                json!({"token": inactive}),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, json!({"active": false}));
    }
    let reply = app
        .post("/api/v1/auth/introspect", None, json!({"token": "r1"}))
        .await;
    assert_eq!(
        reply.status, 401,
        "introspection is for authenticated callers"
    );
}

#[tokio::test]
async fn the_jwks_is_public_and_cacheable() {
    let app = spawn_app_with(|_| {}).await;
    let reply = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["keys"][0]["kid"], "k1");
    assert_eq!(reply.body["keys"][0]["kty"], "OKP");
    assert!(reply.header("cache-control").unwrap().contains("max-age"));
    app.get("/.well-known/jwks.json", None).await;
    assert_eq!(app.identity.jwks_calls(), 1, "served from the cache");
}

#[tokio::test]
async fn profiles_read_update_and_delete() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.token("u1", "s1");
    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body["roles"],
        json!(["user", "admin"]),
        "own profile shows roles"
    );
    for field in [
        "id",
        "username",
        "display_name",
        "avatar_file_id",
        "bio",
        "created_at",
    ] {
        assert!(me.body.get(field).is_some(), "{field}");
    }
    let other = app.get("/api/v1/users/u2", Some(&token)).await;
    assert_eq!(other.body["id"], "u2");
    assert!(
        other.body.get("roles").is_none(),
        "public profiles hide roles"
    );

    let edited = app
        .send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"display_name": "Alice A.", "bio": "hello"})),
            &[],
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["display_name"], "Alice A.");
    assert_eq!(edited.body["bio"], "hello");

    let changed = app
        .send(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&token),
            Some(json!({"old_password": PASSWORD, "new_password": "new secret"})),
            &[],
        )
        .await;
    assert_eq!(changed.status, 204);

    let deleted = app
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 204);
    let after = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!((after.status, after.code()), (401, "session_revoked"));
}

#[tokio::test]
async fn search_pages_through_identity() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.token("u1", "s1");
    let reply = app
        .get("/api/v1/users?q=ali&limit=2&cursor=c1", Some(&token))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["next_cursor"], "c2");
    assert!(reply.body["items"][0].get("roles").is_none());
    let seen = app.identity.searches.lock().unwrap()[0].clone();
    assert_eq!(seen.prefix, "ali");
    let page = seen.page.unwrap();
    assert_eq!((page.limit, page.cursor.as_str()), (2, "c1"));
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.token("u1", "s1");
    let reply = app.get("/api/v1/sessions", Some(&token)).await;
    assert_eq!(reply.status, 200);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["current"], false);
    for field in [
        "id",
        "device_id",
        "user_agent",
        "created_at",
        "last_used_at",
        "current",
    ] {
        assert!(items[0].get(field).is_some(), "{field}");
    }
    assert!(reply.body["next_cursor"].is_null());

    let other = app.token("u1", "s2");
    let revoked = app
        .send(
            Method::DELETE,
            "/api/v1/sessions/s2",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, 204);
    let reply = app.get("/api/v1/users/me", Some(&other)).await;
    assert_eq!((reply.status, reply.code()), (401, "session_revoked"));
}
