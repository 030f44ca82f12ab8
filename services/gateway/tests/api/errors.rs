//! Bad input and failing dependencies become clear API errors, never a 500 for input.

use crate::{spawn_app, spawn_app_with};
use axum::body::Body;
use serde_json::json;
use tower::ServiceExt as _;

const REGISTER: &str = "/api/v1/auth/register";

#[tokio::test]
async fn json_bodies_are_checked_for_type_size_syntax_and_shape() {
    let app = spawn_app_with(|config| config.gateway.max_body_bytes = 1024).await;

    let reply = app
        .post_raw(
            REGISTER,
            Some("application/json"),
            b"{\"username\": ".to_vec(),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_json"));

    let reply = app
        .post_raw(
            REGISTER,
            Some("application/json"),
            br#"{"username": "zed"}"#.to_vec(),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password")
    );

    let reply = app
        .post_raw(
            REGISTER,
            Some("application/json"),
            br#"{"username": 42, "password": "p"}"#.to_vec(),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));
    let reply = app
        .post_raw(REGISTER, Some("application/json"), br#"["a"]"#.to_vec())
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));

    let reply = app
        .post_raw(REGISTER, Some("text/plain"), b"username=zed".to_vec())
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (415, "unsupported_media_type")
    );
    let reply = app
        .post_raw(
            REGISTER,
            None,
            br#"{"username":"a","password":"b"}"#.to_vec(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (415, "unsupported_media_type")
    );

    let mut huge = br#"{"username":"a","password":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'p', 4096));
    huge.extend(br#""}"#);
    let reply = app.post_raw(REGISTER, Some("application/json"), huge).await;
    assert_eq!((reply.status, reply.code()), (413, "payload_too_large"));

    let reply = app
        .post_raw(
            REGISTER,
            Some("application/json; charset=utf-8"),
            br#"{"username":"a","password":"b"}"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn downstream_codes_come_through_with_their_status() {
    let app = spawn_app().await;
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"username": "taken", "password": "p"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (409, "username_taken"));

    let reply = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_credentials"));
    assert!(reply.header("www-authenticate").is_some());

    let reply = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "limited", "password": "x"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (429, "too_many_attempts"));
    assert_eq!(reply.header("retry-after"), Some("30"));

    let token = app.token("u1", "s1");
    let reply = app.get("/api/v1/users/missing", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (404, "user_not_found"));
    let reply = app.get("/api/v1/users/explode", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (500, "internal"));
    assert!(!reply.body.to_string().contains("hunter2"));

    let reply = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/users/me/password",
            Some(&token),
            Some(json!({"old_password": "nope", "new_password": "new secret"})),
            &[],
        )
        .await;
    assert_eq!((reply.status, reply.code()), (403, "wrong_password"));
}

#[tokio::test]
async fn odd_paths_and_queries_are_400() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    let long = format!("/api/v1/users/{}", "9".repeat(129));
    for path in [
        long.as_str(),
        "/api/v1/users/a%00b",
        "/api/v1/users/a%0Ab",
        "/api/v1/users?limit=0",
        "/api/v1/users?limit=101",
        "/api/v1/users?limit=-1",
        "/api/v1/users?limit=abc",
        "/api/v1/admin/users?limit=1000",
        "/api/v1/users?cursor=%FF%FE",
        "/api/v1/users?q=%07",
    ] {
        let token = if path.contains("admin") {
            app.admin_token()
        } else {
            token.clone()
        };
        let reply = app.get(path, Some(&token)).await;
        assert_eq!(reply.status, 400, "{path}: {:?}", reply.body);
        assert!(!reply.code().is_empty(), "{path}");
    }
    let reply = app
        .get(&format!("/api/v1/users/{}", "9".repeat(128)), Some(&token))
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_router_without_connect_info_does_not_panic() {
    let app = spawn_app().await;
    let request = axum::http::Request::builder()
        .uri("/api/v1/users/me")
        .header("authorization", format!("Bearer {}", app.token("u1", "s1")))
        .header("x-forwarded-for", "1.2.3.4")
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}
