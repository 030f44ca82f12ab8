//! Rate limits and load shedding at the edge, as clients meet them: 429 `rate_limited`
//! with `Retry-After` once a budget is spent (per client address before login, per
//! user after, tighter on costly routes, shared by gateways on one Redis), and 503
//! `overloaded` with `Retry-After` beyond the requests a gateway serves at once.

use crate::fake_identity::PASSWORD;
use crate::ws_client::spawn_live_app_with;
use crate::{Reply, TestApp, spawn_app_with, spawn_gateway};
use im_runtime::Config;
use im_runtime::limits::Quota;
use im_runtime::secret::SecretUrl;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const ME: &str = "/api/v1/users/me";
const LOGIN: &str = "/api/v1/auth/login";
const OPENAPI: &str = "/api/v1/openapi.json";

/// `burst` requests, then one a minute: a test never sees the budget come back.
fn tight(burst: u32) -> Quota {
    Quota::new(1, Duration::from_secs(60), burst).unwrap()
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.code(), "rate_limited");
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
}

fn wrong_password() -> serde_json::Value {
    json!({"username": "alice", "password": "guess"})
}

#[tokio::test]
async fn a_user_beyond_their_quota_waits_while_other_users_go_on() {
    let app = spawn_app_with(|config| config.gateway.rate_limits.per_user = tight(3)).await;
    let alice = app.token("u-alice", "s1");
    let bob = app.token("u-bob", "s2");
    for _ in 0..3 {
        assert_eq!(app.get(ME, Some(&alice)).await.status, 200);
    }
    assert_rate_limited(&app.get(ME, Some(&alice)).await);
    assert_rate_limited(&app.get("/api/v1/conversations", Some(&alice)).await);
    let other_session = app.token("u-alice", "s3");
    assert_rate_limited(&app.get(ME, Some(&other_session)).await);

    assert_eq!(
        app.get(ME, Some(&bob)).await.status,
        200,
        "bob is not alice"
    );
}

async fn login_from(app: &TestApp, ip: &str) -> Reply {
    let xff = [("x-forwarded-for", ip)];
    app.send(Method::POST, LOGIN, None, Some(wrong_password()), &xff)
        .await
}

#[tokio::test]
async fn before_login_the_client_address_is_limited_and_signed_in_users_are_not() {
    let app = spawn_app_with(|config| {
        config.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
        config.gateway.rate_limits.per_ip = tight(2);
    })
    .await;
    assert_eq!(login_from(&app, "198.51.100.7").await.status, 401);
    assert_eq!(login_from(&app, "198.51.100.7").await.status, 401);
    assert_rate_limited(&login_from(&app, "198.51.100.7").await);
    let xff = [("x-forwarded-for", "198.51.100.7")];
    let public = app.send(Method::GET, OPENAPI, None, None, &xff).await;
    assert_rate_limited(&public);

    assert_eq!(
        login_from(&app, "198.51.100.8").await.status,
        401,
        "another address"
    );
    let token = app.token("u1", "s1");
    let signed_in = app.send(Method::GET, ME, Some(&token), None, &xff).await;
    assert_eq!(
        signed_in.status, 200,
        "a signed-in user spends their own budget"
    );
}

#[tokio::test]
async fn logins_have_a_tighter_quota_than_the_rest_of_the_edge() {
    let app = spawn_app_with(|config| config.gateway.rate_limits.login = tight(2)).await;
    assert_eq!(app.post(LOGIN, None, wrong_password()).await.status, 401);
    assert_eq!(app.post(LOGIN, None, wrong_password()).await.status, 401);
    assert_rate_limited(&app.post(LOGIN, None, wrong_password()).await);
    let right = json!({"username": "alice", "password": PASSWORD});
    assert_rate_limited(&app.post(LOGIN, None, right).await);
    assert_eq!(
        app.get(OPENAPI, None).await.status,
        200,
        "other routes still pass"
    );
    assert_eq!(
        app.identity.logins.lock().unwrap().len(),
        2,
        "refused at the edge"
    );
}

