//! The attacks the auth center must withstand, each through the real gateway.

use crate::api::{Api, PASSWORD, create_admin, token};
use crate::process::{IM, ImProcess};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::Path;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(1);
const TRUSTED_PROXY: (&str, &str) = ("IM__GATEWAY__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]");

fn start(dir: &Path, envs: &[(&str, &str)]) -> ImProcess {
    ImProcess::start(dir, |command| {
        command.envs(envs.iter().copied());
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn assert_unauthorized(reply: &crate::api::Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    assert!(!reply.error_code().is_empty(), "{what}: an error code");
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    api.register("victim").await;
    let login = api.login("victim", "d").await;
    let real = token(&login);
    let [header, payload, signature]: [&str; 3] =
        real.split('.').collect::<Vec<_>>().try_into().unwrap();
    let claims = decode_part(real, 1);
    let kid = decode_part(real, 0)["kid"].as_str().unwrap().to_owned();

    // no token at all
    let reply = api
        .send(Method::GET, "/api/v1/users/me", None, None, &[])
        .await;
    assert_unauthorized(&reply, "missing token");
    assert!(
        reply
            .headers
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer"))
    );

    // tampered payload: the same signature over other claims
    let mut escalated = claims.clone();
    escalated["roles"] = json!(["user", "admin"]);
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&serde_json::to_vec(&escalated).unwrap())
    );
    assert_unauthorized(
        &api.get("/api/v1/users/me", &tampered).await,
        "tampered payload",
    );
    assert_unauthorized(
        &api.get("/api/v1/admin/users", &tampered).await,
        "tampered payload on admin",
    );

    // tampered signature
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let flipped = format!("{header}.{payload}.{}", b64(&bytes));
    assert_unauthorized(
        &api.get("/api/v1/users/me", &flipped).await,
        "tampered signature",
    );

    // alg: none, with and without an empty signature
    let none = b64(json!({"alg": "none", "typ": "JWT", "kid": kid})
        .to_string()
        .as_bytes());
    for forged in [format!("{none}.{payload}."), format!("{none}.{payload}")] {
        assert_unauthorized(&api.get("/api/v1/users/me", &forged).await, "alg none");
    }

    // HS256 "signed" with the public key published in the JWKS
    let jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None, &[])
        .await;
    assert_eq!(jwks.status, 200, "JWKS is public");
    let x = jwks.body["keys"][0]["x"].as_str().unwrap().to_owned();
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    let hs_header = b64(json!({"alg": "HS256", "typ": "JWT", "kid": kid})
        .to_string()
        .as_bytes());
    let signing_input = format!("{hs_header}.{payload}");
    for secret in [
        URL_SAFE_NO_PAD.decode(&x).unwrap(),
        x.clone().into_bytes(),
        jwks.body.to_string().into_bytes(),
    ] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(signing_input.as_bytes());
        let forged = format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()));
        assert_unauthorized(
            &api.get("/api/v1/users/me", &forged).await,
            "HS256 with the public key",
        );
    }

    // a well-formed EdDSA token from a key nobody published
    let stranger = im_token::SigningKey::generate("not-ours");
    let claims: im_token::Claims = serde_json::from_value(claims).unwrap();
    assert_unauthorized(
        &api.get("/api/v1/users/me", &stranger.sign(&claims)).await,
        "unknown kid",
    );
    let same_kid = im_token::SigningKey::generate(kid);
    assert_unauthorized(
        &api.get("/api/v1/users/me", &same_kid.sign(&claims)).await,
        "known kid, wrong key",
    );

    // garbage
    for garbage in ["", "abc", "a.b.c", "Bearer", &"x".repeat(9000)] {
        assert_unauthorized(&api.get("/api/v1/users/me", garbage).await, "garbage");
    }

    // and the real one still works
    assert_eq!(api.get("/api/v1/users/me", real).await.status, 200);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[("IM__AUTH__ACCESS_TTL", "1")]);
    let api = Api::new(&im);
    api.register("shortlived").await;
    let login = api.login("shortlived", "d").await;
    assert_eq!(login["expires_in"], 1);
    assert_eq!(api.get("/api/v1/users/me", token(&login)).await.status, 200);
    // expiry plus the verifier's few seconds of clock leeway
    let expired = api
        .eventually_status(
            "/api/v1/users/me",
            token(&login),
            401,
            Duration::from_secs(15),
        )
        .await;
    assert_unauthorized(&expired, "expired");
}

