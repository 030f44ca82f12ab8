//! The message, sync and presence routes against the fakes of `fake_live`: what reaches
//! the services, the JSON and statuses that come back, and what the edge refuses itself.

use crate::fake_live::MAX_SEQ;
use crate::ws_client::spawn_live_app;
use crate::{dead_endpoint, spawn_app_with};
use im_contracts::v1::{
    DeleteForMeRequest, EditRequest, HistoryRequest, MarkReadRequest, MessageType, RecallRequest,
    SendRequest, SyncRequest,
};
use serde_json::{Value, json};

fn seqs(messages: &Value) -> Vec<u64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_message_is_stored_once_and_a_retry_answers_the_original() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let path = "/api/v1/conversations/c1/messages";
    let body = json!({
        "client_msg_id": "k-1", "type": "text", "body": {"text": "hello"},
        "reply_to": "m-0", "mentions": ["u2"], "mention_all": true,
    });
    let first = app.post(path, Some(&token), body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let message = &first.body;
    assert_eq!(message["conversation_id"], "c1");
    assert_eq!(message["sender_id"], "u1");
    assert_eq!(message["client_msg_id"], "k-1");
    assert_eq!(message["type"], "text");
    assert_eq!(message["body"], json!({"text": "hello"}));
    assert_eq!(message["reply_to"], "m-0");
    assert_eq!(message["mentions"], json!(["u2"]));
    assert_eq!(message["mention_all"], true);
    assert_eq!(message["created_at"], "2023-11-14T22:13:20Z");
    assert!(message["edited_at"].is_null());
    assert_eq!(message["recalled"], false);

    let retry = app.post(path, Some(&token), body).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body, first.body);

    let sent: Vec<SendRequest> = app.live.seen("Send");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].sender_id, "u1");
    assert_eq!(sent[0].conversation_id, "c1");
    assert_eq!(sent[0].r#type(), MessageType::Text);
    assert_eq!(
        serde_json::from_str::<Value>(&sent[0].body_json).unwrap(),
        json!({"text": "hello"})
    );
}

