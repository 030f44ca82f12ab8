//! At least once toward live gateway nodes: a failed push is retried before the event
//! is committed; a node that left the registry, or stays unreachable, is skipped so
//! delivery moves on (its clients sync what they missed).

use crate::harness::{BREAKER_OPEN, PATIENCE, QUIET, TestApp, frames, seqs, settings};
use im_contracts::v1 as pb;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn pair(app: &TestApp) {
    app.conversation.set_members(
        "c1",
        &[
            ("ann", pb::MemberRole::Owner),
            ("bob", pb::MemberRole::Member),
        ],
    );
    app.presence.connect("ann", "ann-phone", "n1");
    app.presence.connect("bob", "bob-phone", "n2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_push_to_a_live_node_is_retried_before_commit() {
    let mut app = TestApp::spawn(&["n1", "n2"]).await;
    pair(&app);
    app.node("n2").fail_next.store(2, Ordering::SeqCst);

    app.send("c1", 1, "ann").await;
    app.send("c1", 2, "ann").await;

    // Retried until it went through, in order.
    assert_eq!(seqs(&frames(app.node("n2"), 2).await), [1, 2]);
    assert_eq!(app.node("n2").failed(), 2);
    assert_eq!(seqs(&frames(app.node("n1"), 2).await), [1, 2]);

    // Committed: a restarted delivery does not push them again. (The batch commits as
    // soon as its last push is answered; the nodes record a frame before answering.)
    tokio::time::sleep(QUIET).await;
    app.stop().await;
    app.start().await;
    app.send("c1", 3, "ann").await;
    assert_eq!(seqs(&frames(app.node("n2"), 3).await), [1, 2, 3]);
    tokio::time::sleep(QUIET).await;
    assert_eq!(seqs(&app.node("n1").received()), [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_taken_but_not_delivered_are_delivered_after_a_restart() {
    let mut app = TestApp::spawn(&["n1", "n2"]).await;
    pair(&app);
    app.conversation.down.store(true, Ordering::SeqCst);

    app.send("c1", 1, "ann").await;
    // Delivery keeps retrying the lookup; stopped meanwhile, it commits nothing.
    tokio::time::sleep(QUIET).await;
    app.stop().await;
    app.conversation.down.store(false, Ordering::SeqCst);
    app.start().await;

    assert_eq!(seqs(&frames(app.node("n2"), 1).await), [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_unknown_to_registry_and_presence_is_skipped() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    pair(&app);
    // bob's laptop is on a node that is gone: no registration, no heartbeat.
    app.presence.connect("bob", "bob-laptop", "n9");

    app.send("c1", 1, "ann").await;
    app.send("c1", 2, "ann").await;

    assert_eq!(seqs(&frames(app.node("n2"), 2).await), [1, 2]);
    assert_eq!(seqs(&frames(app.node("n1"), 2).await), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_leaves_the_registry_while_failing_is_given_up() {
    // A long give-up: only the node leaving the registry ends the retries.
    let mut app = TestApp::new(
        &["n1", "n2"],
        crate::harness::Settings {
            push_give_up_after: Duration::from_secs(60),
            ..settings()
        },
    )
    .await;
    app.start().await;
    pair(&app);
    app.node("n2").unreachable.store(true, Ordering::SeqCst);

    app.send("c1", 1, "ann").await;
    assert_eq!(seqs(&frames(app.node("n1"), 1).await), [1]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.node("n2").failed() >= 2, "n2 is being retried");

    // n2 dies for good: out of the registry, no more heartbeats to presence.
    let started = Instant::now();
    app.deregister("n2").await;
    app.presence.forget_node("n2");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed = app.node("n2").failed();

    // Delivery moved on: the next event is not stuck behind the first.
    app.send("c1", 2, "ann").await;
    assert_eq!(seqs(&frames(app.node("n1"), 2).await), [1, 2]);
    assert!(started.elapsed() < PATIENCE);
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.node("n2").failed(), failed, "n2 is no longer tried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stays_unreachable_is_given_up_and_then_tried_once_per_push() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    pair(&app);
    app.node("n2").unreachable.store(true, Ordering::SeqCst);

    app.send("c1", 1, "ann").await;
    assert_eq!(seqs(&frames(app.node("n1"), 1).await), [1]);
    // Retried for push_give_up_after (1.5 s), then given up: delivery moves on.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let failed = app.node("n2").failed();
    assert!(failed > 3, "n2 was retried: {failed} attempts");

    // While suspect, a push to it gets one attempt (none at all while the node's
    // circuit is open) and n1 does not wait on it.
    app.send("c1", 2, "ann").await;
    assert_eq!(seqs(&frames(app.node("n1"), 2).await), [1, 2]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        app.node("n2").failed() <= failed + 1,
        "at most one attempt while suspect"
    );

    // Back up: once its circuit lets a probe through, it gets the next events again.
    app.node("n2").unreachable.store(false, Ordering::SeqCst);
    tokio::time::sleep(BREAKER_OPEN * 2).await;
    app.send("c1", 3, "ann").await;
    assert_eq!(seqs(&frames(app.node("n2"), 1).await), [3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gone_from_the_registry_is_skipped_though_presence_remembers_it() {
    // A long give-up: retrying the dead node would stall the conversation for a minute.
    let mut app = TestApp::new(
        &["n1", "n2"],
        crate::harness::Settings {
            push_give_up_after: Duration::from_secs(60),
            ..settings()
        },
    )
    .await;
    app.start().await;
    pair(&app);
    // n2 was killed: its lease ran out of the registry, but presence has not noticed
    // yet and still lists bob's phone there, at n2's address.
    app.node("n2").unreachable.store(true, Ordering::SeqCst);
    app.deregister("n2").await;

    let started = Instant::now();
    app.send("c1", 1, "ann").await;
    app.send("c1", 2, "ann").await;
    assert_eq!(seqs(&frames(app.node("n1"), 2).await), [1, 2]);
    assert!(
        started.elapsed() < PATIENCE,
        "not stuck behind the dead node"
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        app.node("n2").failed(),
        0,
        "the dead node is not even tried"
    );
}
