//! Friend requests, contacts and blocks.

use crate::harness::{TestApp, on_every_backend, page, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(
    friend_requests_are_sent_listed_and_decided,
    friend_request_refusals,
    asking_someone_who_asked_you_makes_you_contacts,
    only_the_entitled_side_decides_and_only_once,
    contacts_have_private_remarks_and_go_on_both_sides,
    blocking_stops_requests_and_direct_messages_both_ways,
    pending_requests_are_paged_newest_first,
);

async fn accept(
    app: &TestApp,
    id: &str,
    user: &str,
) -> Result<tonic::Response<pb::AcceptFriendRequestResponse>, tonic::Status> {
    app.c()
        .accept_friend_request(pb::AcceptFriendRequestRequest {
            request_id: id.into(),
            user_id: user.into(),
        })
        .await
}

async fn reject(
    app: &TestApp,
    id: &str,
    user: &str,
) -> Result<tonic::Response<pb::RejectFriendRequestResponse>, tonic::Status> {
    app.c()
        .reject_friend_request(pb::RejectFriendRequestRequest {
            request_id: id.into(),
            user_id: user.into(),
        })
        .await
}

async fn cancel(
    app: &TestApp,
    id: &str,
    user: &str,
) -> Result<tonic::Response<pb::CancelFriendRequestResponse>, tonic::Status> {
    app.c()
        .cancel_friend_request(pb::CancelFriendRequestRequest {
            request_id: id.into(),
            user_id: user.into(),
        })
        .await
}

fn status(request: &pb::FriendRequest) -> pb::FriendRequestStatus {
    request.status()
}

async fn friend_requests_are_sent_listed_and_decided(app: TestApp) {
    let sent = app
        .send_request("alice", "bob", "  hello bob  ")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_eq!(
        (
            sent.from_user_id.as_str(),
            sent.to_user_id.as_str(),
            sent.message.as_str()
        ),
        ("alice", "bob", "hello bob")
    );
    assert_eq!(status(&sent), pb::FriendRequestStatus::Pending);
    assert!(sent.created_at_ms > 0 && sent.decided_at_ms == 0);

    // asking again refreshes the pending request instead of piling up
    let again = app
        .send_request("alice", "bob", "it's me, alice")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_eq!(again.id, sent.id);
    let incoming = app.pending("bob", true).await;
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].message, "it's me, alice");
    assert_eq!(app.pending("alice", false).await.len(), 1);
    assert!(app.pending("alice", true).await.is_empty());

    let accepted = accept(&app, &sent.id, "bob").await.unwrap().into_inner();
    let request = accepted.friend_request.unwrap();
    assert_eq!(status(&request), pb::FriendRequestStatus::Accepted);
    assert!(request.decided_at_ms > 0);
    assert_eq!(accepted.contact.unwrap().user_id, "alice");
    assert_eq!(app.contact_ids("alice").await, ["bob"]);
    assert_eq!(app.contact_ids("bob").await, ["alice"]);
    assert!(app.pending("bob", true).await.is_empty());
    assert!(app.pending("alice", false).await.is_empty());

    // rejected: no contacts, nothing pending
    let to_dave = app
        .send_request("carol", "dave", "")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    let rejected = reject(&app, &to_dave.id, "dave")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_eq!(status(&rejected), pb::FriendRequestStatus::Rejected);
    assert!(app.contact_ids("carol").await.is_empty());
    assert!(app.pending("carol", false).await.is_empty());

    // after a rejection, asking again is a new request
    let second = app
        .send_request("carol", "dave", "please?")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_ne!(second.id, to_dave.id);
    assert_eq!(status(&second), pb::FriendRequestStatus::Pending);

    // cancelled by the sender
    let to_frank = app
        .send_request("erin", "frank", "")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    let cancelled = cancel(&app, &to_frank.id, "erin")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_eq!(status(&cancelled), pb::FriendRequestStatus::Cancelled);
    assert!(app.pending("frank", true).await.is_empty());
}