#[tokio::test]
async fn sends_the_edge_cannot_read_are_400_and_refusals_pass_through() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let path = "/api/v1/conversations/c1/messages";
    let reply = app
        .post(
            path,
            Some(&token),
            json!({"client_msg_id": "k", "type": "sticker", "body": {}}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_type"));
    let reply = app
        .post(
            path,
            Some(&token),
            json!({"client_msg_id": "k", "type": "text"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));
    assert!(app.live.seen::<SendRequest>("Send").is_empty());

    let reply = app
        .post(
            "/api/v1/conversations/c-missing/messages",
            Some(&token),
            json!({"client_msg_id": "k", "type": "text", "body": {"text": "x"}}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "conversation_not_found")
    );
}

#[tokio::test]
async fn history_pages_are_seq_ascending_and_bad_numbers_are_400() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let base = "/api/v1/conversations/c1/messages";

    let newest = app.get(&format!("{base}?limit=2"), Some(&token)).await;
    assert_eq!(newest.status, 200, "{}", newest.body);
    assert_eq!(seqs(&newest.body["items"]), [MAX_SEQ - 1, MAX_SEQ]);
    assert_eq!(newest.body["has_more"], true);
    assert!(newest.body["next_cursor"].is_null());
    assert_eq!(
        newest.body["items"][0]["body"],
        json!({"text": "message 4"})
    );

    let forward = app
        .get(
            &format!("{base}?after_seq=2&before_seq=5&limit=10"),
            Some(&token),
        )
        .await;
    assert_eq!(seqs(&forward.body["items"]), [3, 4]);
    assert_eq!(forward.body["has_more"], false);
    let seen: Vec<HistoryRequest> = app.live.seen("History");
    let last = seen.last().unwrap();
    assert_eq!(
        (last.viewer_id.as_str(), last.conversation_id.as_str()),
        ("u1", "c1")
    );
    assert_eq!((last.after_seq, last.before_seq, last.limit), (2, 5, 10));

    for bad in [
        "after_seq=abc",
        "after_seq=-1",
        "before_seq=1.5",
        "after_seq=",
        "limit=0",
        "limit=201",
        "limit=99999999999",
    ] {
        let reply = app.get(&format!("{base}?{bad}"), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    assert_eq!(app.live.seen::<HistoryRequest>("History").len(), 2);

    let reply = app
        .get("/api/v1/conversations/c-missing/messages", Some(&token))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "conversation_not_found")
    );
}

#[tokio::test]
async fn the_read_cursor_moves_through_the_message_service() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .post(
            "/api/v1/conversations/c1/read",
            Some(&token),
            json!({"seq": 3}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"conversation_id": "c1", "read_seq": 3, "advanced": true})
    );
    let seen: Vec<MarkReadRequest> = app.live.seen("MarkRead");
    assert_eq!(
        (
            seen[0].user_id.as_str(),
            seen[0].conversation_id.as_str(),
            seen[0].seq
        ),
        ("u1", "c1", 3)
    );
    for bad in [json!({"seq": -1}), json!({"seq": "3"}), json!({})] {
        let reply = app
            .post("/api/v1/conversations/c1/read", Some(&token), bad.clone())
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    let reply = app
        .post(
            "/api/v1/conversations/c-missing/read",
            Some(&token),
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn messages_are_recalled_edited_and_deleted_for_oneself() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");

    let recalled = app
        .post("/api/v1/messages/m-3/recall", Some(&token), json!({}))
        .await;
    assert_eq!(recalled.status, 200, "{}", recalled.body);
    assert_eq!(recalled.body["id"], "m-3");
    assert_eq!(recalled.body["seq"], 3);
    assert_eq!(recalled.body["recalled"], true);
    assert!(recalled.body["body"].is_null());
    let seen: Vec<RecallRequest> = app.live.seen("Recall");
    assert_eq!(
        (seen[0].message_id.as_str(), seen[0].actor_id.as_str()),
        ("m-3", "u1")
    );

    let edited = app
        .patch(
            "/api/v1/messages/m-2",
            Some(&token),
            json!({"body": {"text": "fixed"}}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["body"], json!({"text": "fixed"}));
    assert_eq!(edited.body["edited_at"], "2023-11-14T22:13:21Z");
    let seen: Vec<EditRequest> = app.live.seen("Edit");
    assert_eq!(seen[0].editor_id, "u1");
    let reply = app
        .patch("/api/v1/messages/m-2", Some(&token), json!({"text": "x"}))
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_request"));

    let deleted = app.delete("/api/v1/messages/m-2", Some(&token)).await;
    assert_eq!(deleted.status, 204);
    let seen: Vec<DeleteForMeRequest> = app.live.seen("DeleteForMe");
    assert_eq!(
        (seen[0].message_id.as_str(), seen[0].user_id.as_str()),
        ("m-2", "u1")
    );

    // The service's refusals keep their codes.
    let reply = app
        .post("/api/v1/messages/m-missing/recall", Some(&token), json!({}))
        .await;
    assert_eq!((reply.status, reply.code()), (404, "message_not_found"));
    let reply = app
        .post("/api/v1/messages/m-late/recall", Some(&token), json!({}))
        .await;
    assert_eq!((reply.status, reply.code()), (422, "window_passed"));
    let reply = app.delete("/api/v1/messages/m-missing", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (404, "message_not_found"));
}

#[tokio::test]
async fn sync_pages_until_done_and_its_cursor_round_trips() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let mut path = "/api/v1/sync".to_owned();
    let mut got: Vec<(String, u64)> = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "sync never finished");
        let reply = app.get(&path, Some(&token)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        for conversation in reply.body["conversations"].as_array().unwrap() {
            assert_eq!(conversation["max_seq"], MAX_SEQ);
            assert!(conversation["read_seq"].is_u64());
            let id = conversation["conversation_id"].as_str().unwrap();
            for seq in seqs(&conversation["messages"]) {
                got.push((id.to_owned(), seq));
            }
        }
        let cursor = reply.body["next_cursor"].as_str().unwrap();
        assert!(!cursor.is_empty());
        path = format!("/api/v1/sync?cursor={cursor}&limit=50");
        if reply.body["done"] == true {
            break;
        }
    }
    // Everything of both conversations, each in seq order, none twice.
    for id in ["c1", "c2"] {
        let of: Vec<u64> = got
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, seq)| *seq)
            .collect();
        assert_eq!(of, (1..=MAX_SEQ).collect::<Vec<_>>(), "{id}");
    }

    let seen: Vec<SyncRequest> = app.live.seen("Sync");
    assert!(seen.iter().all(|r| r.user_id == "u1" && r.include_unlisted));
    assert!(seen[0].cursors.is_empty());
    assert_eq!(seen[0].limit, 0);
    // The second request carries exactly what the first answer handed out.
    let second: Vec<(&str, u64)> = seen[1]
        .cursors
        .iter()
        .map(|c| (c.conversation_id.as_str(), c.seq))
        .collect();
    assert_eq!(second, [("c1", 2), ("c2", 2)]);
    assert_eq!(seen[1].limit, 50);

    // The final cursor finds nothing new.
    let reply = app.get(&path, Some(&token)).await;
    assert_eq!(reply.body["conversations"], json!([]));
    assert_eq!(reply.body["done"], true);
}

