//! Read cursors: forward only, bounded by the newest message, members only; unread
//! counts leave one's own messages out.

use crate::harness::{TestApp, on_every_backend, refused, text_of};
use tonic::Code;

on_every_backend!(read_cursors_only_move_forward, unread_counts_per_member);

async fn read_cursors_only_move_forward(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    for i in 1..=3 {
        app.text("g", "ann", &format!("m{i}"), "hi").await;
    }
    let moved = app.mark_read("g", "bob", 2).await.unwrap().into_inner();
    assert_eq!((moved.read_seq, moved.advanced), (2, true));
    let back = app.mark_read("g", "bob", 1).await.unwrap().into_inner();
    assert_eq!((back.read_seq, back.advanced), (2, false), "never backward");
    let same = app.mark_read("g", "bob", 2).await.unwrap().into_inner();
    assert_eq!((same.read_seq, same.advanced), (2, false));
    refused(
        app.mark_read("g", "bob", 4).await,
        Code::InvalidArgument,
        "seq_out_of_range",
    );
    let all = app.mark_read("g", "bob", 3).await.unwrap().into_inner();
    assert_eq!((all.read_seq, all.advanced), (3, true));
    refused(
        app.mark_read("g", "eve", 1).await,
        Code::NotFound,
        "conversation_not_found",
    );
    // an empty conversation has nothing to read
    app.members.group("empty", &["bob"]);
    let nothing = app.mark_read("empty", "bob", 0).await.unwrap().into_inner();
    assert_eq!((nothing.read_seq, nothing.advanced), (0, false));
    refused(
        app.mark_read("empty", "bob", 1).await,
        Code::InvalidArgument,
        "seq_out_of_range",
    );
}

async fn unread_counts_per_member(app: TestApp) {
    app.members.group("g", &["ann", "bob", "cat"]);
    app.members.group("h", &["bob"]);
    app.members.group("private", &["ann"]);
    for i in 1..=4 {
        app.text("g", "ann", &format!("m{i}"), &format!("#{i}"))
            .await;
    }
    let ann = app.read_state("ann", "g").await;
    assert_eq!(
        (ann.read_seq, ann.max_seq, ann.unread),
        (4, 4, 0),
        "own messages are read"
    );
    let bob = app.read_state("bob", "g").await;
    assert_eq!((bob.read_seq, bob.max_seq, bob.unread), (0, 4, 4));
    assert_eq!(text_of(bob.last_message.as_ref().unwrap()), "#4");

    app.mark_read("g", "bob", 1).await.unwrap();
    assert_eq!(app.read_state("bob", "g").await.unread, 3);
    // replying reads everything before the reply
    app.text("g", "bob", "b1", "caught up").await;
    let bob = app.read_state("bob", "g").await;
    assert_eq!((bob.read_seq, bob.unread), (5, 0));
    let ann = app.read_state("ann", "g").await;
    assert_eq!((ann.read_seq, ann.max_seq, ann.unread), (4, 5, 1));
    assert_eq!(app.read_state("cat", "g").await.unread, 5);

    // several at once, in the order named; conversations bob is not in are left out
    let states = app.read_states("bob", &["h", "private", "g", "g"]).await;
    let named: Vec<_> = states.iter().map(|s| s.conversation_id.as_str()).collect();
    assert_eq!(named, ["h", "g"]);
    assert_eq!((states[0].max_seq, states[0].unread), (0, 0));
    assert!(states[0].last_message.is_none());

    let too_many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let status = app
        .c()
        .get_read_state(im_contracts::v1::GetReadStateRequest {
            user_id: "bob".into(),
            conversation_ids: too_many,
        })
        .await;
    refused(status, Code::InvalidArgument, "too_many_conversations");
}