#[tokio::test]
async fn sending_spends_one_quota_over_rest_and_websocket() {
    let app =
        spawn_live_app_with(|config| config.gateway.rate_limits.message_send = tight(2)).await;
    let token = app.token("u1", "s1");
    let path = "/api/v1/conversations/c1/messages";
    let message = |key: &str| json!({"client_msg_id": key, "type": "text", "body": {"text": "hi"}});
    assert_eq!(
        app.post(path, Some(&token), message("k1")).await.status,
        201
    );
    let mut socket = app.ws("u1", "s2").await;
    let mut data = message("k2");
    data["conversation_id"] = json!("c1");
    assert_eq!(
        socket.request("send", "f1", data.clone()).await["type"],
        "send.ack"
    );

    data["client_msg_id"] = json!("k3");
    let refused = socket.request("send", "f2", data).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["data"]["code"], "rate_limited");
    assert!(refused["data"]["retry_after"].as_u64().unwrap() >= 1);
    assert_rate_limited(&app.post(path, Some(&token), message("k4")).await);
    assert_eq!(
        app.get(&format!("{path}?after_seq=0"), Some(&token))
            .await
            .status,
        200,
        "reading is not sending"
    );
}

#[tokio::test]
async fn disabled_limits_refuse_nothing() {
    let app = spawn_app_with(|config| {
        config.gateway.rate_limits.enabled = false;
        config.gateway.rate_limits.per_user = tight(1);
        config.gateway.rate_limits.per_ip = tight(1);
    })
    .await;
    let token = app.token("u1", "s1");
    for _ in 0..5 {
        assert_eq!(app.get(ME, Some(&token)).await.status, 200);
        assert_eq!(app.get(OPENAPI, None).await.status, 200);
    }
}

#[tokio::test]
async fn gateways_on_one_redis_share_each_budget() {
    let Some(redis) = im_testkit::redis() else {
        return;
    };
    let configure = |config: &mut Config| {
        config.kv.url = SecretUrl::new(redis.clone());
        config.gateway.rate_limits.per_user = tight(4);
    };
    let one = spawn_app_with(configure).await;
    let other = spawn_gateway(one.identity.clone(), &one.endpoint, configure).await;
    other.wait_for_access_rules().await;
    // a user no other run of this test spends for
    let user = im_testkit::unique_name("u");
    let token = one.token(&user, "s1");
    for node in [&one, &other, &one, &other] {
        assert_eq!(node.get(ME, Some(&token)).await.status, 200);
    }
    assert_rate_limited(&other.get(ME, Some(&token)).await);
    assert_rate_limited(&one.get(ME, Some(&token)).await);
    let someone_else = one.token(&im_testkit::unique_name("u"), "s2");
    assert_eq!(other.get(ME, Some(&someone_else)).await.status, 200);
}

#[tokio::test]
async fn beyond_the_requests_in_flight_the_gateway_sheds_at_once() {
    let app = spawn_live_app_with(|config| config.gateway.max_in_flight = 1).await;
    // an open WebSocket does not hold the only place
    let mut socket = app.ws("u1", "s1").await;
    let gate = app.identity.login_gate.write().await;
    let right = json!({"username": "alice", "password": PASSWORD});
    let held = app.post(LOGIN, None, right);
    let meanwhile = async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while app.identity.logins.lock().unwrap().is_empty() {
            assert!(
                Instant::now() < deadline,
                "the login never reached identity"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // queued behind the held login, it would never be answered
        let shed = tokio::time::timeout(Duration::from_secs(10), app.get(OPENAPI, None)).await;
        drop(gate);
        shed.expect("answered at once, not queued")
    };
    let (held, shed) = tokio::join!(held, meanwhile);
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.code(), "overloaded");
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(held.status, 200, "the request in flight is served");

    assert_eq!(app.get(OPENAPI, None).await.status, 200, "room again");
    assert_eq!(
        socket.request("ping", "p1", json!({})).await["type"],
        "pong"
    );
}