#[tokio::test]
async fn tokens_for_another_issuer_or_audience_are_refused_and_rotation_keeps_old_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    api.register("traveller").await;
    let old = api.login("traveller", "d").await;
    let old_kid = decode_part(token(&old), 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(im.terminate().0.success());

    // same keys (same data directory), different issuer, then different audience
    for (key, value) in [
        ("IM__AUTH__ISSUER", "https://elsewhere.example"),
        ("IM__AUTH__AUDIENCE", "another-app"),
    ] {
        let im = start(dir.path(), &[(key, value)]);
        let api = Api::new(&im);
        assert_unauthorized(&api.get("/api/v1/users/me", token(&old)).await, key);
        let fresh = api.login("traveller", "d").await;
        assert_eq!(
            api.get("/api/v1/users/me", token(&fresh)).await.status,
            200,
            "{key}"
        );
        assert!(im.terminate().0.success());
    }

    // key rotation: new tokens use the new key, old ones stay valid until they expire
    let output = std::process::Command::new(IM)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["admin", "rotate-keys"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    assert_eq!(
        api.get("/api/v1/users/me", token(&old)).await.status,
        200,
        "old key still in JWKS"
    );
    let fresh = api.login("traveller", "d").await;
    assert_ne!(
        decode_part(token(&fresh), 0)["kid"].as_str().unwrap(),
        old_kid
    );
    let jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None, &[])
        .await;
    assert_eq!(
        jwks.body["keys"].as_array().unwrap().len(),
        2,
        "{}",
        jwks.body
    );
}

