//! Bans and IP blocks, and the events gateways follow them by.

use crate::harness::{Events, PASSWORD, TestApp, now_ms, on_every_backend, refused};
use im_contracts::v1 as pb;
use im_contracts::v1::identity_event::Kind;
use tonic::Code;

on_every_backend!(
    a_ban_ends_every_session_and_refuses_login,
    ip_blocks_are_validated_normalised_and_announced,
);

fn ban_request(user_id: &str, reason: &str, until_ms: i64) -> pb::BanUserRequest {
    pb::BanUserRequest {
        user_id: user_id.into(),
        reason: reason.into(),
        until_ms,
        actor_id: "admin-1".into(),
    }
}

async fn a_ban_ends_every_session_and_refuses_login(app: TestApp) {
    let sam = app.register("sam").await;
    let session = app.login("sam").await;
    let mut client = app.client.clone();
    let mut events = Events::subscribe(&app).await;

    refused(
        client
            .ban_user(ban_request(&sam.id, "spam", now_ms() - 1))
            .await,
        Code::InvalidArgument,
        "invalid_until",
    );
    refused(
        client
            .ban_user(ban_request(&sam.id, &"r".repeat(201), 0))
            .await,
        Code::InvalidArgument,
        "invalid_reason",
    );
    refused(
        client
            .ban_user(ban_request("no-such-user", "spam", 0))
            .await,
        Code::NotFound,
        "user_not_found",
    );
    assert!(
        app.verify(&session.access_token).await.active,
        "refusals change nothing"
    );

    let until = now_ms() + 3_600_000;
    let ban = client
        .ban_user(ban_request(&sam.id, "spam", until))
        .await
        .unwrap()
        .into_inner()
        .ban
        .unwrap();
    assert_eq!(
        (ban.user_id.as_str(), ban.reason.as_str(), ban.until_ms),
        (sam.id.as_str(), "spam", until)
    );
    assert_eq!(ban.actor_id, "admin-1");

    // gateways hear of the ban and of the session it ended
    let (key, kind) = events.next().await;
    assert_eq!(key, sam.id);
    assert_eq!(kind, Kind::UserBanned(ban.clone()));
    let (key, kind) = events.next().await;
    assert_eq!(key, sam.id);
    let Kind::SessionRevoked(revoked) = kind else {
        panic!("expected session_revoked, got {kind:?}");
    };
    assert_eq!(revoked.session_id, session.session_id);

    assert!(!app.verify(&session.access_token).await.active);
    refused(
        app.try_refresh(&session.refresh_token).await,
        Code::Unauthenticated,
        "invalid_refresh_token",
    );
    refused(
        app.try_login("sam", PASSWORD, "192.0.2.1").await,
        Code::PermissionDenied,
        "user_banned",
    );
    // without the password, a ban is not revealed
    refused(
        app.try_login("sam", "not the password", "192.0.2.2").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );

    let bans = client
        .list_bans(pb::ListBansRequest { page: None })
        .await
        .unwrap()
        .into_inner()
        .bans;
    assert_eq!(bans, std::slice::from_ref(&ban));
    assert_eq!(app.denylist().await.bans, std::slice::from_ref(&ban));

    // a second ban replaces the first
    let forever = client
        .ban_user(ban_request(&sam.id, "abuse", 0))
        .await
        .unwrap()
        .into_inner()
        .ban
        .unwrap();
    assert_eq!(forever.until_ms, 0);
    assert_eq!(events.next().await.1, Kind::UserBanned(forever.clone()));
    assert_eq!(app.denylist().await.bans, [forever]);

    client
        .unban_user(pb::UnbanUserRequest {
            user_id: sam.id.clone(),
            actor_id: "admin-1".into(),
        })
        .await
        .unwrap();
    let (key, kind) = events.next().await;
    assert_eq!(key, sam.id);
    assert_eq!(
        kind,
        Kind::UserUnbanned(pb::UserUnbanned {
            user_id: sam.id.clone()
        })
    );
    events.assert_quiet().await;
    app.try_login("sam", PASSWORD, "192.0.2.1").await.unwrap();
    refused(
        client
            .unban_user(pb::UnbanUserRequest {
                user_id: sam.id.clone(),
                actor_id: "admin-1".into(),
            })
            .await,
        Code::NotFound,
        "ban_not_found",
    );
    assert!(app.denylist().await.bans.is_empty());
}

fn block_request(cidr: &str, until_ms: i64) -> pb::BlockIpRequest {
    pb::BlockIpRequest {
        cidr: cidr.into(),
        reason: "abuse".into(),
        until_ms,
        actor_id: "admin-1".into(),
    }
}

async fn ip_blocks_are_validated_normalised_and_announced(app: TestApp) {
    let mut client = app.client.clone();
    let mut events = Events::subscribe(&app).await;

    for bad in [
        "",
        "10.0.0.0/33",
        "not-an-ip",
        "10.0.0",
        "1.2.3.4'; DROP TABLE ip_blocks;--",
    ] {
        refused(
            client.block_ip(block_request(bad, 0)).await,
            Code::InvalidArgument,
            "invalid_cidr",
        );
    }
    refused(
        client.block_ip(block_request("10.0.0.1", 1)).await,
        Code::InvalidArgument,
        "invalid_until",
    );

    let range = client
        .block_ip(block_request("10.1.2.3/8", 0))
        .await
        .unwrap()
        .into_inner()
        .ip_block
        .unwrap();
    assert_eq!(range.cidr, "10.0.0.0/8");
    assert_eq!(range.until_ms, 0);
    let until = now_ms() + 60_000;
    let single = client
        .block_ip(block_request("2001:DB8::1", until))
        .await
        .unwrap()
        .into_inner()
        .ip_block
        .unwrap();
    assert_eq!(single.cidr, "2001:db8::1/128");
    assert_eq!(single.until_ms, until);

    for same in ["10.0.0.0/8", "10.200.0.0/8"] {
        refused(
            client.block_ip(block_request(same, 0)).await,
            Code::AlreadyExists,
            "ip_block_exists",
        );
    }

    for expected in [&range, &single] {
        let (key, kind) = events.next().await;
        assert_eq!(key, "ip-blocks");
        assert_eq!(kind, Kind::IpBlocked(expected.clone()));
    }

    let listed = client
        .list_ip_blocks(pb::ListIpBlocksRequest {})
        .await
        .unwrap()
        .into_inner()
        .ip_blocks;
    assert_eq!(listed, [range.clone(), single.clone()]);
    assert_eq!(app.denylist().await.ip_blocks, listed);

    client
        .unblock_ip(pb::UnblockIpRequest {
            id: range.id.clone(),
            actor_id: "admin-1".into(),
        })
        .await
        .unwrap();
    let (key, kind) = events.next().await;
    assert_eq!(key, "ip-blocks");
    assert_eq!(
        kind,
        Kind::IpUnblocked(pb::IpUnblocked {
            id: range.id.clone()
        })
    );
    events.assert_quiet().await;
    for unknown in [range.id.as_str(), "", "nope"] {
        refused(
            client
                .unblock_ip(pb::UnblockIpRequest {
                    id: unknown.into(),
                    actor_id: "admin-1".into(),
                })
                .await,
            Code::NotFound,
            "ip_block_not_found",
        );
    }
    assert_eq!(app.denylist().await.ip_blocks, [single]);
    // the range may be blocked again once lifted
    client
        .block_ip(block_request("10.0.0.0/8", 0))
        .await
        .unwrap();
}
