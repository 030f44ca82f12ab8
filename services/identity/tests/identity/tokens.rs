//! Signing keys: the JWKS, rotation by an operator, and administrators.

use crate::harness::{PASSWORD, TestApp, on_every_backend};
use im_contracts::v1 as pb;
use im_token::{Jwks, PublicKey, Validation};

on_every_backend!(
    rotated_keys_are_published_and_old_tokens_stay_valid,
    operators_create_administrators,
);

async fn jwks(app: &TestApp) -> Jwks {
    let json = app
        .client
        .clone()
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    serde_json::from_str(&json).unwrap()
}

fn kids(jwks: &Jwks) -> Vec<&str> {
    jwks.keys.iter().map(|key| key.kid.as_str()).collect()
}

async fn rotated_keys_are_published_and_old_tokens_stay_valid(app: TestApp) {
    app.register("uma").await;
    let before = app.login("uma").await;
    let old_kid = im_token::decode_header(&before.access_token).unwrap().kid;
    let published = jwks(&app).await;
    assert_eq!(kids(&published), [old_kid.as_str()]);

    // anyone holding the JWKS can verify our tokens
    let key = PublicKey::from_jwk(&published.keys[0]).unwrap();
    let validation = Validation {
        issuer: "im".into(),
        audience: "im".into(),
        leeway_s: 5,
    };
    let now_s = crate::harness::now_ms() / 1000;
    let claims = key
        .verify(&before.access_token, &validation, now_s)
        .unwrap();
    assert_eq!(claims.sid, before.session_id);
    assert_eq!(claims.roles, ["user"]);

    // an operator rotates from another process
    let new_kid = im_identity::admin::rotate_keys(&app.ctx).await.unwrap();
    assert_ne!(new_kid, old_kid);
    let published = jwks(&app).await;
    assert_eq!(kids(&published), [new_kid.as_str(), old_kid.as_str()]);

    let after = app.login("uma").await;
    assert_eq!(
        im_token::decode_header(&after.access_token).unwrap().kid,
        new_kid,
        "new tokens are signed with the new key"
    );
    assert!(app.verify(&after.access_token).await.active);
    assert!(
        app.verify(&before.access_token).await.active,
        "tokens signed before the rotation keep working until they expire"
    );
}

async fn operators_create_administrators(app: TestApp) {
    let (id, username) = im_identity::admin::create_user(&app.ctx, "Root", PASSWORD, true)
        .await
        .unwrap();
    assert_eq!(username, "Root");
    let tokens = app.login("root").await;
    assert_eq!(tokens.user.as_ref().unwrap().id, id);
    assert_eq!(tokens.user.unwrap().roles, ["user", "admin"]);
    assert_eq!(
        app.verify(&tokens.access_token).await.roles,
        ["user", "admin"]
    );

    let taken = im_identity::admin::create_user(&app.ctx, "ROOT", PASSWORD, false)
        .await
        .unwrap_err();
    assert!(taken.to_string().contains("already taken"), "{taken:#}");
    let invalid = im_identity::admin::create_user(&app.ctx, "no spaces", PASSWORD, false)
        .await
        .unwrap_err();
    assert!(format!("{invalid:#}").contains("username"), "{invalid:#}");

    let (_, plain) = im_identity::admin::create_user(&app.ctx, "helper", PASSWORD, false)
        .await
        .unwrap();
    let helper = app.login(&plain).await;
    assert_eq!(helper.user.unwrap().roles, ["user"]);
}