#[tokio::test]
async fn banned_users_and_blocked_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        TRUSTED_PROXY,
        ("IM__GATEWAY__BLOCKED_CIDRS", "[\"198.51.100.0/24\"]"),
    ];
    create_admin(dir.path(), &[], "root");
    let im = start(dir.path(), &envs);
    let api = Api::new(&im);
    let admin = api.login("root", "console").await;
    let spammer = api.register("spammer").await;
    let spammer_id = spammer["id"].as_str().unwrap();
    let session = api.login("spammer", "d").await;

    // only administrators may use the admin API
    let refused = api.get("/api/v1/admin/users", token(&session)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let listed = api.get("/api/v1/admin/users", token(&admin)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);

    // ban: every request and every login refused at once
    let path = format!("/api/v1/admin/users/{spammer_id}/ban");
    let past = api
        .post(
            &path,
            Some(token(&admin)),
            json!({"reason": "spam", "until": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(past.status, 400, "a ban that already ended: {}", past.body);
    let ban = api
        .post(&path, Some(token(&admin)), json!({"reason": "spam"}))
        .await;
    assert_eq!(ban.status, 201, "{}", ban.body);
    let blocked = api
        .eventually_status("/api/v1/users/me", token(&session), 403, WITHIN)
        .await;
    assert!(
        matches!(blocked.status, 401 | 403),
        "banned: {}",
        blocked.body
    );
    assert_eq!(api.login_as("spammer", PASSWORD, "d").await.status, 403);
    let unban = api
        .send(Method::DELETE, &path, Some(token(&admin)), None, &[])
        .await;
    assert_eq!(unban.status, 204);
    let back = api.login("spammer", "d").await;
    assert_eq!(
        api.eventually_status("/api/v1/users/me", token(&back), 200, WITHIN)
            .await
            .status,
        200
    );

    // addresses blocked by configuration
    let xff = |ip: &'static str| [("x-forwarded-for", ip)];
    let configured = api
        .send(
            Method::GET,
            "/api/v1/users/me",
            Some(token(&back)),
            None,
            &xff("198.51.100.7"),
        )
        .await;
    assert_eq!(configured.status, 403, "{}", configured.body);
    let public = api
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({})),
            &xff("198.51.100.7"),
        )
        .await;
    assert_eq!(public.status, 403, "blocked addresses cannot even log in");

    // and at run time, through the admin API
    let bad = api
        .post(
            "/api/v1/admin/ip-blocks",
            Some(token(&admin)),
            json!({"cidr": "300.1.2.3/99"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let block = api
        .post(
            "/api/v1/admin/ip-blocks",
            Some(token(&admin)),
            json!({"cidr": "203.0.113.0/24", "reason": "abuse"}),
        )
        .await;
    assert_eq!(block.status, 201, "{}", block.body);
    const FROM_BLOCKED: [(&str, &str); 1] = [("x-forwarded-for", "203.0.113.9")];
    let from_blocked = || {
        api.send(
            Method::GET,
            "/api/v1/users/me",
            Some(token(&back)),
            None,
            &FROM_BLOCKED,
        )
    };
    let deadline = std::time::Instant::now() + WITHIN;
    while from_blocked().await.status != 403 {
        assert!(
            std::time::Instant::now() < deadline,
            "IP block not in force within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.get("/api/v1/users/me", token(&back)).await.status,
        200,
        "other addresses unaffected"
    );
    let list = api.get("/api/v1/admin/ip-blocks", token(&admin)).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
    let id = block.body["id"].as_str().unwrap();
    let unblock = api
        .send(
            Method::DELETE,
            &format!("/api/v1/admin/ip-blocks/{id}"),
            Some(token(&admin)),
            None,
            &[],
        )
        .await;
    assert_eq!(unblock.status, 204);
    let deadline = std::time::Instant::now() + WITHIN;
    while from_blocked().await.status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "unblock not in force within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // X-Forwarded-For from an untrusted peer is ignored: tested in the gateway crate.
}

#[tokio::test]
async fn brute_force_is_throttled_without_locking_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[TRUSTED_PROXY]);
    let api = Api::new(&im);
    api.register("gina").await;
    let api = &api;
    let attempt = |password: &'static str, ip: &'static str| async move {
        api.send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "gina", "password": password})),
            &[("x-forwarded-for", ip)],
        )
        .await
    };
    for _ in 0..5 {
        assert_eq!(attempt("guess guess", "192.0.2.1").await.status, 401);
    }
    let throttled = attempt("guess guess", "192.0.2.1").await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let retry_after: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert_eq!(
        attempt(PASSWORD, "192.0.2.1").await.status,
        429,
        "even the right password, from there"
    );
    assert_eq!(
        attempt(PASSWORD, "192.0.2.2").await.status,
        200,
        "the owner elsewhere still gets in"
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), &[], "root");
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    let admin = api.login("root", "console").await;
    let register = |body: Value| api.post("/api/v1/auth/register", None, body);

    let cases = [
        json!({"username": "x'; DROP TABLE users;--", "password": PASSWORD}),
        json!({"username": "robert\"); --", "password": PASSWORD}),
        json!({"username": "ab", "password": PASSWORD}),
        json!({"username": "a".repeat(33), "password": PASSWORD}),
        json!({"username": "a".repeat(100_000), "password": PASSWORD}),
        json!({"username": "name with space", "password": PASSWORD}),
        json!({"username": "héllo", "password": PASSWORD}),
        json!({"username": "shortpw", "password": "1234567"}),
        json!({"username": "longpw", "password": "p".repeat(129)}),
        json!({"username": "nopassword"}),
        json!({"password": PASSWORD}),
        json!({"username": 42, "password": PASSWORD}),
        json!(["not", "an", "object"]),
    ];
    for body in cases {
        let reply = register(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(!reply.error_code().is_empty());
    }

    let raw = |content_type: &'static str, body: Vec<u8>| {
        reqwest::Client::new()
            .post(im.http_url("/api/v1/auth/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = raw("application/json", b"{\"username\": \"zed\", ".to_vec())
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let wrong_type = raw("text/plain", b"username=zed".to_vec()).await.unwrap();
    assert_eq!(wrong_type.status(), 415);
    // The gateway may answer 413 before the client has finished writing and close the
    // connection, which the client can see as a broken pipe instead of the answer: the
    // answer is what counts, so a refused write is tried again.
    let mut huge = None;
    for _ in 0..5 {
        if let Ok(reply) = raw("application/json", vec![b' '; 2 * 1024 * 1024]).await {
            huge = Some(reply);
            break;
        }
    }
    assert_eq!(huge.expect("an answer to an oversized body").status(), 413);

    // odd path and query input is a 4xx too, never a 500
    for path in [
        format!("/api/v1/users/{}", "9".repeat(300)),
        "/api/v1/users/%00".to_owned(),
        "/api/v1/users/' OR 1=1 --".to_owned(),
        "/api/v1/users?q=%25".to_owned(),
        "/api/v1/users?limit=-1".to_owned(),
        "/api/v1/users?limit=100000".to_owned(),
        "/api/v1/users?cursor=%FF%FE".to_owned(),
    ] {
        let reply = api.get(&path, token(&admin)).await;
        assert!(
            reply.status < 500,
            "{path}: {} {}",
            reply.status,
            reply.body
        );
    }
    let wildcard = api.get("/api/v1/users?q=%25", token(&admin)).await;
    assert_eq!(wildcard.status, 200);
    assert!(
        wildcard.body["items"].as_array().unwrap().is_empty(),
        "% is not a wildcard"
    );

    // nothing was created by any of it
    let users = api.get("/api/v1/admin/users", token(&admin)).await;
    assert_eq!(
        users.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        users.body
    );
}

#[tokio::test]
async fn introspection_and_jwks_serve_third_parties() {
    let dir = tempfile::tempdir().unwrap();
    let im = start(dir.path(), &[]);
    let api = Api::new(&im);
    let user = api.register("thirdparty").await;
    let login = api.login("thirdparty", "d").await;

    let active = api
        .post(
            "/api/v1/auth/introspect",
            Some(token(&login)),
            json!({"token": token(&login)}),
        )
        .await;
    assert_eq!(active.status, 200, "{}", active.body);
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["sub"], user["id"]);
    assert!(active.body["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(active.body["exp"].as_i64().is_some_and(|exp| exp > 0));
    assert!(
        active.body["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("user"))
    );

    let refresh = api
        .post(
            "/api/v1/auth/introspect",
            Some(token(&login)),
            json!({"token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.body["active"], true, "{}", refresh.body);

    let garbage = api
        .post(
            "/api/v1/auth/introspect",
            Some(token(&login)),
            json!({"token": "garbage"}),
        )
        .await;
    assert_eq!(garbage.status, 200);
    assert_eq!(garbage.body, json!({"active": false}));
}
