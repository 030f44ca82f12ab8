//! Message events reach every member's devices, routed per gateway node.

use crate::harness::{QUIET, TestApp, frames, message, seqs, settings, sorted};
use im_contracts::v1 as pb;
use im_contracts::v1::message_event::Kind;
use pb::MemberRole::{Member, Owner};
use serde_json::json;

/// ann (phone on n1, laptop on n2), bob (phone on n1) and cat (offline) in group c1.
fn team(app: &TestApp) {
    app.conversation
        .set_members("c1", &[("ann", Owner), ("bob", Member), ("cat", Member)]);
    app.presence.connect("ann", "ann-phone", "n1");
    app.presence.connect("ann", "ann-laptop", "n2");
    app.presence.connect("bob", "bob-phone", "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_message_reaches_every_member_device_with_one_push_per_node() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    team(&app);

    app.send("c1", 1, "ann").await;

    let n1 = frames(app.node("n1"), 1).await;
    let n2 = frames(app.node("n2"), 1).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.node("n1").pushes().len(), 1, "one Push per node");
    assert_eq!(app.node("n2").pushes().len(), 1, "one Push per node");
    assert_eq!(n1.len(), 1);
    assert_eq!(n1[0].frame_type, "message");
    assert_eq!(sorted(n1[0].sessions.clone()), ["ann-phone", "bob-phone"]);
    // The sender's other device receives its own message too.
    assert_eq!(n2[0].sessions, ["ann-laptop"]);
    assert!(n1[0].users.is_empty(), "exact targets, not user ids");
    assert_eq!(
        n1[0].data,
        json!({"message": {
            "id": "c1-m1", "conversation_id": "c1", "seq": 1, "sender_id": "ann",
            "client_msg_id": "k1", "type": "text", "body": {"text": "message 1"},
            "reply_to": null, "mentions": [], "mention_all": false,
            "created_at": "2023-11-14T22:13:20Z", "edited_at": null, "recalled": false,
        }})
    );
    assert_eq!(n2[0].data, n1[0].data);
    // Presence was asked about every member, the offline one included.
    let located = app.presence.located();
    assert_eq!(sorted(located[0].clone()), ["ann", "bob", "cat"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_goes_out_in_one_push_per_node_in_seq_order() {
    let mut app = TestApp::new(&["n1", "n2"], settings()).await;
    team(&app);
    // Published while delivery is down: waiting for it when it starts.
    for seq in 1..=5 {
        app.send("c1", seq, "bob").await;
    }
    app.start().await;

    let n1 = frames(app.node("n1"), 5).await;
    assert_eq!(seqs(&n1), [1, 2, 3, 4, 5]);
    assert_eq!(app.node("n1").pushes().len(), 1, "one batch, one Push");
    assert_eq!(seqs(&frames(app.node("n2"), 5).await), [1, 2, 3, 4, 5]);
    // A conversation's members are listed once (two pages of two), not per message.
    assert_eq!(app.conversation.list_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_recalls_and_edits_reach_the_members() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    team(&app);

    app.publish_message(
        "c1",
        Kind::Read(pb::ReadCursorMoved {
            conversation_id: "c1".into(),
            user_id: "bob".into(),
            seq: 4,
        }),
    )
    .await;
    let recalled = pb::Message {
        body_json: String::new(),
        recalled: true,
        ..message("c1", 4, "ann")
    };
    app.publish_message("c1", Kind::Recalled(recalled)).await;
    let edited = pb::Message {
        body_json: r#"{"text":"fixed"}"#.into(),
        edited_at_ms: 1_700_000_060_000,
        ..message("c1", 3, "ann")
    };
    app.publish_message("c1", Kind::Edited(edited)).await;

    let n1 = frames(app.node("n1"), 3).await;
    let types: Vec<&str> = n1.iter().map(|f| f.frame_type.as_str()).collect();
    assert_eq!(types, ["read", "message.recalled", "message.edited"]);
    // The reader's own device gets its receipt as well (its other devices converge).
    assert_eq!(sorted(n1[0].sessions.clone()), ["ann-phone", "bob-phone"]);
    assert_eq!(
        n1[0].data,
        json!({"conversation_id": "c1", "user_id": "bob", "seq": 4})
    );
    assert_eq!(n1[1].data["message"]["recalled"], true);
    assert_eq!(n1[1].data["message"]["body"], serde_json::Value::Null);
    assert_eq!(n1[2].data["message"]["body"], json!({"text": "fixed"}));
    assert_eq!(n1[2].data["message"]["edited_at"], "2023-11-14T22:14:20Z");
    let n2 = frames(app.node("n2"), 3).await;
    assert!(n2.iter().all(|frame| frame.sessions == ["ann-laptop"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_an_unknown_conversation_is_skipped_and_the_next_one_flows() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    team(&app);

    app.send("gone", 1, "ann").await;
    app.publish_message("c1", Kind::Stored(pb::Message::default()))
        .await;
    app.send("c1", 1, "ann").await;

    let n1 = frames(app.node("n1"), 1).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(seqs(&app.node("n1").received()), [1]);
    assert_eq!(n1[0].data["message"]["conversation_id"], "c1");
}
