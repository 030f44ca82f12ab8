//! Message events on the bus: every stored message, read cursor move, recall and edit,
//! published after commit in order per conversation, keyed by it; none lost when the
//! bus is down for a while.

use crate::harness::{Events, TestApp, on_every_backend};
use im_contracts::v1 as pb;
use pb::message_event::Kind;

on_every_backend!(events_are_published_in_order_even_after_an_outage);

async fn events_are_published_in_order_even_after_an_outage(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    app.members.group("h", &["ann", "bob"]);
    let mut events = Events::subscribe(&app).await;

    app.bus_down(true);
    let mut sent = Vec::new();
    for i in 1..=5 {
        // acked while the bus is down: stored, not yet announced
        sent.push(
            app.text("g", "ann", &format!("g{i}"), &format!("#{i}"))
                .await,
        );
        app.text("h", "bob", &format!("h{i}"), &format!("#{i}"))
            .await;
    }
    app.mark_read("g", "bob", 3).await.unwrap();
    app.recall(&sent[1].id, "ann").await.unwrap();
    app.edit(&sent[3].id, "ann", "#4 edited").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    events.assert_quiet().await;
    app.bus_down(false);

    let mut g = Vec::new();
    let mut h = Vec::new();
    for _ in 0..13 {
        let (key, kind) = events.next().await;
        match key.as_str() {
            "g" => g.push(kind),
            "h" => h.push(kind),
            other => panic!("unexpected key {other}"),
        }
    }
    let stored_seqs = |kinds: &[Kind]| -> Vec<u64> {
        kinds
            .iter()
            .filter_map(|kind| match kind {
                Kind::Stored(message) => Some(message.seq),
                _ => None,
            })
            .collect()
    };
    assert_eq!(stored_seqs(&h), [1, 2, 3, 4, 5]);
    assert_eq!(h.len(), 5);
    assert_eq!(
        stored_seqs(&g[..5]),
        [1, 2, 3, 4, 5],
        "stored in seq order first"
    );
    let Kind::Read(read) = &g[5] else {
        panic!("expected the read cursor next, got {:?}", g[5]);
    };
    assert_eq!(
        (
            read.user_id.as_str(),
            read.seq,
            read.conversation_id.as_str()
        ),
        ("bob", 3, "g")
    );
    let Kind::Recalled(recalled) = &g[6] else {
        panic!("expected the recall next, got {:?}", g[6]);
    };
    assert_eq!(
        (recalled.seq, recalled.recalled, recalled.body_json.as_str()),
        (2, true, "")
    );
    let Kind::Edited(edited) = &g[7] else {
        panic!("expected the edit last, got {:?}", g[7]);
    };
    assert_eq!(edited.seq, 4);
    assert!(edited.edited_at_ms > 0 && edited.body_json.contains("#4 edited"));
    // the senders' own cursors moved with their sends, without events of their own
    events.assert_quiet().await;
    // refused changes announce nothing; a retried send announces nothing new
    app.mark_read("g", "bob", 2).await.unwrap();
    app.text("g", "ann", "g5", "#5").await;
    events.assert_quiet().await;
    app.text("g", "ann", "g6", "#6").await;
    let (key, Kind::Stored(message)) = events.next().await else {
        panic!("expected a stored message");
    };
    assert_eq!(
        (key.as_str(), message.seq, message.sender_id.as_str()),
        ("g", 6, "ann")
    );
}
