//! Sending: gapless seqs under concurrency, idempotent retries, who may send, replies
//! and mentions.

use crate::harness::{Reply, TestApp, on_every_backend, refused, seqs, text_of};
use im_contracts::v1 as pb;
use im_message::Role;
use std::collections::HashSet;
use tonic::Code;

on_every_backend!(
    concurrent_senders_get_gapless_seqs,
    retries_return_the_original_once,
    only_members_who_may_post_can_send,
    replies_and_mentions_are_checked,
);

const SENDERS: usize = 8;
const EACH: usize = 25;

/// 8 members send 25 messages each at the same time into one group: the seqs are
/// exactly 1..=200, every message is stored once, and each sender's messages keep
/// their order.
async fn concurrent_senders_get_gapless_seqs(app: TestApp) {
    let users: Vec<String> = (0..SENDERS).map(|i| format!("user{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    app.members.group("g", &names);
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let app = app.clone();
            let user = user.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let message = app
                        .text("g", &user, &format!("{user}-{i}"), &format!("{user} {i}"))
                        .await;
                    seqs.push(message.seq);
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one sender's messages stay in order: {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let total = (SENDERS * EACH) as u64;
    assert_eq!(all, (1..=total).collect::<Vec<_>>());

    let history = app.all_history("g", "user0").await;
    assert_eq!(seqs(&history), (1..=total).collect::<Vec<_>>());
    let distinct: HashSet<_> = history
        .iter()
        .map(|m| (m.sender_id.clone(), m.client_msg_id.clone()))
        .collect();
    assert_eq!(distinct.len(), SENDERS * EACH, "every message once");
    for user in &users {
        let texts: Vec<String> = history
            .iter()
            .filter(|m| &m.sender_id == user)
            .map(text_of)
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("{user} {i}")).collect();
        assert_eq!(texts, expected);
    }
    assert_eq!(app.read_state("user0", "g").await.max_seq, total);
}

/// A retried send, sequential or racing, returns the original message and takes no seq.
async fn retries_return_the_original_once(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    let first = app
        .try_text("g", "ann", "c1", "hello")
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let retry = app
        .try_text("g", "ann", "c1", "hello")
        .await
        .unwrap()
        .into_inner();
    assert!(retry.duplicate);
    assert_eq!(retry.message, first.message);

    // ten copies of one send at once: one stores it, the others get the original
    let racing: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.try_text("g", "ann", "c2", "again").await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in racing {
        let reply: Reply<pb::SendResponse> = task.await.unwrap();
        replies.push(reply.unwrap().into_inner());
    }
    assert_eq!(replies.iter().filter(|r| !r.duplicate).count(), 1);
    let ids: HashSet<_> = replies
        .iter()
        .map(|r| r.message.clone().unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1, "one message for all copies");
    assert_eq!(replies[0].message.as_ref().unwrap().seq, 2);

    // the same client id from another sender, or in another conversation, is new
    let bobs = app.text("g", "bob", "c1", "mine").await;
    assert_eq!(bobs.seq, 3, "no seq was consumed by the retries");
    app.members.group("h", &["ann"]);
    assert_eq!(app.text("h", "ann", "c1", "elsewhere").await.seq, 1);

    let history = app.all_history("g", "bob").await;
    assert_eq!(seqs(&history), [1, 2, 3]);
}

/// Outsiders, muted members and blocked pairs cannot send; a conversation service that
/// cannot answer is a retryable outage; nothing refused is stored.
async fn only_members_who_may_post_can_send(app: TestApp) {
    app.members.group("g", &["ann", "bob", "cat"]);
    app.members.set_role("g", "cat", Role::Admin);
    app.members.direct("d", "ann", "dan");

    refused(
        app.try_text("g", "eve", "x1", "let me in").await,
        Code::NotFound,
        "conversation_not_found",
    );
    refused(
        app.try_text("nowhere", "ann", "x2", "hi").await,
        Code::NotFound,
        "conversation_not_found",
    );

    app.members.update("g", "bob", |check| check.muted = true);
    refused(
        app.try_text("g", "bob", "x3", "hi").await,
        Code::PermissionDenied,
        "muted",
    );
    app.members.update("g", "bob", |check| check.muted = false);

    // mute_all silences plain members, not admins
    for user in ["ann", "bob", "cat"] {
        app.members.update("g", user, |check| check.mute_all = true);
    }
    refused(
        app.try_text("g", "ann", "x4", "hi").await,
        Code::PermissionDenied,
        "muted",
    );
    assert_eq!(app.text("g", "cat", "a1", "admins may").await.seq, 1);
    for user in ["ann", "bob", "cat"] {
        app.members
            .update("g", user, |check| check.mute_all = false);
    }

    app.members.update("d", "ann", |check| check.blocked = true);
    refused(
        app.try_text("d", "ann", "x5", "hi").await,
        Code::PermissionDenied,
        "blocked",
    );
    app.members
        .update("d", "ann", |check| check.blocked = false);
    assert_eq!(app.text("d", "ann", "d1", "unblocked").await.seq, 1);

    let stored = app.text("g", "ann", "a2", "before the outage").await;
    app.members.down(true);
    let status = refused(
        app.try_text("g", "ann", "x6", "during").await,
        Code::Unavailable,
        "conversation_unavailable",
    );
    assert!(im_runtime::errors::retry_after(&status).is_some());
    // a retry of a stored message is still answered
    let retry = app
        .try_text("g", "ann", "a2", "before the outage")
        .await
        .unwrap()
        .into_inner();
    assert!(retry.duplicate);
    assert_eq!(retry.message.unwrap().id, stored.id);
    app.members.down(false);

    assert_eq!(app.text("g", "bob", "a3", "after").await.seq, 3);
    assert_eq!(seqs(&app.all_history("g", "bob").await), [1, 2, 3]);
}

/// A reply names a message of the same conversation; mentions are distinct and bounded.
async fn replies_and_mentions_are_checked(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    app.members.group("h", &["ann"]);
    let first = app.text("g", "ann", "m1", "question").await;
    let elsewhere = app.text("h", "ann", "m1", "other room").await;

    let reply = |client_msg_id: &str, reply_to: &str, mentions: Vec<String>| pb::SendRequest {
        conversation_id: "g".into(),
        sender_id: "bob".into(),
        client_msg_id: client_msg_id.into(),
        r#type: pb::MessageType::Text.into(),
        body_json: crate::harness::text_body("answer"),
        reply_to: reply_to.into(),
        mentions,
        mention_all: false,
    };
    let answer = app
        .c()
        .send(reply(
            "r1",
            &first.id,
            vec!["ann".into(), "ann".into(), "bob".into()],
        ))
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(answer.reply_to, first.id);
    assert_eq!(answer.mentions, ["ann", "bob"]);

    refused(
        app.c().send(reply("r2", &elsewhere.id, vec![])).await,
        Code::NotFound,
        "reply_not_found",
    );
    refused(
        app.c().send(reply("r3", "no-such-message", vec![])).await,
        Code::NotFound,
        "reply_not_found",
    );
    let fifty_one = (0..51).map(|i| format!("u{i}")).collect();
    refused(
        app.c().send(reply("r4", "", fifty_one)).await,
        Code::InvalidArgument,
        "too_many_mentions",
    );
    let fifty = (0..50).map(|i| format!("u{i}")).collect();
    let mentioned = app
        .c()
        .send(reply("r5", "", fifty))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mentioned.message.unwrap().mentions.len(), 50);
    assert_eq!(seqs(&app.all_history("g", "ann").await), [1, 2, 3]);
}
