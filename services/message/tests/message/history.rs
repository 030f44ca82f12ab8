//! History: paged both ways in seq order, members only; recalled messages stay in place
//! without content; delete-for-me hides a message from one user only.

use crate::harness::{TestApp, on_every_backend, refused, seqs, text_of};
use im_contracts::v1::HistoryDirection as D;
use tonic::Code;

on_every_backend!(
    history_pages_both_ways,
    recalled_and_deleted_messages_as_each_member_sees_them,
);

async fn history_pages_both_ways(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    for i in 1..=10 {
        app.text(
            "g",
            if i % 2 == 0 { "ann" } else { "bob" },
            &format!("m{i}"),
            &format!("#{i}"),
        )
        .await;
    }
    let page = |after, before, limit, direction| {
        let app = app.clone();
        async move {
            app.try_history("g", "bob", after, before, limit, direction)
                .await
                .unwrap()
                .into_inner()
        }
    };

    // newest first by default, each page ascending
    let newest = page(0, 0, 3, D::Unspecified).await;
    assert_eq!(
        (seqs(&newest.messages), newest.has_more),
        (vec![8, 9, 10], true)
    );
    let older = page(0, 8, 3, D::Unspecified).await;
    assert_eq!(
        (seqs(&older.messages), older.has_more),
        (vec![5, 6, 7], true)
    );
    let oldest = page(0, 2, 3, D::Backward).await;
    assert_eq!((seqs(&oldest.messages), oldest.has_more), (vec![1], false));

    // oldest first from a lower bound (or from the start when asked)
    let first = page(0, 0, 4, D::Forward).await;
    assert_eq!(
        (seqs(&first.messages), first.has_more),
        (vec![1, 2, 3, 4], true)
    );
    let next = page(4, 0, 4, D::Unspecified).await;
    assert_eq!(
        (seqs(&next.messages), next.has_more),
        (vec![5, 6, 7, 8], true)
    );
    let last = page(8, 0, 4, D::Forward).await;
    assert_eq!((seqs(&last.messages), last.has_more), (vec![9, 10], false));

    // both bounds
    let window = page(2, 6, 10, D::Forward).await;
    assert_eq!(
        (seqs(&window.messages), window.has_more),
        (vec![3, 4, 5], false)
    );
    let window = page(2, 9, 2, D::Backward).await;
    assert_eq!(
        (seqs(&window.messages), window.has_more),
        (vec![7, 8], true)
    );
    assert_eq!(text_of(&window.messages[0]), "#7");

    // the default page is 50, at most 200 are returned
    let all = page(0, 0, 0, D::Forward).await;
    assert_eq!(all.messages.len(), 10);
    assert_eq!(page(0, 0, 5000, D::Forward).await.messages.len(), 10);

    refused(
        app.try_history("g", "bob", 5, 5, 10, D::Forward).await,
        Code::InvalidArgument,
        "invalid_seq_range",
    );
    let unknown_direction = app
        .c()
        .history(im_contracts::v1::HistoryRequest {
            conversation_id: "g".into(),
            viewer_id: "bob".into(),
            direction: 7,
            ..Default::default()
        })
        .await;
    refused(
        unknown_direction,
        Code::InvalidArgument,
        "invalid_direction",
    );
    refused(
        app.try_history("g", "eve", 0, 0, 10, D::Forward).await,
        Code::NotFound,
        "conversation_not_found",
    );
    // a member who left no longer reads the history
    app.members.leave("g", "bob");
    refused(
        app.try_history("g", "bob", 0, 0, 10, D::Forward).await,
        Code::NotFound,
        "conversation_not_found",
    );
}

async fn recalled_and_deleted_messages_as_each_member_sees_them(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    for i in 1..=5 {
        app.text("g", "ann", &format!("m{i}"), &format!("#{i}"))
            .await;
    }
    let history = app.all_history("g", "ann").await;
    let (second, third, fourth) = (&history[1], &history[2], &history[3]);

    app.recall(&second.id, "ann").await.unwrap();
    app.delete_for_me(&third.id, "bob").await.unwrap();
    app.delete_for_me(&fourth.id, "bob").await.unwrap();
    // deleting again changes nothing
    app.delete_for_me(&fourth.id, "bob").await.unwrap();

    let anns = app.all_history("g", "ann").await;
    assert_eq!(seqs(&anns), [1, 2, 3, 4, 5], "ann deleted nothing");
    assert!(
        anns[1].recalled && anns[1].body_json.is_empty(),
        "{:?}",
        anns[1]
    );
    assert_eq!(anns[1].seq, 2);

    let bobs = app.all_history("g", "bob").await;
    assert_eq!(seqs(&bobs), [1, 2, 5], "bob's deletions are his alone");
    assert!(bobs[1].recalled);

    // a page of bob's counts only what he sees
    let page = app
        .try_history("g", "bob", 0, 0, 2, D::Backward)
        .await
        .unwrap()
        .into_inner();
    assert_eq!((seqs(&page.messages), page.has_more), (vec![2, 5], true));

    refused(
        app.delete_for_me(&third.id, "eve").await,
        Code::NotFound,
        "message_not_found",
    );
    refused(
        app.delete_for_me("no-such-message", "bob").await,
        Code::NotFound,
        "message_not_found",
    );
    refused(
        app.delete_for_me("", "bob").await,
        Code::InvalidArgument,
        "invalid_message_id",
    );
}
