//! Groups: creation, settings, ownership and dissolution.

use crate::harness::{Options, TestApp, now_ms, on_every_backend, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(
    groups_are_created_with_their_owner_and_members,
    owners_and_admins_change_settings,
    mute_all_silences_plain_members,
    ownership_is_transferred_before_the_owner_leaves,
    the_last_owner_leaving_dissolves_the_group,
    a_dissolved_group_is_gone_for_everyone,
);

on_every_backend!(
    options = super::small_groups();
    the_member_limit_holds_at_creation_and_invitation,
);

fn small_groups() -> Options {
    Options::with(|settings| settings.member_limit = 4)
}

async fn groups_are_created_with_their_owner_and_members(app: TestApp) {
    let created = app
        .try_group(
            "olive",
            "  Book club 📚 ",
            &["bob", "carol", "bob", "olive"],
            None,
        )
        .await
        .unwrap()
        .into_inner();
    let conversation = created.conversation.unwrap();
    assert_eq!(conversation.kind(), pb::ConversationKind::Group);
    assert_eq!(conversation.name, "Book club 📚");
    assert_eq!(conversation.owner_id, "olive");
    let settings = created.settings.unwrap();
    assert_eq!(settings.invite_policy(), pb::InvitePolicy::AnyMember);
    assert_eq!(settings.join_policy(), pb::JoinPolicy::InviteOnly);
    assert!(!settings.mute_all);
    let roles: Vec<_> = created
        .members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role()))
        .collect();
    assert_eq!(
        roles,
        [
            ("olive", pb::MemberRole::Owner),
            ("bob", pb::MemberRole::Member),
            ("carol", pb::MemberRole::Member),
        ]
    );
    assert_eq!(
        app.member_ids(&conversation.id).await,
        ["bob", "carol", "olive"]
    );

    let seen = app
        .get(&conversation.id, "carol")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.member_count, 3);
    assert_eq!(seen.viewer.unwrap().role(), pb::MemberRole::Member);
    assert_eq!(
        seen.settings.unwrap().join_policy(),
        pb::JoinPolicy::InviteOnly
    );
    refused(
        app.get(&conversation.id, "mallory").await,
        Code::NotFound,
        "conversation_not_found",
    );

    // a group of one is fine; a nameless one is not
    app.try_group("solo", "Notes", &[], None).await.unwrap();
    for bad in ["", "   ", &"n".repeat(65)] {
        refused(
            app.try_group("olive", bad, &["bob"], None).await,
            Code::InvalidArgument,
            "invalid_name",
        );
    }
    // settings chosen at creation
    let open = app
        .try_group(
            "olive",
            "Open",
            &[],
            Some(pb::GroupSettings {
                invite_policy: pb::InvitePolicy::AdminsOnly.into(),
                join_policy: pb::JoinPolicy::Open.into(),
                mute_all: true,
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(open.invite_policy(), pb::InvitePolicy::AdminsOnly);
    assert_eq!(open.join_policy(), pb::JoinPolicy::Open);
    assert!(open.mute_all);
}

async fn the_member_limit_holds_at_creation_and_invitation(app: TestApp) {
    refused(
        app.try_group("olive", "Big", &["a", "b", "c", "d"], None)
            .await,
        Code::FailedPrecondition,
        "member_limit",
    );
    let group = app.group("olive", &["a", "b"]).await;
    // all or nothing: two more would pass the limit, so no one is added
    refused(
        app.invite(&group, "olive", &["c", "d"]).await,
        Code::FailedPrecondition,
        "member_limit",
    );
    assert_eq!(app.member_ids(&group).await, ["a", "b", "olive"]);
    let added = app
        .invite(&group, "a", &["c", "b"])
        .await
        .unwrap()
        .into_inner()
        .added;
    assert_eq!(added.len(), 1, "members already in are skipped");
    assert_eq!(app.member_ids(&group).await, ["a", "b", "c", "olive"]);
    refused(
        app.invite(&group, "olive", &["d"]).await,
        Code::FailedPrecondition,
        "member_limit",
    );
    // naming more users than a group can hold is bad input
    refused(
        app.invite(&group, "olive", &["1", "2", "3", "4", "5"])
            .await,
        Code::InvalidArgument,
        "too_many_users",
    );
}

async fn owners_and_admins_change_settings(app: TestApp) {
    let group = app.group("olive", &["adam", "mia"]).await;
    app.set_role(&group, "olive", "adam", pb::MemberRole::Admin)
        .await
        .unwrap();

    let updated = app
        .update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "adam".into(),
            name: Some("Renamed".into()),
            avatar_file_id: Some("file-123".into()),
            announcement: Some("Meeting on Monday".into()),
            invite_policy: Some(pb::InvitePolicy::AdminsOnly.into()),
            join_policy: Some(pb::JoinPolicy::Approval.into()),
            mute_all: None,
        })
        .await
        .unwrap()
        .into_inner();
    let conversation = updated.conversation.unwrap();
    assert_eq!(
        (
            conversation.name.as_str(),
            conversation.avatar_file_id.as_str(),
            conversation.announcement.as_str()
        ),
        ("Renamed", "file-123", "Meeting on Monday")
    );
    let settings = updated.settings.unwrap();
    assert_eq!(settings.invite_policy(), pb::InvitePolicy::AdminsOnly);
    assert_eq!(settings.join_policy(), pb::JoinPolicy::Approval);
    let seen = app.get(&group, "mia").await.unwrap().into_inner();
    assert_eq!(seen.conversation.unwrap().name, "Renamed");

    refused(
        app.update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "mia".into(),
            name: Some("Mine now".into()),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "mallory".into(),
            name: Some("Mine now".into()),
            ..Default::default()
        })
        .await,
        Code::NotFound,
        "conversation_not_found",
    );
    refused(
        app.update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "olive".into(),
            announcement: Some("a".repeat(2001)),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "invalid_announcement",
    );
    app.update(pb::UpdateConversationRequest {
        conversation_id: group.clone(),
        actor_id: "olive".into(),
        announcement: Some("a".repeat(2000)),
        ..Default::default()
    })
    .await
    .unwrap();

    // admins only invite now
    refused(
        app.invite(&group, "mia", &["zoe"]).await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    app.invite(&group, "adam", &["zoe"]).await.unwrap();
    // and roles are the owner's to give
    refused(
        app.set_role(&group, "adam", "mia", pb::MemberRole::Admin)
            .await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        app.set_role(&group, "olive", "mia", pb::MemberRole::Owner)
            .await,
        Code::InvalidArgument,
        "invalid_role",
    );
    app.set_role(&group, "olive", "adam", pb::MemberRole::Member)
        .await
        .unwrap();
    assert_eq!(
        app.member(&group, "adam").await.unwrap().role(),
        pb::MemberRole::Member
    );
}

