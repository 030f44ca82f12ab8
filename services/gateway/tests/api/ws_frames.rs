//! Client frames: one reply per id, errors that keep the socket, the size and rate
//! limits, and what `send`, `ack`, `read`, `typing` and `sync` do.

use crate::fake_live::MAX_SEQ;
use crate::ws_client::{PATIENCE, spawn_live_app};
use im_contracts::v1::{
    DeliverEphemeralRequest, MarkReadRequest, MessageType, SendRequest, SyncRequest,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn ids(frames: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for frame in frames {
        if let Some(id) = frame.get("id") {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn every_frame_with_an_id_gets_exactly_one_reply() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    let frames = [
        json!({"type": "ping", "id": "1"}),
        json!({"type": "ack", "id": 2, "data": {"conversation_id": "c1", "seq": 1}}),
        json!({"type": "send", "id": "3", "data": {
            "conversation_id": "c1", "client_msg_id": "k1", "type": "text", "body": {"text": "hi"}}}),
        json!({"type": "nope", "id": "4"}),
        json!({"type": "read", "id": "5", "data": {"conversation_id": "c-missing", "seq": 1}}),
        json!({"type": "typing", "id": "6", "data": {"conversation_id": "c1"}}),
        json!({"type": "ack", "data": {"conversation_id": "c1", "seq": 2}}),
        json!({"type": "ping"}),
    ];
    for frame in frames {
        client.send_json(frame).await;
    }
    let replies = client.barrier().await;
    let counts = ids(&replies);
    for id in [r#""1""#, "2", r#""3""#, r#""4""#, r#""5""#, r#""6""#] {
        assert_eq!(counts.get(id), Some(&1), "{id} in {replies:#?}");
    }
    let kinds: Vec<&str> = replies
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "pong",
            "ack.ack",
            "send.ack",
            "error",
            "error",
            "typing.ack",
            "pong"
        ],
        "replies in order; the id-less ack is not acked, the id-less ping still ponged"
    );
    assert!(replies[6].get("id").is_none());
    assert_eq!(replies[3]["data"]["code"], "unknown_type");
    assert_eq!(replies[4]["data"]["code"], "conversation_not_found");
}

#[tokio::test]
async fn malformed_and_unknown_frames_are_errors_and_the_socket_stays() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    client.send_text("{not json").await;
    let error = client.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["data"]["code"], "invalid_frame");
    assert!(error.get("id").is_none());

    client.send_json(json!({"id": "no-type"})).await;
    let error = client.recv().await;
    assert_eq!(
        (&error["id"], &error["data"]["code"]),
        (&json!("no-type"), &json!("invalid_frame"))
    );

    client.send_binary(vec![1, 2, 3]).await;
    assert_eq!(client.recv().await["data"]["code"], "invalid_frame");

    let error = client.request("message", "m", json!({})).await;
    assert_eq!(error["data"]["code"], "unknown_type");

    let error = client
        .request("send", "s", json!({"conversation_id": "c1"}))
        .await;
    assert_eq!(error["data"]["code"], "invalid_request");

    client.barrier().await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_socket_closed_with_1009() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    let text = "x".repeat(70 * 1024);
    client
        .send_json(json!({"type": "send", "id": "big", "data": {"body": {"text": text}}}))
        .await;
    let (code, frames) = client.close_code(PATIENCE).await;
    assert_eq!(code, 1009);
    assert_eq!(frames.last().unwrap()["data"]["code"], "frame_too_large");
}

#[tokio::test]
async fn frames_beyond_the_rate_are_refused_each_still_answered_once() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    for n in 0..60 {
        client.send_json(json!({"type": "ping", "id": n})).await;
    }
    let mut replies = Vec::new();
    while replies.len() < 60 {
        replies.push(client.recv().await);
    }
    let counts = ids(&replies);
    assert!(
        (0..60).all(|n| counts.get(&n.to_string()) == Some(&1)),
        "{counts:?}"
    );
    let limited: Vec<&Value> = replies.iter().filter(|f| f["type"] == "error").collect();
    assert!(!limited.is_empty(), "a burst of 60 exceeds 40");
    assert!(limited.iter().all(|f| f["data"]["code"] == "rate_limited"));
    assert_eq!(limited[0]["data"]["retry_after"], 1);

    // The socket survives and the rate comes back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.barrier().await;
}

