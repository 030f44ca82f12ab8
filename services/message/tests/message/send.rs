//! Sending: gapless seqs under concurrency, idempotent retries, who may send, replies
//! and mentions.

use crate::harness::{Reply, TestApp, on_every_backend, refused, seqs, text_of};
use im_contracts::v1 as pb;
use im_message::Role;
use std::collections::HashSet;
use tonic::Code;

on_every_backend!(
    concurrent_senders_get_gapless_seqs,
    batched_sends_across_conversations_stay_gapless,
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

const CONVERSATIONS: usize = 6;
const WRITERS: usize = 24;
const ROUNDS: usize = 8;

/// Many senders at once, each writing into every one of several groups in turn and
/// sending each message twice at the same time (a retry racing its original): the
/// sends are stored many per transaction, yet every group's seqs are exactly 1..=n,
/// each message is stored once with its copy answered as the original, each sender's
/// messages keep their order in each group, and each sender's read cursor sits on its
/// last message.
async fn batched_sends_across_conversations_stay_gapless(app: TestApp) {
    let metrics = im_runtime::metrics::install();
    let before = counter(&metrics.render(), "im_message_send_batch_drafts_total");
    let batches_before = counter(&metrics.render(), "im_message_send_batches_total");
    let users: Vec<String> = (0..WRITERS).map(|i| format!("w{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let groups: Vec<String> = (0..CONVERSATIONS).map(|i| format!("g{i}")).collect();
    for group in &groups {
        app.members.group(group, &names);
    }
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(w, user)| {
            let (app, user, groups) = (app.clone(), user.clone(), groups.clone());
            tokio::spawn(async move {
                let mut mine: Vec<(String, u64)> = Vec::new();
                for round in 0..ROUNDS {
                    let group = &groups[(w + round) % groups.len()];
                    let id = format!("{user}-{round}");
                    let text = format!("{user} {round}");
                    let (a, b) = tokio::join!(
                        app.try_text(group, &user, &id, &text),
                        app.try_text(group, &user, &id, &text)
                    );
                    let (a, b) = (a.unwrap().into_inner(), b.unwrap().into_inner());
                    assert_eq!(a.message, b.message, "a copy is answered as its original");
                    assert_eq!(
                        [a.duplicate, b.duplicate].iter().filter(|d| !**d).count(),
                        1,
                        "exactly one of the two copies stored it"
                    );
                    mine.push((group.clone(), a.message.unwrap().seq));
                }
                mine
            })
        })
        .collect();
    let mut sent_by: Vec<Vec<(String, u64)>> = Vec::new();
    for task in tasks {
        sent_by.push(task.await.unwrap());
    }
    let total = WRITERS * ROUNDS;
    let mut per_group = 0;
    for group in &groups {
        let history = app.all_history(group, "w0").await;
        let n = history.len() as u64;
        per_group += history.len();
        assert_eq!(
            seqs(&history),
            (1..=n).collect::<Vec<_>>(),
            "{group} is gapless"
        );
        for (w, user) in users.iter().enumerate() {
            let texts: Vec<String> = history
                .iter()
                .filter(|m| &m.sender_id == user)
                .map(text_of)
                .collect();
            let expected: Vec<String> = (0..ROUNDS)
                .filter(|round| &groups[(w + round) % groups.len()] == group)
                .map(|round| format!("{user} {round}"))
                .collect();
            assert_eq!(
                texts, expected,
                "{user}'s messages in {group}, once each, in order"
            );
        }
    }
    assert_eq!(per_group, total);
    for (user, mine) in users.iter().zip(&sent_by) {
        for group in &groups {
            if let Some(last) = mine
                .iter()
                .filter(|(g, _)| g == group)
                .map(|(_, s)| *s)
                .max()
            {
                let read = app.read_states(user, &[group]).await;
                assert_eq!(
                    read[0].read_seq, last,
                    "{user} has read {group} up to its last send"
                );
            }
        }
    }
    let rendered = metrics.render();
    let drafts = counter(&rendered, "im_message_send_batch_drafts_total") - before;
    let batches = counter(&rendered, "im_message_send_batches_total") - batches_before;
    assert_eq!(drafts, 2 * total as u64, "every send went through a batch");
    assert!(
        batches < drafts,
        "concurrent sends share transactions: {drafts} sends in {batches} batches"
    );
}

/// The value of an unlabelled counter in Prometheus text (0 when absent).
fn counter(rendered: &str, name: &str) -> u64 {
    rendered
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
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

    // a retry sent together with new messages: whichever batch holds it stores the new
    // ones once and gaplessly, and answers the retry with the original
    let ids: Vec<String> = (0..5).map(|i| format!("b{i}")).collect();
    let (retry, fresh) = tokio::join!(
        app.try_text("g", "ann", "c1", "hello"),
        futures::future::join_all(ids.iter().map(|id| app.try_text("g", "bob", id, "new")))
    );
    let retry = retry.unwrap().into_inner();
    assert!(retry.duplicate);
    assert_eq!(retry.message, first.message);
    let mut fresh_seqs: Vec<u64> = fresh
        .into_iter()
        .map(|reply| {
            let reply = reply.unwrap().into_inner();
            assert!(!reply.duplicate);
            reply.message.unwrap().seq
        })
        .collect();
    fresh_seqs.sort_unstable();
    assert_eq!(fresh_seqs, [4, 5, 6, 7, 8]);
    let history = app.all_history("g", "bob").await;
    assert_eq!(seqs(&history), (1..=8).collect::<Vec<_>>());
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
