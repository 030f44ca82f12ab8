//! Direct conversations: one per pair, under the configured policy.

use crate::harness::{Options, TestApp, on_every_backend, refused};
use im_contracts::v1 as pb;
use im_conversation::DirectPolicy;
use tonic::Code;

on_every_backend!(
    a_pair_has_exactly_one_direct_conversation,
    friends_only_is_the_default_policy,
    group_operations_do_not_apply_to_direct_conversations,
);

on_every_backend!(
    options = super::anyone();
    anyone_may_start_a_direct_conversation_unless_blocked,
);

fn anyone() -> Options {
    Options::with(|settings| settings.direct_policy = DirectPolicy::Anyone)
}

async fn a_pair_has_exactly_one_direct_conversation(app: TestApp) {
    app.befriend("alice", "bob").await;
    let first = app.try_direct("alice", "bob").await.unwrap().into_inner();
    assert!(first.created);
    let conversation = first.conversation.unwrap();
    assert_eq!(conversation.kind(), pb::ConversationKind::Direct);
    assert_eq!(
        (conversation.name.as_str(), conversation.owner_id.as_str()),
        ("", "")
    );

    let second = app.try_direct("bob", "alice").await.unwrap().into_inner();
    assert!(!second.created);
    assert_eq!(second.conversation.unwrap().id, conversation.id);
    assert_eq!(app.direct("alice", "bob").await.id, conversation.id);

    assert_eq!(app.member_ids(&conversation.id).await, ["alice", "bob"]);
    let seen = app.get(&conversation.id, "bob").await.unwrap().into_inner();
    assert_eq!(seen.peer_id, "alice");
    assert_eq!(seen.member_count, 2);
    assert_eq!(seen.viewer.unwrap().role(), pb::MemberRole::Member);
    let check = app.check(&conversation.id, "alice").await;
    assert!(check.is_member && !check.muted && !check.blocked);
    assert_eq!(check.kind(), pb::ConversationKind::Direct);

    let listed = app.conversations("alice").await;
    assert_eq!(listed.conversations.len(), 1);
    assert_eq!(listed.direct_peers[&conversation.id], "bob");
    // outsiders see nothing
    refused(
        app.get(&conversation.id, "mallory").await,
        Code::NotFound,
        "conversation_not_found",
    );
    assert!(!app.check(&conversation.id, "mallory").await.is_member);
}

async fn friends_only_is_the_default_policy(app: TestApp) {
    refused(
        app.try_direct("alice", "bob").await,
        Code::PermissionDenied,
        "not_contacts",
    );
    refused(
        app.try_direct("alice", "alice").await,
        Code::InvalidArgument,
        "cannot_target_self",
    );
    app.befriend("alice", "bob").await;
    let conversation = app.direct("alice", "bob").await;
    // no longer contacts: no way back in through get-or-create, but membership stays
    app.c()
        .delete_contact(pb::DeleteContactRequest {
            user_id: "alice".into(),
            contact_id: "bob".into(),
        })
        .await
        .unwrap();
    refused(
        app.try_direct("bob", "alice").await,
        Code::PermissionDenied,
        "not_contacts",
    );
    assert!(app.check(&conversation.id, "bob").await.is_member);
}

async fn anyone_may_start_a_direct_conversation_unless_blocked(app: TestApp) {
    let conversation = app.direct("alice", "stranger").await;
    assert_eq!(app.direct("stranger", "alice").await.id, conversation.id);
    app.block("alice", "troll").await;
    refused(
        app.try_direct("troll", "alice").await,
        Code::PermissionDenied,
        "blocked",
    );
    refused(
        app.try_direct("alice", "troll").await,
        Code::PermissionDenied,
        "blocked",
    );
}

async fn group_operations_do_not_apply_to_direct_conversations(app: TestApp) {
    app.befriend("alice", "bob").await;
    let direct = app.direct("alice", "bob").await.id;
    refused(
        app.invite(&direct, "alice", &["carol"]).await,
        Code::FailedPrecondition,
        "not_a_group",
    );
    refused(
        app.remove(&direct, "alice", "alice").await,
        Code::FailedPrecondition,
        "not_a_group",
    );
    refused(
        app.remove(&direct, "alice", "bob").await,
        Code::FailedPrecondition,
        "not_a_group",
    );
    refused(
        app.update(pb::UpdateConversationRequest {
            conversation_id: direct.clone(),
            actor_id: "alice".into(),
            name: Some("Us".into()),
            ..Default::default()
        })
        .await,
        Code::FailedPrecondition,
        "not_a_group",
    );
    refused(
        app.c()
            .dissolve_group(pb::DissolveGroupRequest {
                conversation_id: direct.clone(),
                actor_id: "alice".into(),
            })
            .await,
        Code::FailedPrecondition,
        "not_a_group",
    );
    // outsiders cannot tell a direct conversation exists
    refused(
        app.join(&direct, "carol").await,
        Code::NotFound,
        "conversation_not_found",
    );
}
