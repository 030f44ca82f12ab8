//! Who gets in: public routes, Bearer tokens and every way a token can be wrong.

use crate::fake_identity::{self, FakeState};
use crate::{claims, dead_endpoint, spawn_app, spawn_gateway};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use im_token::{Claims, SigningKey};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

const ME: &str = "/api/v1/users/me";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = spawn_app().await;
    let registered = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "zoe", "password": "pw"}),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    for path in [
        "/.well-known/jwks.json",
        "/api/v1/openapi.json",
        "/healthz",
        "/readyz",
    ] {
        assert_eq!(app.get(path, None).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn protected_routes_demand_a_bearer_token() {
    let app = spawn_app().await;
    let reply = app.get(ME, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "missing_token");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let basic = app
        .send(
            Method::GET,
            ME,
            None,
            None,
            &[("authorization", "Basic dTpw")],
        )
        .await;
    assert_eq!(basic.code(), "missing_token");

    let reply = app.get(ME, Some(&app.token("u1", "s1"))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["id"], "u1");
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_without_a_token() {
    let app = spawn_app().await;
    let reply = app.get("/api/v1/nope", None).await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
    assert!(reply.headers.contains_key("x-request-id"));
    let reply = app.send(Method::DELETE, "/healthz", None, None, &[]).await;
    assert_eq!((reply.status, reply.code()), (405, "method_not_allowed"));
    let reply = app
        .send(Method::PUT, "/api/v1/auth/logout", None, None, &[])
        .await;
    assert_eq!(reply.status, 405, "no handler runs, so no token is needed");
    // …but an existing handler of a protected path never runs without one.
    let reply = app
        .send(Method::POST, "/api/v1/auth/logout", None, None, &[])
        .await;
    assert_eq!(reply.status, 401);
    assert!(app.identity.logouts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let key = app.key();
    let good = claims("u1", "s1", &["user"]);
    let real = key.sign(&good);
    let [header, payload, signature]: [&str; 3] =
        real.split('.').collect::<Vec<_>>().try_into().unwrap();

    let escalated = Claims {
        roles: vec!["admin".into()],
        ..good.clone()
    };
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&serde_json::to_vec(&escalated).unwrap())
    );
    let none = b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let hs256 = b64(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#);
    let hs256_with_public_key = format!("{hs256}.{payload}.{}", b64(&key.public_key().to_bytes()));
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("empty segments", "a.b.c".to_owned()),
        ("tampered payload", tampered),
        ("alg none", format!("{none}.{payload}.")),
        ("alg none without signature", format!("{none}.{payload}")),
        ("HS256 with the public key", hs256_with_public_key),
        (
            "expired",
            key.sign(&Claims {
                iat: now - 1000,
                exp: now - 60,
                ..good.clone()
            }),
        ),
        (
            "wrong issuer",
            key.sign(&Claims {
                iss: "evil".into(),
                ..good.clone()
            }),
        ),
        (
            "wrong audience",
            key.sign(&Claims {
                aud: "other-app".into(),
                ..good.clone()
            }),
        ),
        ("unknown kid", SigningKey::generate("k-unknown").sign(&good)),
        (
            "known kid, other key",
            SigningKey::generate("k1").sign(&good),
        ),
    ];
    for (what, token) in cases {
        let reply = app.get(ME, Some(&token)).await;
        assert_eq!(reply.status, 401, "{what}: {:?}", reply.body);
        assert_eq!(reply.code(), "invalid_token", "{what}");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("invalid_token"),
            "{what}"
        );
    }
    // The tampered token must not open the admin API either.
    let reply = app
        .get(
            "/api/v1/admin/users",
            Some(&format!("{header}.{payload}.{signature}x")),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(app.get(ME, Some(&real)).await.status, 200);
}

#[tokio::test]
async fn unknown_key_ids_refetch_the_jwks_at_most_once_per_5_seconds() {
    let app = spawn_app().await;
    assert_eq!(app.identity.jwks_calls(), 0, "keys are fetched lazily");
    assert_eq!(app.get(ME, Some(&app.token("u1", "s1"))).await.status, 200);
    assert_eq!(app.identity.jwks_calls(), 1);

    // A flood of random key ids costs identity nothing more…
    let good = claims("u1", "s1", &["user"]);
    for n in 0..20 {
        let token = SigningKey::generate(format!("random-{n}")).sign(&good);
        assert_eq!(app.get(ME, Some(&token)).await.status, 401);
    }
    assert_eq!(app.identity.jwks_calls(), 1);

    // …while a genuinely new key (rotation) is picked up once the interval passed.
    let rotated = SigningKey::generate("k2");
    app.identity.keys.lock().unwrap().push(rotated.clone());
    let token = rotated.sign(&good);
    let reply = app
        .eventually(ME, &token, 200, Duration::from_secs(8))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(app.identity.jwks_calls(), 2);
}

#[tokio::test]
async fn a_remembered_token_stops_once_its_key_is_withdrawn() {
    let app = spawn_app().await;
    let token = app.token("u1", "s1");
    // Verified once, then answered from memory.
    for _ in 0..3 {
        assert_eq!(app.get(ME, Some(&token)).await.status, 200);
    }

    // Identity withdraws the key and signs with a new one; the gateway fetches the new
    // JWKS when a token names the new key (at most once per 5 seconds).
    let rotated = SigningKey::generate("k2");
    {
        let mut keys = app.identity.keys.lock().unwrap();
        keys.clear();
        keys.push(rotated.clone());
    }
    let fresh = rotated.sign(&claims("u1", "s1", &["user"]));
    let reply = app
        .eventually(ME, &fresh, 200, Duration::from_secs(8))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    // The remembered token went with the old keys.
    let reply = app.get(ME, Some(&token)).await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert_eq!(reply.code(), "invalid_token");
}

#[tokio::test]
async fn without_keys_and_identity_the_answer_is_503_until_identity_starts() {
    // Identity is not up yet when the gateway starts.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let state = FakeState::new();
    let app = spawn_gateway(state.clone(), &format!("http://{addr}"), |_| {}).await;
    let token = app.token("u1", "s1");
    let reply = app.get(ME, Some(&token)).await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.code(), "identity_unavailable");
    assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);

    let _fake = fake_identity::serve(state, TcpListener::bind(addr).await.unwrap());
    let reply = app
        .eventually(ME, &token, 200, Duration::from_secs(10))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn cached_keys_keep_verifying_while_identity_is_down() {
    let mut app = spawn_app().await;
    let token = app.token("u1", "s1");
    assert_eq!(app.get(ME, Some(&token)).await.status, 200);
    drop(app.fake.take());
    // The token is still accepted (no 401); only the profile lookup needs identity.
    let reply = app
        .eventually(ME, &token, 503, Duration::from_secs(5))
        .await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.code(), "identity_unavailable");
    let forged = SigningKey::generate("k1").sign(&claims("u1", "s1", &[]));
    assert_eq!(app.get(ME, Some(&forged)).await.status, 401);
}

#[tokio::test]
async fn identity_unreachable_is_503_with_retry_after() {
    let app = spawn_gateway(FakeState::new(), &dead_endpoint().await, |_| {}).await;
    let reply = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "alice", "password": "x"}),
        )
        .await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.code(), "identity_unavailable");
    assert!(reply.header("retry-after").is_some());
    let reply = app.get("/.well-known/jwks.json", None).await;
    assert_eq!((reply.status, reply.code()), (503, "identity_unavailable"));
    // Every further attempt too, also once identity's circuit is open (fast).
    for _ in 0..10 {
        let reply = app
            .post("/api/v1/auth/refresh", None, json!({"refresh_token": "rt"}))
            .await;
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert_eq!(reply.code(), "identity_unavailable");
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }
}
