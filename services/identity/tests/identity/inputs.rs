//! Oversized and hostile input: always a 4xx, never a 500, and nothing is stored.

use crate::harness::{PASSWORD, TestApp, on_every_backend, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(oversized_and_hostile_input_is_refused_without_a_trace);

async fn oversized_and_hostile_input_is_refused_without_a_trace(app: TestApp) {
    let mut client = app.client.clone();
    let huge = "x".repeat(100_000);
    let register = |username: &str, password: &str, display_name: &str| pb::RegisterRequest {
        username: username.into(),
        password: password.into(),
        display_name: display_name.into(),
    };
    for (request, code) in [
        (register(&huge, PASSWORD, ""), "invalid_username"),
        (register("ivan", &huge, ""), "invalid_password"),
        (register("ivan", PASSWORD, &huge), "invalid_display_name"),
        (register("' OR 1=1; --", PASSWORD, ""), "invalid_username"),
        (register("ivan\0", PASSWORD, ""), "invalid_username"),
    ] {
        refused(client.register(request).await, Code::InvalidArgument, code);
    }
    assert!(app.usernames("").await.is_empty(), "no user was created");

    let judy = app.register("judy").await;
    let login =
        |username: &str, password: &str, device_id: &str, client_ip: &str| pb::LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: device_id.into(),
            client_ip: client_ip.into(),
            user_agent: huge.clone(),
        };
    for (request, code) in [
        (login(&huge, PASSWORD, "", ""), "invalid_username"),
        (login("judy", &huge, "", ""), "invalid_password"),
        (
            login("judy", PASSWORD, &"d".repeat(129), ""),
            "invalid_device_id",
        ),
        (
            login("judy", PASSWORD, "", "10.0.0.1; DROP TABLE sessions"),
            "invalid_client_ip",
        ),
    ] {
        refused(client.login(request).await, Code::InvalidArgument, code);
    }
    refused(
        client
            .login(login("judy' --", PASSWORD, "", "192.0.2.1"))
            .await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    assert!(
        app.sessions(&judy.id, "").await.is_empty(),
        "no session was opened"
    );

    // an oversized user agent is cut, not refused
    let tokens = client
        .login(login("judy", PASSWORD, "", "192.0.2.1"))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let sessions = app.sessions(&judy.id, &tokens.session_id).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].user_agent.chars().count(), 256);

    refused(
        client
            .update_profile(pb::UpdateProfileRequest {
                user_id: judy.id.clone(),
                display_name: Some(huge.clone()),
                avatar_file_id: None,
                bio: None,
            })
            .await,
        Code::InvalidArgument,
        "invalid_display_name",
    );
    let unchanged = client
        .get_user(pb::GetUserRequest {
            user_id: judy.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(unchanged.display_name, "judy");

    refused(
        client
            .get_users(pb::GetUsersRequest {
                user_ids: vec![judy.id.clone(); 101],
            })
            .await,
        Code::InvalidArgument,
        "too_many_ids",
    );
    refused(
        client
            .search_users(pb::SearchUsersRequest {
                prefix: String::new(),
                page: Some(pb::Page {
                    limit: 10,
                    cursor: huge.clone(),
                }),
            })
            .await,
        Code::InvalidArgument,
        "invalid_cursor",
    );
    let nothing = app.search(&huge, 10, "").await;
    assert!(nothing.users.is_empty());

    for (cidr, reason, code) in [
        (huge.as_str(), "", "invalid_cidr"),
        ("10.0.0.0/8", huge.as_str(), "invalid_reason"),
    ] {
        refused(
            client
                .block_ip(pb::BlockIpRequest {
                    cidr: cidr.into(),
                    reason: reason.into(),
                    until_ms: 0,
                    actor_id: "admin".into(),
                })
                .await,
            Code::InvalidArgument,
            code,
        );
    }
    refused(
        client
            .ban_user(pb::BanUserRequest {
                user_id: judy.id.clone(),
                reason: huge.clone(),
                until_ms: 0,
                actor_id: "admin".into(),
            })
            .await,
        Code::InvalidArgument,
        "invalid_reason",
    );
    let denylist = app.denylist().await;
    assert!(denylist.bans.is_empty() && denylist.ip_blocks.is_empty());

    // tokens of any shape are simply not active
    for token in [
        "",
        "abc",
        "a.b.c",
        huge.as_str(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        assert!(!app.verify(token).await.active, "{token:.20}");
        assert!(!app.introspect(token).await.active, "{token:.20}");
    }
    refused(
        app.try_refresh(&huge).await,
        Code::Unauthenticated,
        "invalid_refresh_token",
    );
}
