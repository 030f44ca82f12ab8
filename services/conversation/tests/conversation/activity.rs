//! The conversation list, fed by the message service's events: newest activity first,
//! with the last message, max seq, the user's read cursor and unread count.

use crate::harness::{TestApp, eventually, message, message_event, on_every_backend, page};
use im_contracts::v1 as pb;
use pb::message_event::Kind;
use std::time::Duration;

on_every_backend!(
    the_list_is_ordered_by_activity_with_unread_counts,
    duplicate_and_late_events_change_nothing,
    the_list_is_paged_newest_first,
    a_new_member_has_nothing_unread,
    undecodable_events_are_skipped,
    a_burst_of_events_folds_like_one_at_a_time,
);

/// The conversation as `user` sees it in their list.
async fn seen_by(app: &TestApp, user: &str, conversation: &str) -> pb::Conversation {
    app.conversations(user)
        .await
        .conversations
        .into_iter()
        .find(|c| c.id == conversation)
        .expect("the conversation is in the user's list")
}

fn text(conversation: &pb::Conversation) -> String {
    conversation
        .last_message
        .as_ref()
        .map(|m| m.body_json.clone())
        .unwrap_or_default()
}

async fn ids(app: &TestApp, user: &str) -> Vec<String> {
    app.conversations(user)
        .await
        .conversations
        .into_iter()
        .map(|c| c.id)
        .collect()
}

async fn stored(app: &TestApp, conversation: &str, seq: u64, sender: &str, body: &str) {
    app.publish_message_event(message_event(Kind::Stored(message(
        conversation,
        seq,
        sender,
        body,
    ))))
    .await;
}

async fn read(app: &TestApp, conversation: &str, user: &str, seq: u64) {
    app.publish_message_event(message_event(Kind::Read(pb::ReadCursorMoved {
        conversation_id: conversation.into(),
        user_id: user.into(),
        seq,
    })))
    .await;
}

