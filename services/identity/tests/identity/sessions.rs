//! Logging in, throttling, refresh-token rotation and reuse, logging out, devices.

use crate::harness::{
    Events, PASSWORD, PER_ACCOUNT_AND_IP, PER_IP, TestApp, WINDOW_S, now_ms, on_every_backend,
    refused,
};
use im_contracts::v1 as pb;
use im_contracts::v1::identity_event::Kind;
use tonic::Code;

on_every_backend!(
    logging_in_opens_a_session,
    failed_logins_are_throttled_per_account_and_address,
    refresh_tokens_rotate,
    a_reused_refresh_token_revokes_its_session,
    concurrent_refreshes_of_one_token_succeed_once,
    logging_out_and_revoking_devices,
);

async fn logging_in_opens_a_session(app: TestApp) {
    let kim = app.register("Kim").await;
    let tokens = app.login("kim").await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in_s, 900);
    assert_eq!(tokens.refresh_expires_in_s, 30 * 24 * 3600);
    assert_eq!(tokens.refresh_token.len(), 43, "256 random bits");
    assert_eq!(tokens.user.as_ref().unwrap(), &kim);
    let header = im_token::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, "EdDSA");

    let verified = app.verify(&tokens.access_token).await;
    assert!(verified.active);
    assert_eq!(verified.user_id, kim.id);
    assert_eq!(verified.session_id, tokens.session_id);
    assert_eq!(verified.roles, ["user"]);
    let expires_in_ms = verified.expires_at_ms - now_ms();
    assert!(
        (890_000..=901_000).contains(&expires_in_ms),
        "{expires_in_ms}"
    );

    let introspected = app.introspect(&tokens.access_token).await;
    assert!(introspected.active);
    assert_eq!(introspected.token_type, "access");
    assert_eq!(introspected.user_id, kim.id);

    // the device gets a name when the client gives none
    let named = app
        .client
        .clone()
        .login(pb::LoginRequest {
            username: "KIM".into(),
            password: PASSWORD.into(),
            device_id: "kim-phone".into(),
            client_ip: "2001:db8::7".into(),
            user_agent: "IM/1.0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let sessions = app.sessions(&kim.id, &named.session_id).await;
    assert_eq!(sessions.len(), 2);
    let phone = sessions.iter().find(|s| s.id == named.session_id).unwrap();
    assert!(phone.current);
    assert_eq!(
        (
            phone.device_id.as_str(),
            phone.client_ip.as_str(),
            phone.user_agent.as_str()
        ),
        ("kim-phone", "2001:db8::7", "IM/1.0")
    );
    let other = sessions.iter().find(|s| s.id == tokens.session_id).unwrap();
    assert!(!other.current);
    assert!(!other.device_id.is_empty());

    let wrong = refused(
        app.try_login("kim", "not the password", "192.0.2.1").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    let unknown = refused(
        app.try_login("nobody", PASSWORD, "192.0.2.1").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    assert_eq!(wrong.message(), unknown.message());
}

async fn failed_logins_are_throttled_per_account_and_address(app: TestApp) {
    app.register("leo").await;
    let attacker = "198.51.100.1";
    for _ in 0..PER_ACCOUNT_AND_IP {
        refused(
            app.try_login("leo", "guess guess", attacker).await,
            Code::Unauthenticated,
            "invalid_credentials",
        );
    }
    // even the right password waits now, from that address
    for password in ["guess guess", PASSWORD] {
        let status = refused(
            app.try_login("LEO", password, attacker).await,
            Code::ResourceExhausted,
            "too_many_attempts",
        );
        assert_eq!(im_runtime::errors::retry_after(&status), Some(WINDOW_S));
    }
    // the owner elsewhere is not locked out
    app.try_login("leo", PASSWORD, "203.0.113.5").await.unwrap();
    // nor is the address for other accounts, below its own limit
    app.register("mia").await;
    app.try_login("mia", PASSWORD, attacker).await.unwrap();

    // a success clears the account's count at that address
    let home = "203.0.113.9";
    for _ in 0..2 {
        app.try_login("mia", "wrong wrong", home).await.unwrap_err();
    }
    app.try_login("mia", PASSWORD, home).await.unwrap();
    for _ in 0..2 {
        app.try_login("mia", "wrong wrong", home).await.unwrap_err();
    }
    app.try_login("mia", PASSWORD, home).await.unwrap();

    // one address guessing across many accounts is stopped too
    let sprayer = "198.51.100.77";
    for n in 0..PER_IP {
        refused(
            app.try_login(&format!("victim{n}"), "password1", sprayer)
                .await,
            Code::Unauthenticated,
            "invalid_credentials",
        );
    }
    refused(
        app.try_login("mia", PASSWORD, sprayer).await,
        Code::ResourceExhausted,
        "too_many_attempts",
    );
}

async fn refresh_tokens_rotate(app: TestApp) {
    let nora = app.register("nora").await;
    let first = app.login("nora").await;
    let refreshed = app
        .try_refresh(&first.refresh_token)
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(refreshed.refresh_token, first.refresh_token);
    assert_ne!(refreshed.access_token, first.access_token);
    assert_eq!(refreshed.session_id, first.session_id, "same session");
    assert_eq!(refreshed.user.as_ref().unwrap().id, nora.id);
    assert!(app.verify(&refreshed.access_token).await.active);

    let introspected = app.introspect(&refreshed.refresh_token).await;
    assert!(introspected.active);
    assert_eq!(introspected.token_type, "refresh");
    assert_eq!(introspected.session_id, first.session_id);
    assert!(!app.introspect(&first.refresh_token).await.active, "used");

    // and again, with the newest token
    let third = app
        .try_refresh(&refreshed.refresh_token)
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_eq!(third.session_id, first.session_id);
    assert_eq!(app.sessions(&nora.id, "").await.len(), 1);

    for garbage in ["", "not-a-token", &im_token::secret::random_token()] {
        refused(
            app.try_refresh(garbage).await,
            Code::Unauthenticated,
            "invalid_refresh_token",
        );
    }
}

async fn a_reused_refresh_token_revokes_its_session(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    let olga = app.register("olga").await;
    let stolen = app.login("olga").await;
    let other_device = app.login("olga").await;
    let rotated = app
        .try_refresh(&stolen.refresh_token)
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    refused(
        app.try_refresh(&stolen.refresh_token).await,
        Code::Unauthenticated,
        "refresh_token_reused",
    );
    // every token of that session is dead, the newest included
    assert!(!app.verify(&stolen.access_token).await.active);
    assert!(!app.verify(&rotated.access_token).await.active);
    refused(
        app.try_refresh(&rotated.refresh_token).await,
        Code::Unauthenticated,
        "invalid_refresh_token",
    );
    // the user's other devices are unaffected
    assert!(app.verify(&other_device.access_token).await.active);

    let (key, kind) = events.next().await;
    assert_eq!(key, olga.id);
    let Kind::SessionRevoked(revoked) = kind else {
        panic!("expected session_revoked, got {kind:?}");
    };
    assert_eq!(revoked.session_id, stolen.session_id);
    assert_eq!(revoked.user_id, olga.id);
    events.assert_quiet().await;
}

async fn concurrent_refreshes_of_one_token_succeed_once(app: TestApp) {
    app.register("pete").await;
    for _round in 0..5 {
        let tokens = app.login("pete").await;
        let race: Vec<_> = (0..2)
            .map(|_| {
                let app = app.clone();
                let token = tokens.refresh_token.clone();
                tokio::spawn(async move { app.try_refresh(&token).await })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in race {
            match racer.await.unwrap() {
                Ok(reply) => winners.push(reply.into_inner().tokens.unwrap()),
                Err(status) => {
                    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
                    assert_eq!(
                        im_runtime::errors::error_code(&status),
                        Some("refresh_token_reused"),
                        "the loser is a reuse"
                    );
                }
            }
        }
        assert_eq!(winners.len(), 1, "exactly one exchange succeeds");
        // a reuse revokes the session, so the winner's tokens die with it
        assert!(!app.verify(&winners[0].access_token).await.active);
    }
}

async fn logging_out_and_revoking_devices(app: TestApp) {
    let quinn = app.register("quinn").await;
    let rita = app.register("rita").await;
    let laptop = app.login("quinn").await;
    let phone = app.login("quinn").await;
    let mut events = Events::subscribe(&app).await;

    // someone else's session is not found, and stays live
    refused(
        app.client
            .clone()
            .revoke_session(pb::RevokeSessionRequest {
                user_id: rita.id.clone(),
                session_id: phone.session_id.clone(),
            })
            .await,
        Code::NotFound,
        "session_not_found",
    );
    assert!(app.verify(&phone.access_token).await.active);

    app.client
        .clone()
        .revoke_session(pb::RevokeSessionRequest {
            user_id: quinn.id.clone(),
            session_id: phone.session_id.clone(),
        })
        .await
        .unwrap();
    assert!(!app.verify(&phone.access_token).await.active);
    let left: Vec<String> = app
        .sessions(&quinn.id, &laptop.session_id)
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, std::slice::from_ref(&laptop.session_id));

    app.client
        .clone()
        .logout(pb::LogoutRequest {
            user_id: quinn.id.clone(),
            session_id: laptop.session_id.clone(),
        })
        .await
        .unwrap();
    assert!(!app.verify(&laptop.access_token).await.active);
    refused(
        app.try_refresh(&laptop.refresh_token).await,
        Code::Unauthenticated,
        "invalid_refresh_token",
    );
    // logging out twice is fine and announced once
    app.client
        .clone()
        .logout(pb::LogoutRequest {
            user_id: quinn.id.clone(),
            session_id: laptop.session_id.clone(),
        })
        .await
        .unwrap();

    let now = now_ms();
    for expected in [&phone.session_id, &laptop.session_id] {
        let (key, kind) = events.next().await;
        assert_eq!(key, quinn.id);
        let Kind::SessionRevoked(revoked) = kind else {
            panic!("expected session_revoked, got {kind:?}");
        };
        assert_eq!(&revoked.session_id, expected);
        let forget_in = revoked.forget_after_ms - now;
        assert!((890_000..=901_000).contains(&forget_in), "{forget_in}");
    }
    events.assert_quiet().await;

    let denied: Vec<String> = app
        .denylist()
        .await
        .revoked_sessions
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    assert!(denied.contains(&phone.session_id) && denied.contains(&laptop.session_id));
}