async fn friend_request_refusals(app: TestApp) {
    refused(
        app.send_request("alice", "alice", "").await,
        Code::InvalidArgument,
        "cannot_befriend_self",
    );
    app.befriend("alice", "bob").await;
    refused(
        app.send_request("alice", "bob", "").await,
        Code::AlreadyExists,
        "already_contacts",
    );
    refused(
        app.send_request("bob", "alice", "").await,
        Code::AlreadyExists,
        "already_contacts",
    );
    app.block("carol", "dave").await;
    refused(
        app.send_request("dave", "carol", "").await,
        Code::PermissionDenied,
        "blocked",
    );
    refused(
        app.send_request("carol", "dave", "").await,
        Code::PermissionDenied,
        "blocked",
    );
    refused(
        app.send_request("erin", "frank", &"m".repeat(201)).await,
        Code::InvalidArgument,
        "invalid_message",
    );
    app.send_request("erin", "frank", &"m".repeat(200))
        .await
        .unwrap();
}

async fn asking_someone_who_asked_you_makes_you_contacts(app: TestApp) {
    let theirs = app
        .send_request("bob", "alice", "hi alice")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    let mine = app
        .send_request("alice", "bob", "hi bob")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    assert_eq!(status(&mine), pb::FriendRequestStatus::Accepted);
    assert_eq!(app.contact_ids("alice").await, ["bob"]);
    assert_eq!(app.contact_ids("bob").await, ["alice"]);
    assert!(app.pending("alice", true).await.is_empty());
    assert!(app.pending("bob", true).await.is_empty());
    // bob's request was accepted along the way
    refused(
        accept(&app, &theirs.id, "alice").await,
        Code::FailedPrecondition,
        "request_not_pending",
    );
}

async fn only_the_entitled_side_decides_and_only_once(app: TestApp) {
    let request = app
        .send_request("alice", "bob", "")
        .await
        .unwrap()
        .into_inner()
        .friend_request
        .unwrap();
    // someone else's request is not found, whoever asks
    refused(
        accept(&app, &request.id, "mallory").await,
        Code::NotFound,
        "friend_request_not_found",
    );
    refused(
        accept(&app, &request.id, "alice").await,
        Code::NotFound,
        "friend_request_not_found",
    );
    refused(
        reject(&app, &request.id, "alice").await,
        Code::NotFound,
        "friend_request_not_found",
    );
    refused(
        cancel(&app, &request.id, "bob").await,
        Code::NotFound,
        "friend_request_not_found",
    );
    refused(
        accept(&app, "no-such-request", "bob").await,
        Code::NotFound,
        "friend_request_not_found",
    );

    reject(&app, &request.id, "bob").await.unwrap();
    refused(
        accept(&app, &request.id, "bob").await,
        Code::FailedPrecondition,
        "request_not_pending",
    );
    refused(
        reject(&app, &request.id, "bob").await,
        Code::FailedPrecondition,
        "request_not_pending",
    );
    refused(
        cancel(&app, &request.id, "alice").await,
        Code::FailedPrecondition,
        "request_not_pending",
    );
    assert!(app.contact_ids("bob").await.is_empty());
}