#[tokio::test]
async fn send_is_acked_with_the_stored_message_and_refusals_pass_through() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    let send = json!({
        "conversation_id": "c1",
        "client_msg_id": "k1",
        "type": "text",
        "body": {"text": "hello"},
        "mentions": ["u2"],
    });
    let ack = client.request("send", "s1", send.clone()).await;
    assert_eq!(ack["type"], "send.ack", "{ack}");
    let message = &ack["data"]["message"];
    assert_eq!(message["conversation_id"], "c1");
    assert_eq!(message["seq"], 1);
    assert_eq!(message["sender_id"], "u1");
    assert_eq!(message["type"], "text");
    assert_eq!(message["body"], json!({"text": "hello"}));
    assert_eq!(message["mentions"], json!(["u2"]));
    assert_eq!(ack["data"]["duplicate"], false);

    let retry = client.request("send", "s2", send).await;
    assert_eq!(retry["data"]["message"]["id"], message["id"]);
    assert_eq!(retry["data"]["duplicate"], true);

    let seen: Vec<SendRequest> = app.live.seen("Send");
    assert_eq!(
        seen[0].sender_id, "u1",
        "the sender is the caller, not the frame"
    );
    assert_eq!(seen[0].r#type(), MessageType::Text);
    assert_eq!(
        serde_json::from_str::<Value>(&seen[0].body_json).unwrap(),
        json!({"text": "hello"})
    );

    let refused = client
        .request(
            "send",
            "s3",
            json!({"conversation_id": "c-missing", "client_msg_id": "k2", "type": "text", "body": {"text": "x"}}),
        )
        .await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["data"]["code"], "conversation_not_found");

    let refused = client
        .request(
            "send",
            "s4",
            json!({"conversation_id": "c1", "client_msg_id": "k3", "type": "gif", "body": {}}),
        )
        .await;
    assert_eq!(refused["data"]["code"], "invalid_type");
    assert_eq!(app.live.seen::<SendRequest>("Send").len(), 3);
}

#[tokio::test]
async fn delivered_cursors_only_move_forward_and_read_marks_the_read_cursor() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    let ack = client
        .request("ack", "a1", json!({"conversation_id": "c1", "seq": 3}))
        .await;
    assert_eq!(ack["data"], json!({"conversation_id": "c1", "seq": 3}));
    let ack = client
        .request("ack", "a2", json!({"conversation_id": "c1", "seq": 2}))
        .await;
    assert_eq!(ack["data"]["seq"], 3);

    let read = client
        .request("read", "r1", json!({"conversation_id": "c1", "seq": 4}))
        .await;
    assert_eq!(read["type"], "read.ack");
    assert_eq!(
        read["data"],
        json!({"conversation_id": "c1", "read_seq": 4, "advanced": true})
    );
    let seen: Vec<MarkReadRequest> = app.live.seen("MarkRead");
    assert_eq!((seen[0].user_id.as_str(), seen[0].seq), ("u1", 4));
}

#[tokio::test]
async fn typing_goes_through_delivery_to_the_other_members() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    let ack = client
        .request("typing", "t1", json!({"conversation_id": "c1"}))
        .await;
    assert_eq!(ack["type"], "typing.ack");
    let seen: Vec<DeliverEphemeralRequest> = app.live.seen("DeliverEphemeral");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].conversation_id, "c1");
    assert_eq!(seen[0].sender_id, "u1");
    assert_eq!(seen[0].exclude_session_id, "s1");
    assert_eq!(seen[0].event_type, "typing");
    assert_eq!(
        serde_json::from_str::<Value>(&seen[0].payload_json).unwrap(),
        json!({"conversation_id": "c1", "user_id": "u1"})
    );

    let refused = client
        .request("typing", "t2", json!({"conversation_id": "c-missing"}))
        .await;
    assert_eq!(refused["data"]["code"], "conversation_not_found");
}

#[tokio::test]
async fn sync_returns_what_was_missed_in_seq_order_then_the_cursors() {
    let app = spawn_live_app().await;
    let mut client = app.ws("u1", "s1").await;
    client
        .send_json(json!({"type": "sync", "id": "y", "data": {"cursors": [
            {"conversation_id": "c1", "seq": 0},
            {"conversation_id": "c2", "seq": 3},
        ]}}))
        .await;
    let mut frames = client.until_reply("y").await;
    let done = frames.pop().unwrap();
    assert_eq!(done["type"], "sync.done", "{done}");
    assert_eq!(done["data"]["done"], true);
    assert_eq!(
        done["data"]["cursors"],
        json!([{"conversation_id": "c1", "seq": MAX_SEQ}, {"conversation_id": "c2", "seq": MAX_SEQ}])
    );
    let mut seqs: HashMap<String, Vec<u64>> = HashMap::new();
    for frame in &frames {
        assert_eq!(frame["type"], "sync");
        assert!(frame.get("id").is_none());
        let conversation = frame["data"]["conversation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        for message in frame["data"]["messages"].as_array().unwrap() {
            assert_eq!(message["conversation_id"], conversation.as_str());
            seqs.entry(conversation.clone())
                .or_default()
                .push(message["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(seqs["c1"], [1, 2, 3, 4, 5]);
    assert_eq!(seqs["c2"], [4, 5]);
    let pages: Vec<SyncRequest> = app.live.seen("Sync");
    assert!(pages.len() > 1, "paged");
    assert!(pages.iter().all(|page| page.user_id == "u1"));
}
