//! Sync: a client that held some seqs gets exactly what it missed, in order, page by
//! page, until done; conversations it did not name come from seq 0 when asked.

use crate::harness::{TestApp, on_every_backend, seqs};
use im_contracts::v1 as pb;
use std::collections::BTreeMap;

on_every_backend!(sync_returns_exactly_what_was_missed);

/// Repeats sync from `cursors` until done; returns every message per conversation, in
/// the order received, and the final cursors.
async fn sync_all(
    app: &TestApp,
    user: &str,
    mut cursors: Vec<(String, u64)>,
    limit: u32,
    include_unlisted: bool,
) -> (BTreeMap<String, Vec<pb::Message>>, Vec<(String, u64)>) {
    let mut received: BTreeMap<String, Vec<pb::Message>> = BTreeMap::new();
    for _ in 0..100 {
        let page = app.sync(user, &cursors, limit, include_unlisted).await;
        let count: usize = page.batches.iter().map(|b| b.messages.len()).sum();
        assert!(
            count <= limit as usize,
            "a page holds at most {limit} messages"
        );
        for batch in page.batches {
            assert_eq!(
                batch.max_seq,
                app.read_state(user, &batch.conversation_id).await.max_seq
            );
            received
                .entry(batch.conversation_id)
                .or_default()
                .extend(batch.messages);
        }
        cursors = page
            .next_cursors
            .into_iter()
            .map(|c| (c.conversation_id, c.seq))
            .collect();
        if page.done {
            return (received, cursors);
        }
    }
    panic!("sync never finished");
}

async fn sync_returns_exactly_what_was_missed(app: TestApp) {
    app.members.group("a", &["ann", "bob"]);
    app.members.group("b", &["ann", "bob"]);
    app.members.group("c", &["ann", "bob"]);
    app.members.group("quiet", &["bob"]);
    app.members.group("not-bobs", &["ann"]);
    for i in 1..=7 {
        app.text("a", "ann", &format!("a{i}"), "a").await;
    }
    for i in 1..=4 {
        app.text("b", "ann", &format!("b{i}"), "b").await;
    }
    for i in 1..=3 {
        app.text("c", "ann", &format!("c{i}"), "c").await;
    }
    app.text("not-bobs", "ann", "n1", "secret").await;
    // bob hid a message of b: sync skips it like history does
    let hidden = &app.all_history("b", "bob").await[1];
    app.delete_for_me(&hidden.id, "bob").await.unwrap();

    // bob's device held a up to 2 and b from the start; it names a conversation he is
    // not in, which is dropped
    let cursors = vec![
        ("a".to_owned(), 2),
        ("b".to_owned(), 0),
        ("not-bobs".to_owned(), 0),
    ];
    let (received, next) = sync_all(&app, "bob", cursors.clone(), 3, false).await;
    assert_eq!(received.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(seqs(&received["a"]), [3, 4, 5, 6, 7], "in order, once each");
    assert_eq!(seqs(&received["b"]), [1, 3, 4]);
    assert_eq!(next, [("a".to_owned(), 7), ("b".to_owned(), 4)]);

    // synced up: nothing more, done at once
    let again = app.sync("bob", &next, 3, false).await;
    assert!(again.done && again.batches.is_empty());

    // new messages while away: only those come
    app.text("a", "ann", "a8", "later").await;
    app.text("b", "ann", "b5", "later").await;
    let (received, _) = sync_all(&app, "bob", next.clone(), 50, false).await;
    assert_eq!(seqs(&received["a"]), [8]);
    assert_eq!(seqs(&received["b"]), [5]);

    // a new device names nothing and asks for everything
    let (received, next) = sync_all(&app, "bob", Vec::new(), 4, true).await;
    assert_eq!(received.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(seqs(&received["a"]), (1..=8).collect::<Vec<_>>());
    assert_eq!(seqs(&received["b"]), [1, 3, 4, 5]);
    assert_eq!(seqs(&received["c"]), [1, 2, 3]);
    let next: BTreeMap<_, _> = next.into_iter().collect();
    assert_eq!(
        next,
        BTreeMap::from([
            ("a".to_owned(), 8),
            ("b".to_owned(), 5),
            ("c".to_owned(), 3),
            ("quiet".to_owned(), 0),
        ])
    );
    let batch_read_seq = app.sync("bob", &[("c".to_owned(), 1)], 10, false).await;
    assert_eq!(batch_read_seq.batches[0].read_seq, 0);
    assert_eq!(batch_read_seq.batches[0].max_seq, 3);
}