async fn contacts_have_private_remarks_and_go_on_both_sides(app: TestApp) {
    for friend in ["bob", "carol", "dave", "erin", "frank"] {
        app.befriend("alice", friend).await;
    }
    let updated = app
        .c()
        .update_contact(pb::UpdateContactRequest {
            user_id: "alice".into(),
            contact_id: "bob".into(),
            remark: "Bobby 🛠 (work)".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        (updated.user_id.as_str(), updated.remark.as_str()),
        ("bob", "Bobby 🛠 (work)")
    );
    let remark_of = |contacts: Vec<pb::Contact>, id: &str| {
        contacts
            .into_iter()
            .find(|c| c.user_id == id)
            .map(|c| c.remark)
    };
    assert_eq!(
        remark_of(app.contacts("alice").await, "bob").as_deref(),
        Some("Bobby 🛠 (work)")
    );
    assert_eq!(
        remark_of(app.contacts("bob").await, "alice").as_deref(),
        Some("")
    );

    refused(
        app.c()
            .update_contact(pb::UpdateContactRequest {
                user_id: "alice".into(),
                contact_id: "bob".into(),
                remark: "r".repeat(65),
            })
            .await,
        Code::InvalidArgument,
        "invalid_remark",
    );
    refused(
        app.c()
            .update_contact(pb::UpdateContactRequest {
                user_id: "alice".into(),
                contact_id: "stranger".into(),
                remark: "who?".into(),
            })
            .await,
        Code::NotFound,
        "contact_not_found",
    );

    // paged by contact id
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .c()
            .list_contacts(pb::ListContactsRequest {
                user_id: "alice".into(),
                page: page(2, &cursor),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.contacts.len() <= 2);
        seen.extend(reply.contacts.into_iter().map(|c| c.user_id));
        cursor = reply.page_info.unwrap().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["bob", "carol", "dave", "erin", "frank"]);

    // deleting removes both sides
    app.c()
        .delete_contact(pb::DeleteContactRequest {
            user_id: "bob".into(),
            contact_id: "alice".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.contact_ids("alice").await,
        ["carol", "dave", "erin", "frank"]
    );
    assert!(app.contact_ids("bob").await.is_empty());
    refused(
        app.c()
            .delete_contact(pb::DeleteContactRequest {
                user_id: "alice".into(),
                contact_id: "bob".into(),
            })
            .await,
        Code::NotFound,
        "contact_not_found",
    );
    // and they may ask each other again
    app.send_request("bob", "alice", "sorry").await.unwrap();
}

async fn blocking_stops_requests_and_direct_messages_both_ways(app: TestApp) {
    app.befriend("alice", "bob").await;
    let direct = app.direct("alice", "bob").await;
    assert!(!app.check(&direct.id, "alice").await.blocked);
    app.send_request("mallory", "alice", "hi").await.unwrap();
    app.send_request("alice", "eve", "hi").await.unwrap();

    // blocking removes pending requests in both directions
    app.block("alice", "mallory").await;
    app.block("alice", "eve").await;
    assert!(app.pending("alice", true).await.is_empty());
    assert!(app.pending("mallory", false).await.is_empty());
    assert!(app.pending("alice", false).await.is_empty());
    assert!(app.pending("eve", true).await.is_empty());
    refused(
        app.send_request("mallory", "alice", "again").await,
        Code::PermissionDenied,
        "blocked",
    );

    let blocks = app
        .c()
        .list_blocks(pb::ListBlocksRequest {
            user_id: "alice".into(),
            page: page(10, ""),
        })
        .await
        .unwrap()
        .into_inner()
        .blocked_users;
    let ids: Vec<_> = blocks.iter().map(|b| b.user_id.as_str()).collect();
    assert_eq!(ids, ["eve", "mallory"]);
    // blocking twice is harmless and keeps the first block
    let again = app
        .c()
        .block(pb::BlockRequest {
            user_id: "alice".into(),
            blocked_user_id: "eve".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .blocked_user
        .unwrap();
    assert_eq!(again.created_at_ms, blocks[0].created_at_ms);

    // a block stops the direct conversation both ways, even between contacts
    app.block("bob", "alice").await;
    assert!(app.check(&direct.id, "alice").await.blocked);
    assert!(app.check(&direct.id, "bob").await.blocked);
    refused(
        app.try_direct("alice", "bob").await,
        Code::PermissionDenied,
        "blocked",
    );
    refused(
        app.try_direct("bob", "alice").await,
        Code::PermissionDenied,
        "blocked",
    );

    app.c()
        .unblock(pb::UnblockRequest {
            user_id: "bob".into(),
            blocked_user_id: "alice".into(),
        })
        .await
        .unwrap();
    assert!(!app.check(&direct.id, "alice").await.blocked);
    assert_eq!(app.direct("bob", "alice").await.id, direct.id);
    refused(
        app.c()
            .unblock(pb::UnblockRequest {
                user_id: "bob".into(),
                blocked_user_id: "alice".into(),
            })
            .await,
        Code::NotFound,
        "block_not_found",
    );
    refused(
        app.c()
            .block(pb::BlockRequest {
                user_id: "bob".into(),
                blocked_user_id: "bob".into(),
            })
            .await,
        Code::InvalidArgument,
        "cannot_target_self",
    );
}

async fn pending_requests_are_paged_newest_first(app: TestApp) {
    let senders = ["s1", "s2", "s3", "s4", "s5"];
    for sender in senders {
        app.send_request(sender, "popular", "").await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .c()
            .list_friend_requests(pb::ListFriendRequestsRequest {
                user_id: "popular".into(),
                direction: pb::FriendRequestDirection::Incoming.into(),
                page: page(2, &cursor),
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(reply.friend_requests.into_iter().map(|r| r.from_user_id));
        cursor = reply.page_info.unwrap().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["s5", "s4", "s3", "s2", "s1"]);
}
