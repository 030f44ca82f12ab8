//! Recall and edit: who may, for how long (on a clock the test moves), and what every
//! member sees afterwards.

use crate::harness::{TestApp, on_every_backend, refused, seqs, text_of};
use im_contracts::v1 as pb;
use im_message::Role;
use std::time::Duration;
use tonic::Code;

on_every_backend!(recall_rules_and_window, edit_rules_and_window);

const MINUTE: Duration = Duration::from_secs(60);

async fn recall_rules_and_window(app: TestApp) {
    app.members.group("g", &["ann", "bob", "cat"]);
    app.members.set_role("g", "cat", Role::Admin);
    app.members.direct("d", "ann", "bob");
    let first = app.text("g", "ann", "m1", "oops").await;
    let second = app.text("g", "ann", "m2", "fine").await;
    let third = app.text("g", "bob", "m3", "mine").await;

    refused(
        app.recall(&first.id, "bob").await,
        Code::PermissionDenied,
        "not_allowed",
    );
    let recalled = app
        .recall(&first.id, "ann")
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert!(recalled.recalled && recalled.body_json.is_empty());
    assert_eq!((recalled.seq, recalled.id.as_str()), (1, first.id.as_str()));
    // recalling again changes nothing
    let again = app
        .recall(&first.id, "ann")
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(again, recalled);

    app.clock.advance(2 * MINUTE + Duration::from_secs(1));
    refused(
        app.recall(&second.id, "ann").await,
        Code::FailedPrecondition,
        "window_passed",
    );
    // a group admin recalls anyone's message at any time
    app.recall(&third.id, "cat").await.unwrap();
    app.members.set_role("g", "cat", Role::Member);
    refused(
        app.recall(&second.id, "cat").await,
        Code::PermissionDenied,
        "not_allowed",
    );
    // a direct conversation has no admins
    let direct = app.text("d", "ann", "d1", "hi").await;
    refused(
        app.recall(&direct.id, "bob").await,
        Code::PermissionDenied,
        "not_allowed",
    );

    refused(
        app.recall(&second.id, "eve").await,
        Code::NotFound,
        "message_not_found",
    );
    refused(
        app.recall("missing", "ann").await,
        Code::NotFound,
        "message_not_found",
    );

    let history = app.all_history("g", "bob").await;
    assert_eq!(
        seqs(&history),
        [1, 2, 3],
        "recalled messages keep their seq"
    );
    let recalled: Vec<bool> = history.iter().map(|m| m.recalled).collect();
    assert_eq!(recalled, [true, false, true]);
    assert_eq!(text_of(&history[1]), "fine");
}

async fn edit_rules_and_window(app: TestApp) {
    app.members.group("g", &["ann", "bob"]);
    let text = app.text("g", "ann", "m1", "helo").await;
    let image = app
        .try_send(
            "g",
            "ann",
            "m2",
            pb::MessageType::Image,
            r#"{"file_id":"f1"}"#,
        )
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();

    let edited = app
        .edit(&text.id, "ann", "hello")
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!((edited.seq, text_of(&edited).as_str()), (1, "hello"));
    assert!(edited.edited_at_ms >= text.created_at_ms && edited.edited_at_ms > 0);

    refused(
        app.edit(&text.id, "bob", "mine now").await,
        Code::PermissionDenied,
        "not_allowed",
    );
    refused(
        app.edit(&image.id, "ann", "text").await,
        Code::FailedPrecondition,
        "not_editable",
    );
    let invalid = app
        .c()
        .edit(pb::EditRequest {
            message_id: text.id.clone(),
            editor_id: "ann".into(),
            body_json: r#"{"text":""}"#.into(),
        })
        .await;
    refused(invalid, Code::InvalidArgument, "invalid_body");
    app.members.update("g", "ann", |check| check.muted = true);
    refused(
        app.edit(&text.id, "ann", "quiet").await,
        Code::PermissionDenied,
        "muted",
    );
    app.members.update("g", "ann", |check| check.muted = false);

    app.clock.advance(23 * 60 * MINUTE);
    app.edit(&text.id, "ann", "hello again").await.unwrap();
    app.clock.advance(61 * MINUTE);
    refused(
        app.edit(&text.id, "ann", "too late").await,
        Code::FailedPrecondition,
        "window_passed",
    );

    let fresh = app.text("g", "ann", "m3", "to recall").await;
    app.recall(&fresh.id, "ann").await.unwrap();
    refused(
        app.edit(&fresh.id, "ann", "back").await,
        Code::FailedPrecondition,
        "message_recalled",
    );

    let history = app.all_history("g", "bob").await;
    assert_eq!(seqs(&history), [1, 2, 3]);
    assert_eq!(text_of(&history[0]), "hello again");
    assert!(history[0].edited_at_ms > 0);
    assert_eq!(history[1].edited_at_ms, 0);
}
