//! WatchMembership: replay from the log, then live changes; RESET for a watcher the
//! retained log no longer covers.

use crate::harness::{Options, TestApp, eventually, on_every_backend};
use im_contracts::v1 as pb;
use pb::MembershipEventKind as K;
use std::time::Duration;
use tonic::Streaming;

on_every_backend!(watching_replays_the_log_then_follows_changes);

on_every_backend!(
    options = super::short_log();
    a_watcher_behind_the_retained_log_starts_with_reset,
);

fn short_log() -> Options {
    Options::with(|settings| {
        settings.membership_log_retention = 3;
        settings.maintenance_interval = Duration::from_millis(50);
    })
}

async fn watch(app: &TestApp, from_version: u64) -> Streaming<pb::MembershipEvent> {
    app.c()
        .watch_membership(pb::WatchMembershipRequest { from_version })
        .await
        .unwrap()
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::MembershipEvent>) -> pb::MembershipEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a membership event within 10 s")
        .unwrap()
        .expect("the stream stays open")
}

async fn watching_replays_the_log_then_follows_changes(app: TestApp) {
    let group = app.group("olive", &["mia"]).await;
    app.block("alice", "bob").await;
    // contact changes are not membership changes
    let before = app.check(&group, "mia").await.membership_version;
    app.send_request("carol", "dave", "").await.unwrap();
    assert_eq!(app.check(&group, "mia").await.membership_version, before);
    assert_eq!(before, 4);

    let mut stream = watch(&app, 0).await;
    let replayed = [
        next(&mut stream).await,
        next(&mut stream).await,
        next(&mut stream).await,
        next(&mut stream).await,
    ];
    let summary: Vec<_> = replayed
        .iter()
        .map(|e| (e.version, e.kind(), e.user_id.as_str(), e.role()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, K::ConversationCreated, "", pb::MemberRole::Unspecified),
            (2, K::MemberJoined, "olive", pb::MemberRole::Owner),
            (3, K::MemberJoined, "mia", pb::MemberRole::Member),
            (4, K::BlockChanged, "alice", pb::MemberRole::Unspecified),
        ]
    );
    assert!(replayed[..3].iter().all(|e| e.conversation_id == group
        && e.conversation_kind() == pb::ConversationKind::Group
        && e.actor_id == "olive"));
    assert_eq!(
        (
            replayed[3].peer_id.as_str(),
            replayed[3].blocked,
            replayed[3].conversation_id.as_str()
        ),
        ("bob", true, "")
    );

    // live
    app.remove(&group, "olive", "mia").await.unwrap();
    let kicked = next(&mut stream).await;
    assert_eq!(
        (kicked.version, kicked.kind(), kicked.user_id.as_str()),
        (5, K::MemberRemoved, "mia")
    );
    app.update(pb::UpdateConversationRequest {
        conversation_id: group.clone(),
        actor_id: "olive".into(),
        mute_all: Some(true),
        ..Default::default()
    })
    .await
    .unwrap();
    let muted = next(&mut stream).await;
    assert_eq!(
        (muted.version, muted.kind(), muted.mute_all),
        (6, K::ConversationUpdated, true)
    );
    app.invite(&group, "olive", &["zoe"]).await.unwrap();
    app.mute(&group, "olive", "zoe", crate::harness::now_ms() + 60_000)
        .await
        .unwrap();
    let joined = next(&mut stream).await;
    let updated = next(&mut stream).await;
    assert_eq!((joined.version, joined.kind()), (7, K::MemberJoined));
    assert_eq!((updated.version, updated.kind()), (8, K::MemberUpdated));
    assert!(updated.muted_until_ms > 0);
    assert_eq!(app.check(&group, "zoe").await.membership_version, 8);

    // a second watcher from a version sees only what came after it
    let mut late = watch(&app, 6).await;
    assert_eq!(next(&mut late).await.version, 7);
    assert_eq!(next(&mut late).await.version, 8);
    app.c()
        .dissolve_group(pb::DissolveGroupRequest {
            conversation_id: group.clone(),
            actor_id: "olive".into(),
        })
        .await
        .unwrap();
    for stream in [&mut stream, &mut late] {
        let dissolved = next(stream).await;
        assert_eq!(
            (dissolved.version, dissolved.kind()),
            (9, K::ConversationDissolved)
        );
    }
}

async fn a_watcher_behind_the_retained_log_starts_with_reset(app: TestApp) {
    let members: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let group = app.group("olive", &refs).await;
    let current = app.check(&group, "olive").await.membership_version;
    assert_eq!(current, 10);

    // wait for pruning: a watcher at version 1 has then missed retained history
    eventually("the membership log is pruned", || async {
        let mut stream = watch(&app, 1).await;
        let first = next(&mut stream).await;
        first.kind() == K::Reset && first.version == current - 3
    })
    .await;

    let mut stream = watch(&app, 1).await;
    let reset = next(&mut stream).await;
    assert_eq!(reset.kind(), K::Reset);
    for version in reset.version + 1..=current {
        assert_eq!(next(&mut stream).await.version, version);
    }
    // live changes follow the reset like any others
    app.remove(&group, "olive", "m0").await.unwrap();
    assert_eq!(next(&mut stream).await.version, current + 1);

    // a watcher with an empty cache (0) just starts at the oldest retained
    let mut fresh = watch(&app, 0).await;
    let first = next(&mut fresh).await;
    assert_ne!(first.kind(), K::Reset);
    assert!(first.version > reset.version);

    // a watcher ahead of the log (a restored database) is told to reset too
    let mut ahead = watch(&app, 1_000).await;
    let reset = next(&mut ahead).await;
    assert_eq!((reset.kind(), reset.version), (K::Reset, current + 1));
}
