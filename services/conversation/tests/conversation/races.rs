//! Concurrent changes end in one consistent state.

use crate::harness::{Options, TestApp, on_every_backend, refused};
use im_contracts::v1 as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tonic::Code;

on_every_backend!(
    two_users_asking_each_other_at_once_become_one_contact_pair,
    a_crowd_asking_each_other_at_once_ends_as_one_contact_pair_each,
    both_sides_opening_their_direct_conversation_at_once_get_one,
    a_send_check_during_a_kick_answers_member_or_not,
);

on_every_backend!(
    options = super::small_groups();
    concurrent_joins_never_pass_the_member_limit,
);

fn small_groups() -> Options {
    Options::with(|settings| settings.member_limit = 5)
}

async fn two_users_asking_each_other_at_once_become_one_contact_pair(app: TestApp) {
    for round in 0..8 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (one, two) = tokio::join!(app.send_request(&a, &b, ""), app.send_request(&b, &a, ""));
        let statuses = [
            one.unwrap().into_inner().friend_request.unwrap().status(),
            two.unwrap().into_inner().friend_request.unwrap().status(),
        ];
        // one request waited, the other found it and accepted both
        assert!(
            statuses.contains(&pb::FriendRequestStatus::Accepted),
            "{statuses:?}"
        );
        assert_eq!(app.contact_ids(&a).await, [b.as_str()]);
        assert_eq!(app.contact_ids(&b).await, [a.as_str()]);
        assert!(app.pending(&a, true).await.is_empty());
        assert!(app.pending(&b, true).await.is_empty());
        refused(
            app.send_request(&a, &b, "").await,
            Code::AlreadyExists,
            "already_contacts",
        );
    }
}

async fn a_crowd_asking_each_other_at_once_ends_as_one_contact_pair_each(app: TestApp) {
    let users: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
    let mut requests = Vec::new();
    for from in &users {
        for to in users.iter().filter(|to| *to != from) {
            let (app, from, to) = (app.clone(), from.clone(), to.clone());
            requests.push(tokio::spawn(async move {
                app.send_request(&from, &to, "").await
            }));
        }
    }
    for sent in futures::future::join_all(requests).await {
        match sent.unwrap() {
            Ok(_) => {}
            // the pair became contacts before this request was decided
            Err(status) => assert_eq!(
                im_runtime::errors::error_code(&status),
                Some("already_contacts"),
                "{status:?}"
            ),
        }
    }
    for user in &users {
        let mut expected: Vec<String> = users.iter().filter(|u| *u != user).cloned().collect();
        expected.sort();
        assert_eq!(app.contact_ids(user).await, expected);
        assert!(app.pending(user, true).await.is_empty());
        assert!(app.pending(user, false).await.is_empty());
    }
}

async fn both_sides_opening_their_direct_conversation_at_once_get_one(app: TestApp) {
    for round in 0..6 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        app.befriend(&a, &b).await;
        let calls = (0..6).map(|i| {
            let (app, a, b) = (app.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                let (user, peer) = if i % 2 == 0 { (a, b) } else { (b, a) };
                app.try_direct(&user, &peer).await
            })
        });
        let replies: Vec<_> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|reply| reply.unwrap().unwrap().into_inner())
            .collect();
        let id = &replies[0].conversation.as_ref().unwrap().id;
        assert!(
            replies
                .iter()
                .all(|reply| reply.conversation.as_ref().unwrap().id == *id)
        );
        let created = replies.iter().filter(|reply| reply.created).count();
        assert_eq!(created, 1, "exactly one call created it");
        assert_eq!(app.conversations(&a).await.conversations.len(), 1);
        assert_eq!(app.conversations(&b).await.conversations.len(), 1);
    }
}

async fn a_send_check_during_a_kick_answers_member_or_not(app: TestApp) {
    let members: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let group = app.group("olive", &refs).await;
    let kicking = Arc::new(AtomicBool::new(true));
    let checker = {
        let (app, group, kicking) = (app.clone(), group.clone(), kicking.clone());
        tokio::spawn(async move {
            let mut answers = 0;
            while kicking.load(Ordering::SeqCst) {
                for member in ["m0", "m3", "m7"] {
                    let reply = app
                        .c()
                        .check_send(pb::CheckSendRequest {
                            conversation_id: group.clone(),
                            user_id: member.into(),
                        })
                        .await
                        .expect("CheckSend never fails during a kick");
                    let reply = reply.into_inner();
                    if reply.is_member {
                        assert_eq!(reply.role(), pb::MemberRole::Member);
                    }
                    answers += 1;
                }
            }
            answers
        })
    };
    for member in &members {
        app.remove(&group, "olive", member).await.unwrap();
        tokio::task::yield_now().await;
    }
    kicking.store(false, Ordering::SeqCst);
    assert!(checker.await.unwrap() > 0);
    for member in &members {
        let check = app.check(&group, member).await;
        assert!(!check.is_member, "{member} was kicked");
    }
    assert_eq!(app.member_ids(&group).await, ["olive"]);
}

async fn concurrent_joins_never_pass_the_member_limit(app: TestApp) {
    let group = app
        .group_with(
            "olive",
            &["mia"],
            pb::JoinPolicy::Open,
            pb::InvitePolicy::AnyMember,
        )
        .await;
    let joins = (0..10).map(|i| {
        let app = app.clone();
        let group = group.clone();
        tokio::spawn(async move { app.join(&group, &format!("u{i}")).await })
    });
    let mut joined = 0;
    for join in futures::future::join_all(joins).await {
        match join.unwrap() {
            Ok(_) => joined += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert_eq!(
                    im_runtime::errors::error_code(&status),
                    Some("member_limit")
                );
            }
        }
    }
    assert_eq!(joined, 3);
    assert_eq!(app.member_ids(&group).await.len(), 5);

    // invitations racing for the last places too
    let other = app.group("olive", &[]).await;
    let invites = (0..6).map(|i| {
        let app = app.clone();
        let other = other.clone();
        tokio::spawn(async move { app.invite(&other, "olive", &[&format!("v{i}")]).await })
    });
    let added = futures::future::join_all(invites)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(added, 4);
    assert_eq!(app.member_ids(&other).await.len(), 5);
}