#[tokio::test]
async fn sync_refuses_cursors_it_did_not_make() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    for bad in ["nope!", "e30", "W1siYzEiLC0xXV0"] {
        let reply = app
            .get(&format!("/api/v1/sync?cursor={bad}"), Some(&token))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_cursor"),
            "{bad}"
        );
    }
    for bad in ["limit=0", "limit=1001", "limit=x"] {
        let reply = app.get(&format!("/api/v1/sync?{bad}"), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    assert!(app.live.seen::<SyncRequest>("Sync").is_empty());
}

#[tokio::test]
async fn presence_answers_each_user_once_in_order() {
    let app = spawn_live_app().await;
    let token = app.token("u1", "s1");
    let reply = app
        .get("/api/v1/presence?user_ids=on-a,b,on-a", Some(&token))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"items": [
            {"user_id": "on-a", "online": true, "last_seen": "2023-11-14T22:13:20Z"},
            {"user_id": "b", "online": false, "last_seen": null},
        ]})
    );
    let reply = app.get("/api/v1/presence?user_ids=", Some(&token)).await;
    assert_eq!(reply.body, json!({"items": []}));

    let many: Vec<String> = (0..201).map(|i| format!("u{i}")).collect();
    let reply = app
        .get(
            &format!("/api/v1/presence?user_ids={}", many.join(",")),
            Some(&token),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "too_many_users"));
    let reply = app
        .get("/api/v1/presence?user_ids=a,,b", Some(&token))
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_id"));
}

#[tokio::test]
async fn without_message_or_presence_the_answer_is_503_with_retry_after() {
    let dead = dead_endpoint().await;
    let app = spawn_app_with(|config| {
        for service in ["message", "presence"] {
            config
                .registry
                .endpoints
                .insert(service.into(), vec![dead.clone()]);
        }
    })
    .await;
    let token = app.token("u1", "s1");
    let send = json!({"client_msg_id": "k", "type": "text", "body": {"text": "x"}});
    for reply in [
        app.post("/api/v1/conversations/c1/messages", Some(&token), send)
            .await,
        app.get("/api/v1/conversations/c1/messages", Some(&token))
            .await,
        app.post(
            "/api/v1/conversations/c1/read",
            Some(&token),
            json!({"seq": 1}),
        )
        .await,
        app.post("/api/v1/messages/m-1/recall", Some(&token), json!({}))
            .await,
        app.delete("/api/v1/messages/m-1", Some(&token)).await,
        app.get("/api/v1/sync", Some(&token)).await,
    ] {
        assert_eq!((reply.status, reply.code()), (503, "message_unavailable"));
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }
    let reply = app.get("/api/v1/presence?user_ids=u2", Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (503, "presence_unavailable"));
    assert!(reply.header("retry-after").is_some());
}
