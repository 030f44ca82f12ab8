//! The messaging guarantees through real WebSocket clients (issue: messaging, delivery,
//! presence): nothing lost, nothing twice, nothing reordered, on every device.

use crate::api::{Api, token};
use crate::people::{friends_in_a_direct_chat, group, user};
use crate::process::ImProcess;
use crate::ws::{Client, assert_gapless};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

fn texts(messages: &BTreeMap<u64, Value>) -> Vec<String> {
    messages
        .values()
        .map(|m| m["body"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_direct_chat_arrives_once_in_order_and_survives_going_offline() {
    direct_chat(&[]).await;
}

/// The same on the production adapters: MariaDB for every database, Redis for kv.
#[tokio::test]
async fn a_direct_chat_on_mariadb_and_redis() {
    let (Some(server), Some(redis)) = (im_testkit::mysql_server(), im_testkit::redis()) else {
        return;
    };
    let prefix = im_testkit::unique_name("im_chat");
    let url = format!("{server}/{prefix}_{{service}}");
    direct_chat(&[("IM__DATABASE__URL", &url), ("IM__KV__URL", &redis)]).await;
    crate::mysql::drop_databases(&server, &prefix).await;
}

async fn direct_chat(envs: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |command| {
        command.envs(envs.iter().copied());
    });
    let api = Api::new(&im);
    let base = im.http_url("");
    let (alice, bob, conversation) = friends_in_a_direct_chat(&api).await;

    let mut a = Client::connect(&base, &alice.token).await;
    let mut b = Client::connect(&base, &bob.token).await;
    assert_eq!(a.request("ping", json!({})).await["type"], "pong");

    // both talk at once
    let sender_a = async {
        for i in 0..20 {
            let ack = a
                .send_text(&conversation, &format!("a-{i}"), &format!("from alice {i}"))
                .await;
            assert_eq!(ack["type"], "send.ack", "{ack}");
        }
        a
    };
    let sender_b = async {
        for i in 0..20 {
            let ack = b
                .send_text(&conversation, &format!("b-{i}"), &format!("from bob {i}"))
                .await;
            assert_eq!(ack["type"], "send.ack", "{ack}");
        }
        b
    };
    let (mut a, mut b) = tokio::join!(sender_a, sender_b);
    let seen_a = a.collect_messages(&conversation, 40, PATIENCE).await;
    let seen_b = b.collect_messages(&conversation, 40, PATIENCE).await;
    assert_gapless(&seen_a, 40, "alice");
    assert_gapless(&seen_b, 40, "bob");
    assert_eq!(texts(&seen_a), texts(&seen_b), "one history for both");
    // each sender's own messages keep their order
    let own: Vec<String> = texts(&seen_a)
        .into_iter()
        .filter(|t| t.starts_with("from alice"))
        .collect();
    assert_eq!(
        own,
        (0..20)
            .map(|i| format!("from alice {i}"))
            .collect::<Vec<_>>()
    );

    // a retry after a lost ack is the same message, not a second one
    let first = a.send_text(&conversation, "retry-1", "only once").await;
    let again = a.send_text(&conversation, "retry-1", "only once").await;
    assert_eq!(
        first["data"]["message"]["seq"],
        again["data"]["message"]["seq"]
    );
    assert_eq!(first["data"]["message"]["seq"], 41);

    // bob goes offline; alice writes; bob comes back on another device and syncs
    drop(b);
    for i in 0..5 {
        a.send_text(
            &conversation,
            &format!("offline-{i}"),
            &format!("while you were away {i}"),
        )
        .await;
    }
    let tablet = api.login("bob", "tablet").await;
    let mut b2 = Client::connect(&base, token(&tablet)).await;
    let missed = b2.sync(&conversation, 40).await;
    assert_eq!(
        missed.keys().copied().collect::<Vec<_>>(),
        (41..=46).collect::<Vec<_>>()
    );
    let everything = b2.sync(&conversation, 0).await;
    assert_gapless(&everything, 46, "bob's new device");
    let history = api
        .get(
            &format!("/api/v1/conversations/{conversation}/messages?after_seq=0&limit=100"),
            &alice.token,
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
}

#[tokio::test]
async fn a_busy_group_gives_every_member_the_same_history() {
    const MEMBERS: usize = 50;
    const PER_SENDER: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let base = im.http_url("");
    let mut users = Vec::new();
    for i in 0..MEMBERS {
        users.push(user(&api, &format!("member{i:02}"), "d").await);
    }
    let members: Vec<_> = users[1..].iter().collect();
    let conversation = group(&api, &users[0], &members, "busy").await;

    // each client connects and syncs, as apps do: from then on every message is pushed
    let mut clients = Vec::new();
    for u in &users {
        let mut client = Client::connect(&base, &u.token).await;
        client.sync(&conversation, 0).await;
        clients.push(client);
    }
    // every member sends at once, and keeps reading meanwhile (a client that stops
    // reading is a slow consumer, which the gateway cuts off by design)
    let runs = clients.into_iter().enumerate().map(|(i, mut client)| {
        let conversation = conversation.clone();
        async move {
            for n in 0..PER_SENDER {
                let ack = client
                    .send_text(&conversation, &format!("{i}-{n}"), &format!("{i}:{n}"))
                    .await;
                assert_eq!(ack["type"], "send.ack", "{ack}");
            }
            // pushes are at-least-once; what was not pushed comes by sync
            let mut seen = client
                .collect_messages(&conversation, MEMBERS * PER_SENDER, PATIENCE)
                .await;
            let pushed = seen.values().filter(|m| m["type"] == "text").count();
            assert_eq!(
                pushed,
                MEMBERS * PER_SENDER,
                "client {i}: every message pushed live"
            );
            seen.extend(client.sync(&conversation, 0).await);
            seen
        }
    });
    let mut histories = Vec::new();
    for seen in futures::future::join_all(runs).await {
        // the group's own system messages (created, …) are interleaved by seq
        let total = *seen.keys().last().unwrap();
        assert_gapless(&seen, total, "a member");
        let chat = seen.values().filter(|m| m["type"] == "text").count();
        assert_eq!(chat, MEMBERS * PER_SENDER, "every member's every message");
        histories.push(texts(&seen));
    }
    assert!(
        histories.windows(2).all(|pair| pair[0] == pair[1]),
        "every member has the same history"
    );
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_survives() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let eve = user(&api, "eve", "d").await;
    let mut client = Client::connect(&im.http_url(""), &eve.token).await;

    client.send_raw("{not json").await;
    let error = client.next_frame(Duration::from_secs(5)).await.unwrap();
    assert_eq!(error["type"], "error", "{error}");
    let unknown = client.request("teleport", json!({})).await;
    assert_eq!(unknown["type"], "error");
    let stranger = client
        .send_text("no-such-conversation", "x-1", "hello?")
        .await;
    assert_eq!(stranger["type"], "error", "{stranger}");
    assert_eq!(
        client.request("ping", json!({})).await["type"],
        "pong",
        "still connected"
    );
}

/// Waits for a pushed frame of `kind` matching `pred`, keeping the others.
async fn expect_frame(client: &mut Client, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
    if let Some(index) = client
        .pushed
        .iter()
        .position(|f| f["type"] == kind && pred(f))
    {
        return client.pushed.remove(index);
    }
    loop {
        let frame = client
            .next_frame(PATIENCE)
            .await
            .unwrap_or_else(|| panic!("no {kind} frame"));
        if frame["type"] == kind && pred(&frame) {
            return frame;
        }
        client.pushed.push(frame);
    }
}

#[tokio::test]
async fn receipts_unread_recall_edit_and_delete_for_me_reach_every_device() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let base = im.http_url("");
    let (alice, bob, conversation) = friends_in_a_direct_chat(&api).await;
    let bob_tablet = api.login("bob", "tablet").await;

    let mut a = Client::connect(&base, &alice.token).await;
    let mut b_phone = Client::connect(&base, &bob.token).await;
    let mut b_tablet = Client::connect(&base, token(&bob_tablet)).await;

    // three messages over REST (idempotent too), seen live on both of bob's devices
    let mut ids = Vec::new();
    for i in 1..=3 {
        let body = json!({"client_msg_id": format!("m{i}"), "type": "text", "body": {"text": format!("hello {i}")}});
        let path = format!("/api/v1/conversations/{conversation}/messages");
        let sent = api.post(&path, Some(&alice.token), body.clone()).await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        let retry = api.post(&path, Some(&alice.token), body).await;
        assert!(retry.status < 300);
        assert_eq!(
            retry.body["id"], sent.body["id"],
            "a retry is the same message"
        );
        ids.push(sent.body["id"].as_str().unwrap().to_owned());
    }
    for device in [&mut b_phone, &mut b_tablet] {
        assert_gapless(
            &device.collect_messages(&conversation, 3, PATIENCE).await,
            3,
            "bob's device",
        );
    }
    let unread = |list: &crate::api::Reply| list.body["items"][0]["unread"].as_u64().unwrap();
    assert_eq!(
        unread(&api.get("/api/v1/conversations", &bob.token).await),
        3
    );
    assert_eq!(
        unread(&api.get("/api/v1/conversations", &alice.token).await),
        0,
        "own messages are read"
    );

    // bob reads on his phone: alice and bob's tablet get the receipt, unread drops
    let read = b_phone
        .request("read", json!({"conversation_id": conversation, "seq": 2}))
        .await;
    assert_eq!(read["type"], "read.ack", "{read}");
    for device in [&mut a, &mut b_tablet] {
        let receipt =
            expect_frame(device, "read", |f| f["data"]["user_id"] == bob.id.as_str()).await;
        assert_eq!(receipt["data"]["seq"], 2);
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while unread(&api.get("/api/v1/conversations", &bob.token).await) != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unread never became 1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lower = b_tablet
        .request("read", json!({"conversation_id": conversation, "seq": 1}))
        .await;
    assert_eq!(
        lower["type"], "read.ack",
        "a lower read is a no-op, not an error: {lower}"
    );

    // edit and recall keep the seq and reach everyone
    let edited = api
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/messages/{}", ids[0]),
            Some(&alice.token),
            Some(json!({"body": {"text": "hello 1 (edited)"}})),
            &[],
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["seq"], 1);
    let recalled = api
        .post(
            &format!("/api/v1/messages/{}/recall", ids[1]),
            Some(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(recalled.status, 200, "{}", recalled.body);
    assert_eq!(recalled.body["recalled"], true);
    for device in [&mut b_phone, &mut b_tablet] {
        let e = expect_frame(device, "message.edited", |_| true).await;
        assert_eq!(e["data"]["message"]["body"]["text"], "hello 1 (edited)");
        let r = expect_frame(device, "message.recalled", |_| true).await;
        assert_eq!(r["data"]["message"]["seq"], 2);
    }
    let not_yours = api
        .post(
            &format!("/api/v1/messages/{}/recall", ids[2]),
            Some(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(not_yours.status, 403, "{}", not_yours.body);

    // delete-for-me hides a message from one user only
    let hidden = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/messages/{}", ids[2]),
            Some(&bob.token),
            None,
            &[],
        )
        .await;
    assert_eq!(hidden.status, 204, "{}", hidden.body);
    let path = format!("/api/v1/conversations/{conversation}/messages?after_seq=0");
    let seqs = |reply: crate::api::Reply| -> Vec<u64> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    };
    let alices = seqs(api.get(&path, &alice.token).await);
    let bobs = seqs(api.get(&path, &bob.token).await);
    assert_eq!(alices, [1, 2, 3]);
    assert_eq!(bobs, [1, 2]);
}

#[tokio::test]
async fn presence_typing_and_revocation_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let base = im.http_url("");
    let (alice, bob, conversation) = friends_in_a_direct_chat(&api).await;

    let mut a = Client::connect(&base, &alice.token).await;
    let subscribed = a
        .request("presence.subscribe", json!({"user_ids": [bob.id]}))
        .await;
    assert_eq!(subscribed["type"], "presence.subscribe.ack", "{subscribed}");
    let offline = expect_frame(&mut a, "presence", |f| {
        f["data"]["user_id"] == bob.id.as_str()
    })
    .await;
    assert_eq!(offline["data"]["online"], false);

    // bob connects: alice is told, and the REST view agrees
    let mut b = Client::connect(&base, &bob.token).await;
    let online = expect_frame(&mut a, "presence", |f| f["data"]["online"] == true).await;
    assert_eq!(online["data"]["user_id"], bob.id.as_str());
    let status = api
        .get(
            &format!("/api/v1/presence?user_ids={}", bob.id),
            &alice.token,
        )
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["items"][0]["online"], true);

    // typing reaches the other side only
    let typing = b
        .request("typing", json!({"conversation_id": conversation}))
        .await;
    assert_eq!(typing["type"], "typing.ack", "{typing}");
    let seen = expect_frame(&mut a, "typing", |_| true).await;
    assert_eq!(seen["data"]["user_id"], bob.id.as_str());

    // logging out closes bob's socket within a second, with a reason
    let logout = api
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&bob.token),
            None,
            &[],
        )
        .await;
    assert_eq!(logout.status, 204);
    let started = std::time::Instant::now();
    let mut revoked = false;
    while let Some(frame) = b.next_frame(Duration::from_secs(2)).await {
        revoked |= frame["type"] == "session.revoked";
    }
    assert!(revoked, "a session.revoked frame before the close");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed within about a second"
    );
    let offline = expect_frame(&mut a, "presence", |f| f["data"]["online"] == false).await;
    assert_eq!(offline["data"]["user_id"], bob.id.as_str());
}

/// A client that drops its socket and reconnects at once with the same session (a
/// network switch): the new socket gets every push live. Presence must hear the old
/// socket's disconnect before the new one's connect, or it believes the device is
/// offline until the next heartbeat.
#[tokio::test]
async fn a_session_that_reconnects_at_once_keeps_getting_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let base = im.http_url("");
    let (alice, bob, conversation) = friends_in_a_direct_chat(&api).await;
    for round in 1..=10_u64 {
        let mut old = Client::connect(&base, &alice.token).await;
        old.sync(&conversation, 0).await;
        drop(old);
        let mut new = Client::connect(&base, &alice.token).await;
        new.sync(&conversation, 0).await;
        let sent = api
            .post(
                &format!("/api/v1/conversations/{conversation}/messages"),
                Some(&bob.token),
                json!({"client_msg_id": format!("r{round}"), "type": "text",
                       "body": {"text": format!("round {round}")}}),
            )
            .await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        // Well under the 10 s heartbeat that would repair a wrong offline mark.
        let pushed = new
            .collect_messages(&conversation, 1, Duration::from_secs(4))
            .await;
        assert!(
            pushed.contains_key(&round),
            "round {round}: the reconnected socket got the message live: {pushed:?}"
        );
    }
}