async fn mute_all_silences_plain_members(app: TestApp) {
    let group = app.group("olive", &["adam", "mia"]).await;
    app.set_role(&group, "olive", "adam", pb::MemberRole::Admin)
        .await
        .unwrap();
    assert!(!app.check(&group, "mia").await.muted);
    app.update(pb::UpdateConversationRequest {
        conversation_id: group.clone(),
        actor_id: "adam".into(),
        mute_all: Some(true),
        ..Default::default()
    })
    .await
    .unwrap();
    let mia = app.check(&group, "mia").await;
    assert!(mia.is_member && mia.muted && mia.mute_all);
    assert!(!app.check(&group, "adam").await.muted);
    assert!(!app.check(&group, "olive").await.muted);
    app.update(pb::UpdateConversationRequest {
        conversation_id: group.clone(),
        actor_id: "olive".into(),
        mute_all: Some(false),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(!app.check(&group, "mia").await.muted);

    // one member muted until a time
    let until = now_ms() + 1_500;
    let muted = app
        .mute(&group, "adam", "mia", until)
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(muted.muted_until_ms, until);
    let check = app.check(&group, "mia").await;
    assert!(check.muted && check.muted_until_ms == until);
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    assert!(!app.check(&group, "mia").await.muted, "the mute ran out");
}

async fn ownership_is_transferred_before_the_owner_leaves(app: TestApp) {
    let group = app.group("olive", &["adam", "mia"]).await;
    app.set_role(&group, "olive", "adam", pb::MemberRole::Admin)
        .await
        .unwrap();
    refused(
        app.remove(&group, "olive", "olive").await,
        Code::FailedPrecondition,
        "owner_must_transfer",
    );
    let transfer = |actor: &str, to: &str| {
        let (actor, to, group) = (actor.to_owned(), to.to_owned(), group.clone());
        let app = app.clone();
        async move {
            app.c()
                .transfer_ownership(pb::TransferOwnershipRequest {
                    conversation_id: group,
                    actor_id: actor,
                    new_owner_id: to,
                })
                .await
        }
    };
    refused(
        transfer("adam", "mia").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        transfer("olive", "stranger").await,
        Code::NotFound,
        "member_not_found",
    );
    refused(
        transfer("olive", "olive").await,
        Code::InvalidArgument,
        "cannot_target_self",
    );
    let conversation = transfer("olive", "mia")
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap();
    assert_eq!(conversation.owner_id, "mia");
    assert_eq!(
        app.member(&group, "mia").await.unwrap().role(),
        pb::MemberRole::Owner
    );
    assert_eq!(
        app.member(&group, "olive").await.unwrap().role(),
        pb::MemberRole::Admin
    );
    // the former owner is an admin now and may leave
    app.remove(&group, "olive", "olive").await.unwrap();
    app.remove(&group, "adam", "adam").await.unwrap();
    assert_eq!(app.member_ids(&group).await, ["mia"]);
    assert!(!app.check(&group, "olive").await.is_member);
    assert!(app.conversations("olive").await.conversations.is_empty());
}

async fn the_last_owner_leaving_dissolves_the_group(app: TestApp) {
    let group = app.group("olive", &["mia"]).await;
    app.remove(&group, "mia", "mia").await.unwrap();
    let left = app
        .remove(&group, "olive", "olive")
        .await
        .unwrap()
        .into_inner();
    assert!(left.dissolved);
    refused(
        app.get(&group, "olive").await,
        Code::NotFound,
        "conversation_not_found",
    );
}

async fn a_dissolved_group_is_gone_for_everyone(app: TestApp) {
    let group = app.group("olive", &["adam", "mia"]).await;
    app.set_role(&group, "olive", "adam", pb::MemberRole::Admin)
        .await
        .unwrap();
    let dissolve = |actor: &str| {
        let request = pb::DissolveGroupRequest {
            conversation_id: group.clone(),
            actor_id: actor.to_owned(),
        };
        let mut client = app.c();
        async move { client.dissolve_group(request).await }
    };
    refused(
        dissolve("adam").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    dissolve("olive").await.unwrap();

    let gone = |result: Result<_, tonic::Status>| {
        let status = result.expect_err("a dissolved group is not found");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(
            im_runtime::errors::error_code(&status),
            Some("conversation_not_found")
        );
    };
    gone(dissolve("olive").await.map(drop));
    gone(app.get(&group, "olive").await.map(drop));
    gone(app.invite(&group, "olive", &["zoe"]).await.map(drop));
    gone(app.remove(&group, "olive", "mia").await.map(drop));
    gone(app.remove(&group, "mia", "mia").await.map(drop));
    gone(
        app.mute(&group, "olive", "mia", now_ms() + 60_000)
            .await
            .map(drop),
    );
    gone(app.join(&group, "zoe").await.map(drop));
    gone(
        app.update(pb::UpdateConversationRequest {
            conversation_id: group.clone(),
            actor_id: "olive".into(),
            name: Some("Back".into()),
            ..Default::default()
        })
        .await
        .map(drop),
    );
    gone(
        app.c()
            .transfer_ownership(pb::TransferOwnershipRequest {
                conversation_id: group.clone(),
                actor_id: "olive".into(),
                new_owner_id: "mia".into(),
            })
            .await
            .map(drop),
    );
    gone(
        app.c()
            .list_members(pb::ListMembersRequest {
                conversation_id: group.clone(),
                viewer_id: "olive".into(),
                page: None,
            })
            .await
            .map(drop),
    );
    let check = app.check(&group, "olive").await;
    assert!(!check.is_member);
    for user in ["olive", "adam", "mia"] {
        assert!(app.conversations(user).await.conversations.is_empty());
    }
}
