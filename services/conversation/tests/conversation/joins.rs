//! Joining groups from outside, as each join policy allows.

use crate::harness::{Options, TestApp, on_every_backend, page, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(
    open_groups_are_joined_at_once,
    invite_only_groups_refuse_joining,
    approval_groups_queue_requests_for_the_owner_and_admins,
);

on_every_backend!(
    options = super::small_groups();
    approving_respects_the_member_limit,
);

fn small_groups() -> Options {
    Options::with(|settings| settings.member_limit = 3)
}

async fn pending_requests(
    app: &TestApp,
    group: &str,
    actor: &str,
) -> Result<Vec<pb::JoinRequest>, tonic::Status> {
    app.c()
        .list_join_requests(pb::ListJoinRequestsRequest {
            conversation_id: group.into(),
            actor_id: actor.into(),
            page: page(50, ""),
        })
        .await
        .map(|reply| reply.into_inner().join_requests)
}

async fn approve(
    app: &TestApp,
    id: &str,
    actor: &str,
) -> Result<tonic::Response<pb::ApproveJoinRequestResponse>, tonic::Status> {
    app.c()
        .approve_join_request(pb::ApproveJoinRequestRequest {
            request_id: id.into(),
            actor_id: actor.into(),
        })
        .await
}

async fn open_groups_are_joined_at_once(app: TestApp) {
    let group = app
        .group_with(
            "olive",
            &[],
            pb::JoinPolicy::Open,
            pb::InvitePolicy::AnyMember,
        )
        .await;
    let joined = app.join(&group, "zoe").await.unwrap().into_inner();
    assert!(joined.joined && joined.join_request.is_none());
    assert_eq!(joined.member.unwrap().role(), pb::MemberRole::Member);
    assert!(app.check(&group, "zoe").await.is_member);
    refused(
        app.join(&group, "zoe").await,
        Code::AlreadyExists,
        "already_member",
    );
    refused(
        app.join("no-such-group", "zoe").await,
        Code::NotFound,
        "conversation_not_found",
    );
}

async fn invite_only_groups_refuse_joining(app: TestApp) {
    let group = app.group("olive", &[]).await;
    refused(
        app.join(&group, "zoe").await,
        Code::PermissionDenied,
        "invite_only",
    );
    assert!(!app.check(&group, "zoe").await.is_member);
}

async fn approval_groups_queue_requests_for_the_owner_and_admins(app: TestApp) {
    let group = app
        .group_with(
            "olive",
            &["adam", "mia"],
            pb::JoinPolicy::Approval,
            pb::InvitePolicy::AnyMember,
        )
        .await;
    app.set_role(&group, "olive", "adam", pb::MemberRole::Admin)
        .await
        .unwrap();
    let first = app.join(&group, "zoe").await.unwrap().into_inner();
    assert!(!first.joined);
    let request = first.join_request.unwrap();
    assert_eq!(request.status(), pb::JoinRequestStatus::Pending);
    assert!(!app.check(&group, "zoe").await.is_member);
    // asking again refreshes the same request
    let again = app
        .c()
        .join_group(pb::JoinGroupRequest {
            conversation_id: group.clone(),
            user_id: "zoe".into(),
            message: "pretty please".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    assert_eq!(again.id, request.id);
    app.join(&group, "yan").await.unwrap();

    let listed = pending_requests(&app, &group, "adam").await.unwrap();
    let who: Vec<_> = listed
        .iter()
        .map(|r| (r.user_id.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(who, [("zoe", "pretty please"), ("yan", "let me in")]);
    refused(
        pending_requests(&app, &group, "mia")
            .await
            .map(tonic::Response::new),
        Code::PermissionDenied,
        "insufficient_role",
    );
    refused(
        pending_requests(&app, &group, "zoe")
            .await
            .map(tonic::Response::new),
        Code::NotFound,
        "conversation_not_found",
    );

    refused(
        approve(&app, &request.id, "mia").await,
        Code::PermissionDenied,
        "insufficient_role",
    );
    let approved = approve(&app, &request.id, "adam")
        .await
        .unwrap()
        .into_inner();
    let decided = approved.join_request.unwrap();
    assert_eq!(decided.status(), pb::JoinRequestStatus::Approved);
    assert_eq!(decided.decided_by, "adam");
    assert_eq!(approved.member.unwrap().user_id, "zoe");
    assert!(app.check(&group, "zoe").await.is_member);
    refused(
        approve(&app, &request.id, "olive").await,
        Code::FailedPrecondition,
        "request_not_pending",
    );

    let yan = listed[1].id.clone();
    let rejected = app
        .c()
        .reject_join_request(pb::RejectJoinRequestRequest {
            request_id: yan.clone(),
            actor_id: "olive".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    assert_eq!(rejected.status(), pb::JoinRequestStatus::Rejected);
    assert!(!app.check(&group, "yan").await.is_member);
    assert!(
        pending_requests(&app, &group, "olive")
            .await
            .unwrap()
            .is_empty()
    );
    refused(
        approve(&app, "no-such-request", "olive").await,
        Code::NotFound,
        "join_request_not_found",
    );
}

async fn approving_respects_the_member_limit(app: TestApp) {
    let group = app
        .group_with(
            "olive",
            &["mia"],
            pb::JoinPolicy::Approval,
            pb::InvitePolicy::AnyMember,
        )
        .await;
    let first = app
        .join(&group, "zoe")
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    let second = app
        .join(&group, "yan")
        .await
        .unwrap()
        .into_inner()
        .join_request
        .unwrap();
    approve(&app, &first.id, "olive").await.unwrap();
    refused(
        approve(&app, &second.id, "olive").await,
        Code::FailedPrecondition,
        "member_limit",
    );
    // still pending: room may be made later
    let pending = pending_requests(&app, &group, "olive").await.unwrap();
    assert_eq!(pending.len(), 1);
    app.remove(&group, "olive", "mia").await.unwrap();
    approve(&app, &second.id, "olive").await.unwrap();
    assert_eq!(app.member_ids(&group).await, ["olive", "yan", "zoe"]);
}
