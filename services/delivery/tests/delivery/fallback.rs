//! Presence down: every gateway node gets the recipients' user ids (DESIGN §6).

use crate::harness::{TestApp, frames, seqs, sorted};
use im_contracts::v1 as pb;
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_presence_down_every_gateway_node_gets_the_user_ids() {
    let mut app = TestApp::spawn(&["n1", "n2"]).await;
    // A node configured by address only (no node id in the registry) is reached too.
    let unnamed = app.add_node("n3", "static:n3").await;
    app.conversation.set_members(
        "c1",
        &[
            ("ann", pb::MemberRole::Owner),
            ("bob", pb::MemberRole::Member),
        ],
    );
    app.presence.connect("ann", "ann-phone", "n1");
    app.presence.down.store(true, Ordering::SeqCst);

    app.send("c1", 1, "ann").await;

    for node in [app.node("n1"), app.node("n2"), &unnamed] {
        let received = frames(node, 1).await;
        assert_eq!(received[0].frame_type, "message");
        assert_eq!(sorted(received[0].users.clone()), ["ann", "bob"]);
        assert!(received[0].sessions.is_empty());
    }

    // Presence is back: exact routing again, only where devices are.
    app.presence.down.store(false, Ordering::SeqCst);
    app.send("c1", 2, "ann").await;
    let n1 = frames(app.node("n1"), 2).await;
    assert_eq!(seqs(&n1), [1, 2]);
    assert_eq!(n1[1].sessions, ["ann-phone"]);
    assert!(n1[1].users.is_empty());
    tokio::time::sleep(crate::harness::QUIET).await;
    assert_eq!(app.node("n2").received().len(), 1);
}