async fn the_list_is_ordered_by_activity_with_unread_counts(app: TestApp) {
    app.befriend("alice", "bob").await;
    let first = app.group("alice", &["bob"]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = app.group("bob", &["alice"]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let direct = app.direct("alice", "bob").await.id;
    assert_eq!(
        ids(&app, "alice").await,
        [direct.as_str(), second.as_str(), first.as_str()]
    );

    stored(&app, &first, 1, "bob", "hello").await;
    eventually("the first group moves to the top", || async {
        ids(&app, "alice").await[0] == first
    })
    .await;
    let for_alice = seen_by(&app, "alice", &first).await;
    assert_eq!(
        (for_alice.max_seq, for_alice.read_seq, for_alice.unread),
        (1, 0, 1)
    );
    assert_eq!(text(&for_alice), "{\"text\":\"hello\"}");
    let last = for_alice.last_message.unwrap();
    assert_eq!(
        (
            last.seq,
            last.sender_id.as_str(),
            last.conversation_id.as_str()
        ),
        (1, "bob", first.as_str())
    );
    let for_bob = seen_by(&app, "bob", &first).await;
    assert_eq!(for_bob.unread, 0, "your own messages are read");

    stored(&app, &first, 2, "alice", "hi bob").await;
    read(&app, &first, "bob", 2).await;
    eventually("bob has read everything", || async {
        seen_by(&app, "bob", &first).await.read_seq == 2
    })
    .await;
    let for_alice = seen_by(&app, "alice", &first).await;
    assert_eq!(
        (for_alice.max_seq, for_alice.read_seq, for_alice.unread),
        (2, 2, 0)
    );
    assert_eq!(seen_by(&app, "bob", &first).await.unread, 0);

    tokio::time::sleep(Duration::from_millis(5)).await;
    stored(&app, &direct, 1, "bob", "psst").await;
    eventually("the direct conversation moves to the top", || async {
        ids(&app, "alice").await == [direct.as_str(), first.as_str(), second.as_str()]
    })
    .await;
    assert_eq!(seen_by(&app, "alice", &direct).await.unread, 1);
}

async fn duplicate_and_late_events_change_nothing(app: TestApp) {
    let group = app.group("olive", &["mia"]).await;
    stored(&app, &group, 2, "olive", "two").await;
    stored(&app, &group, 1, "olive", "one").await; // late
    stored(&app, &group, 2, "olive", "two").await; // redelivered
    read(&app, &group, "mia", 1).await;
    read(&app, &group, "mia", 0).await; // older cursor
    // a marker in another conversation, published last: events are applied one at a
    // time in publish order, so once it is visible everything before it was applied.
    // (A change in this group would not do: olive's own `stored` already moved her
    // read cursor to 2 before the reads above were applied.)
    let marker = app.group("olive", &[]).await;
    stored(&app, &marker, 1, "olive", "marker").await;
    eventually("the marker is applied", || async {
        seen_by(&app, "olive", &marker).await.max_seq == 1
    })
    .await;
    let for_mia = seen_by(&app, "mia", &group).await;
    assert_eq!(
        (for_mia.max_seq, for_mia.read_seq, for_mia.unread),
        (2, 1, 1)
    );
    assert_eq!(text(&for_mia), "{\"text\":\"two\"}");

    let mut edited = message(&group, 2, "olive", "two, edited");
    edited.edited_at_ms = crate::harness::now_ms();
    app.publish_message_event(message_event(Kind::Edited(edited.clone())))
        .await;
    eventually("the edit shows", || async {
        text(&seen_by(&app, "mia", &group).await) == "{\"text\":\"two, edited\"}"
    })
    .await;

    // an edit of an older message leaves the preview alone
    let mut old = message(&group, 1, "olive", "one, edited");
    old.edited_at_ms = crate::harness::now_ms();
    app.publish_message_event(message_event(Kind::Edited(old)))
        .await;
    let mut recalled = message(&group, 2, "olive", "");
    recalled.recalled = true;
    app.publish_message_event(message_event(Kind::Recalled(recalled)))
        .await;
    // a stale edit after the recall does not bring the text back
    app.publish_message_event(message_event(Kind::Edited(edited)))
        .await;
    read(&app, &group, "mia", 2).await;
    eventually("mia's cursor moves", || async {
        seen_by(&app, "mia", &group).await.read_seq == 2
    })
    .await;
    let for_mia = seen_by(&app, "mia", &group).await;
    let last = for_mia.last_message.unwrap();
    assert!(last.recalled);
    assert_eq!((last.seq, for_mia.max_seq, for_mia.unread), (2, 2, 0));
}

async fn the_list_is_paged_newest_first(app: TestApp) {
    let mut groups = Vec::new();
    for _ in 0..5 {
        groups.push(app.group("alice", &[]).await);
    }
    // activity reorders: the oldest group gets the newest message
    stored(&app, &groups[0], 1, "alice", "bump").await;
    eventually("the bump is applied", || async {
        ids(&app, "alice").await[0] == groups[0]
    })
    .await;
    let expected = ids(&app, "alice").await;
    assert_eq!(expected.len(), 5);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .c()
            .list_user_conversations(pb::ListUserConversationsRequest {
                user_id: "alice".into(),
                page: page(2, &cursor),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.conversations.len() <= 2);
        seen.extend(reply.conversations.into_iter().map(|c| c.id));
        cursor = reply.page_info.unwrap().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, expected);
    let activity: Vec<i64> = app
        .conversations("alice")
        .await
        .conversations
        .iter()
        .map(|c| c.updated_at_ms)
        .collect();
    assert!(activity.windows(2).all(|w| w[0] >= w[1]), "{activity:?}");
}

async fn a_new_member_has_nothing_unread(app: TestApp) {
    let group = app.group("olive", &["mia"]).await;
    for seq in 1..=3 {
        stored(&app, &group, seq, "olive", "before you came").await;
    }
    eventually("the messages are counted", || async {
        seen_by(&app, "mia", &group).await.unread == 3
    })
    .await;
    app.invite(&group, "mia", &["zoe"]).await.unwrap();
    let for_zoe = seen_by(&app, "zoe", &group).await;
    assert_eq!(
        (for_zoe.max_seq, for_zoe.read_seq, for_zoe.unread),
        (3, 3, 0)
    );
}

async fn undecodable_events_are_skipped(app: TestApp) {
    use im_runtime::bus::{Bus as _, Record};
    let group = app.group("olive", &["mia"]).await;
    app.bus
        .publish(
            im_contracts::topics::MESSAGE_EVENTS,
            Record::new(group.clone(), b"\xff\xfenot protobuf".to_vec()),
        )
        .await
        .unwrap();
    stored(&app, "no-such-conversation", 1, "olive", "lost").await;
    stored(&app, &group, 1, "olive", "still flowing").await;
    eventually("later events still apply", || async {
        seen_by(&app, "mia", &group).await.unread == 1
    })
    .await;
}

/// Many events published at once reach the projection in batches (one transaction
/// each); the result is what applying them one at a time gives: per conversation the
/// highest seq and its latest state, per member the furthest cursor.
async fn a_burst_of_events_folds_like_one_at_a_time(app: TestApp) {
    let groups = [
        app.group("olive", &["mia", "noah"]).await,
        app.group("mia", &["olive"]).await,
        app.group("noah", &["olive", "mia"]).await,
    ];
    let members: [&[&str]; 3] = [
        &["olive", "mia", "noah"],
        &["mia", "olive"],
        &["noah", "olive", "mia"],
    ];
    // What each member's cursor must end at: a sender has read their own message.
    let mut cursors: std::collections::HashMap<(usize, &str), u64> = Default::default();
    let mut moved = |g: usize, user: &'static str, seq: u64| {
        let cursor = cursors.entry((g, user)).or_default();
        *cursor = (*cursor).max(seq);
    };
    for seq in 1..=40u64 {
        for (g, group) in groups.iter().enumerate() {
            let sender = members[g][seq as usize % members[g].len()];
            stored(&app, group, seq, sender, &format!("{g}-{seq}")).await;
            moved(g, sender, seq);
            if seq % 7 == 0 {
                // A late, older message and a stale cursor change no activity.
                stored(&app, group, seq - 3, "olive", "late").await;
                moved(g, "olive", seq - 3);
                read(&app, group, "mia", seq - 5).await;
                moved(g, "mia", seq - 5);
            }
        }
    }
    // The newest message of the first group is edited, then recalled; a stale edit
    // after the recall does not bring the text back.
    let author = members[0][40 % 3];
    let mut edited = message(&groups[0], 40, author, "edited");
    edited.edited_at_ms = crate::harness::now_ms();
    app.publish_message_event(message_event(Kind::Edited(edited.clone())))
        .await;
    let mut recalled = message(&groups[0], 40, author, "");
    recalled.recalled = true;
    app.publish_message_event(message_event(Kind::Recalled(recalled)))
        .await;
    app.publish_message_event(message_event(Kind::Edited(edited)))
        .await;
    read(&app, &groups[2], "mia", 39).await;
    moved(2, "mia", 39);
    read(&app, &groups[2], "mia", 12).await;

    let marker = app.group("olive", &[]).await;
    stored(&app, &marker, 1, "olive", "marker").await;
    eventually("the marker is applied", || async {
        seen_by(&app, "olive", &marker).await.max_seq == 1
    })
    .await;

    for (g, group) in groups.iter().enumerate() {
        for user in members[g] {
            let seen = seen_by(&app, user, group).await;
            let read = cursors.get(&(g, *user)).copied().unwrap_or(0);
            assert_eq!(
                (seen.max_seq, seen.read_seq, seen.unread),
                (40, read, 40 - read),
                "group {g} as {user} sees it"
            );
        }
    }
    let first = seen_by(&app, "mia", &groups[0]).await.last_message.unwrap();
    assert!(first.recalled && first.seq == 40, "the recall stays");
    for g in [1, 2] {
        let seen = seen_by(&app, "olive", &groups[g]).await;
        assert_eq!(text(&seen), format!("{{\"text\":\"{g}-40\"}}"));
    }
}
