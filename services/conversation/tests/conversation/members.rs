//! Members: roles, kicks, mutes and listing.

use crate::harness::{TestApp, now_ms, on_every_backend, page, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(
    owners_kick_anyone_admins_kick_members,
    owners_and_admins_mute_within_their_rank,
    members_are_listed_by_id_in_pages,
);

/// A group of owner `olive`, admin `adam`, admin `ada` and members `mia`, `max`, `mo`.
async fn staffed_group(app: &TestApp) -> String {
    let group = app
        .group("olive", &["adam", "ada", "mia", "max", "mo"])
        .await;
    for admin in ["adam", "ada"] {
        app.set_role(&group, "olive", admin, pb::MemberRole::Admin)
            .await
            .unwrap();
    }
    group
}

async fn owners_kick_anyone_admins_kick_members(app: TestApp) {
    let group = staffed_group(&app).await;
    refused(
        app.remove(&group, "mia", "max").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.remove(&group, "adam", "ada").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.remove(&group, "adam", "olive").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.remove(&group, "adam", "stranger").await,
        Code::NotFound,
        "member_not_found",
    );
    refused(
        app.remove(&group, "stranger", "mia").await,
        Code::NotFound,
        "conversation_not_found",
    );
    app.remove(&group, "adam", "mia").await.unwrap();
    app.remove(&group, "olive", "ada").await.unwrap();
    // kicking oneself is leaving
    app.remove(&group, "max", "max").await.unwrap();
    assert_eq!(app.member_ids(&group).await, ["adam", "mo", "olive"]);
    assert!(!app.check(&group, "mia").await.is_member);
    refused(
        app.get(&group, "mia").await,
        Code::NotFound,
        "conversation_not_found",
    );
}

async fn owners_and_admins_mute_within_their_rank(app: TestApp) {
    let group = staffed_group(&app).await;
    let later = now_ms() + 3_600_000;
    app.mute(&group, "adam", "mia", later).await.unwrap();
    app.mute(&group, "olive", "ada", later).await.unwrap();
    refused(
        app.mute(&group, "adam", "ada", later).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.mute(&group, "adam", "olive", later).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.mute(&group, "olive", "olive", later).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.mute(&group, "mia", "max", later).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.mute(&group, "olive", "max", now_ms() - 1_000).await,
        Code::InvalidArgument,
        "invalid_muted_until",
    );
    assert!(app.check(&group, "mia").await.muted);
    assert!(app.check(&group, "ada").await.muted);
    assert!(!app.check(&group, "max").await.muted);
    assert_eq!(
        app.member(&group, "mia").await.unwrap().muted_until_ms,
        later
    );

    // 0 unmutes
    refused(
        app.mute(&group, "max", "mia", 0).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    app.mute(&group, "adam", "mia", 0).await.unwrap();
    assert!(!app.check(&group, "mia").await.muted);
    assert_eq!(app.member(&group, "mia").await.unwrap().muted_until_ms, 0);
}

async fn members_are_listed_by_id_in_pages(app: TestApp) {
    let others = ["m1", "m2", "m3", "m4", "m5", "m6"];
    let group = app.group("olive", &others).await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .c()
            .list_members(pb::ListMembersRequest {
                conversation_id: group.clone(),
                viewer_id: "m3".into(),
                page: page(3, &cursor),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.members.len() <= 3);
        seen.extend(reply.members.into_iter().map(|m| m.user_id));
        cursor = reply.page_info.unwrap().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["m1", "m2", "m3", "m4", "m5", "m6", "olive"]);
    refused(
        app.c()
            .list_members(pb::ListMembersRequest {
                conversation_id: group.clone(),
                viewer_id: "outsider".into(),
                page: None,
            })
            .await,
        Code::NotFound,
        "conversation_not_found",
    );
}
