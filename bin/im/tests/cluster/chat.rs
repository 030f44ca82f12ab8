//! Chat as the scenarios drive it: senders over REST (an acked message is one the server
//! answered 201 for), readers over WebSocket, and the checks every scenario ends with:
//! every acked message on every reader, once, in order (a repeated push of a seq already
//! seen is allowed and dropped, as the protocol says).

use crate::api::Api;
use crate::people::User;
use crate::ws::Client;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a sender got acknowledged: client message id → seq.
#[derive(Default, Debug)]
pub struct Acked(pub BTreeMap<String, u64>);

impl Acked {
    pub fn seqs(&self) -> Vec<u64> {
        let mut seqs: Vec<u64> = self.0.values().copied().collect();
        seqs.sort_unstable();
        seqs
    }
}

/// Sends one text message over REST: its seq when acked, else what came back.
pub async fn send(
    api: &Api,
    who: &User,
    conversation: &str,
    client_msg_id: &str,
) -> Result<u64, String> {
    let reply = api
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            Some(&who.token),
            json!({"client_msg_id": client_msg_id, "type": "text",
                   "body": {"text": client_msg_id}}),
        )
        .await;
    // 201 stored now; 200 stored by an earlier attempt with this client message id
    // (whose answer was lost): both are the acknowledgement.
    if matches!(reply.status, 200 | 201) {
        Ok(reply.body["seq"].as_u64().unwrap())
    } else {
        Err(format!("{} {}", reply.status, reply.body))
    }
}

/// Sends `count` messages, `pause` apart, each retried (same client message id, so
/// stored at most once) until acked or `patience` runs out for it. Each attempt tries
/// `apis` in order: an app that fails over to another gateway when its own is gone.
pub async fn send_many(
    apis: &[&Api],
    who: &User,
    conversation: &str,
    prefix: &str,
    count: usize,
    pause: Duration,
    patience: Duration,
) -> Acked {
    let mut acked = Acked::default();
    for n in 0..count {
        let id = format!("{prefix}-{n}");
        let deadline = tokio::time::Instant::now() + patience;
        'attempts: loop {
            let mut failure = String::new();
            for api in apis {
                match send(api, who, conversation, &id).await {
                    Ok(seq) => {
                        acked.0.insert(id, seq);
                        break 'attempts;
                    }
                    Err(answer) => failure = answer,
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} was never acked within {patience:?}; last answer: {failure}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(pause).await;
    }
    acked
}

/// [`send_many`] through one gateway.
pub async fn send_via(
    api: &Api,
    who: &User,
    conversation: &str,
    prefix: &str,
    count: usize,
    pause: Duration,
    patience: Duration,
) -> Acked {
    send_many(&[api], who, conversation, prefix, count, pause, patience).await
}

/// A reader's view of one conversation: first arrival order of pushed seqs.
#[derive(Default, Debug)]
pub struct Received {
    pub pushed_order: Vec<u64>,
    pub messages: BTreeMap<u64, Value>,
    pub duplicates: usize,
}

impl Received {
    fn take(&mut self, frame: &Value, conversation: &str) {
        if frame["type"] != "message" || frame["data"]["message"]["conversation_id"] != conversation
        {
            return;
        }
        let message = &frame["data"]["message"];
        let seq = message["seq"].as_u64().unwrap();
        if self.messages.insert(seq, message.clone()).is_some() {
            self.duplicates += 1;
        } else {
            self.pushed_order.push(seq);
        }
    }

    pub fn has_all(&self, seqs: &[u64]) -> bool {
        seqs.iter().all(|seq| self.messages.contains_key(seq))
    }

    /// Fails with the missing seqs unless every one of `seqs` was received.
    pub fn assert_has_all(&self, seqs: &[u64], what: &str) {
        let missing: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|seq| !self.messages.contains_key(seq))
            .collect();
        assert!(
            missing.is_empty(),
            "{what}: missing seqs {missing:?} (received {} distinct, {} repeats)",
            self.messages.len(),
            self.duplicates
        );
    }

    /// Pushed live and in order: after dropping repeats, each new seq is the next one.
    pub fn assert_live_in_order(&self, who: &str) {
        for pair in self.pushed_order.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "{who}: pushes out of order or with a gap: {:?}",
                self.pushed_order
            );
        }
    }

    /// Every seq from 1 to the highest, once (the map makes "once" structural).
    pub fn assert_gapless(&self, who: &str) {
        let last = self.messages.keys().last().copied().unwrap_or(0);
        let seqs: Vec<u64> = self.messages.keys().copied().collect();
        assert_eq!(
            seqs,
            (1..=last).collect::<Vec<_>>(),
            "{who}: every seq once, no gaps"
        );
    }
}

/// A reader that keeps its socket read while senders run, so it is never cut off as a
/// slow consumer; returns what it received when `want` arrives.
pub async fn reader(
    mut client: Client,
    conversation: String,
    want: tokio::sync::watch::Receiver<Option<Vec<u64>>>,
    limit: Duration,
) -> (Client, Received) {
    let mut received = Received::default();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let target = want.borrow().clone();
        if let Some(target) = &target
            && received.has_all(target)
        {
            return (client, received);
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return (client, received);
        }
        let slice = remaining.min(Duration::from_millis(200));
        for frame in std::mem::take(&mut client.pushed) {
            received.take(&frame, &conversation);
        }
        if let Some(frame) = client.next_frame(slice).await {
            received.take(&frame, &conversation);
        } else if client.is_closed() {
            return (client, received);
        }
    }
}

/// Fills in what a reader missed with `sync` from 0 (as an app does after reconnecting).
pub async fn sync_all(client: &mut Client, conversation: &str, received: &mut Received) {
    for (seq, message) in client.sync(conversation, 0).await {
        received.messages.entry(seq).or_insert(message);
    }
}
