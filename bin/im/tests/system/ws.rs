//! A WebSocket client of the public protocol (docs/PROTOCOL.md), as a real app uses it.

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Frames that arrived while waiting for something else, in arrival order.
    pub pushed: Vec<Value>,
    closed: bool,
}

impl Client {
    pub async fn connect(http_base: &str, token: &str) -> Self {
        let url = format!(
            "{}/api/v1/ws?access_token={token}",
            http_base.replacen("http", "ws", 1)
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket upgrade");
        Self {
            socket,
            next_id: 0,
            pushed: Vec::new(),
            closed: false,
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Frame::Text(text.into())).await.unwrap();
    }

    /// The next JSON frame, or `None` when the socket closed or nothing came in `limit`.
    pub async fn next_frame(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let Ok(next) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                return None; // nothing in time; the socket is still open
            };
            match next {
                Some(Ok(Frame::Text(text))) => return serde_json::from_str(&text).ok(),
                Some(Ok(Frame::Close(_)) | Err(_)) | None => {
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until the socket ends, within `limit`: the server's close code and reason,
    /// or `None` when it just ended (reset, or nothing in time).
    #[allow(dead_code)] // the cluster suite's client does not use it
    pub async fn close_frame(&mut self, limit: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next()).await;
            match next {
                Ok(Some(Ok(Frame::Close(close)))) => {
                    self.closed = true;
                    return close.map(|close| (u16::from(close.code), close.reason.to_string()));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => {
                    self.closed = true;
                    return None;
                }
            }
        }
    }

    /// Whether the server closed the socket (or the connection broke).
    #[allow(dead_code)] // the cluster suite's
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends a frame with a fresh id and returns the one reply carrying that id; every
    /// other frame that arrives meanwhile is kept in `pushed`.
    pub async fn request(&mut self, kind: &str, data: Value) -> Value {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        let frame = json!({"type": kind, "id": id, "data": data});
        self.send_raw(&frame.to_string()).await;
        loop {
            let frame = self
                .next_frame(Duration::from_secs(10))
                .await
                .expect("a reply within 10 s");
            if frame["id"] == id.as_str() {
                return frame;
            }
            self.pushed.push(frame);
        }
    }

    pub async fn send_text(
        &mut self,
        conversation_id: &str,
        client_msg_id: &str,
        text: &str,
    ) -> Value {
        self.request(
            "send",
            json!({"conversation_id": conversation_id, "client_msg_id": client_msg_id,
                   "type": "text", "body": {"text": text}}),
        )
        .await
    }

    /// Collects pushed `message` frames until `count` distinct user (non-system) messages
    /// of `conversation_id` are known (duplicates are allowed by the protocol and dropped
    /// here), or `limit`. Server-made system messages are kept but not counted.
    pub async fn collect_messages(
        &mut self,
        conversation_id: &str,
        count: usize,
        limit: Duration,
    ) -> BTreeMap<u64, Value> {
        let mut seen = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + limit;
        let mut frames: Vec<Value> = std::mem::take(&mut self.pushed);
        loop {
            for frame in frames.drain(..) {
                if frame["type"] == "message"
                    && frame["data"]["message"]["conversation_id"] == conversation_id
                {
                    let message = frame["data"]["message"].clone();
                    seen.insert(message["seq"].as_u64().unwrap(), message);
                }
            }
            if seen.values().filter(|m| m["type"] != "system").count() >= count {
                return seen;
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(remaining).await {
                Some(frame) => frames.push(frame),
                None => return seen,
            }
        }
    }

    /// `sync` from `seq` for one conversation: every message after it, through
    /// `sync.done`, keyed by seq. Panics if a seq arrives twice in one sync.
    pub async fn sync(&mut self, conversation_id: &str, seq: u64) -> BTreeMap<u64, Value> {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        let frame = json!({"type": "sync", "id": id,
                           "data": {"cursors": [{"conversation_id": conversation_id, "seq": seq}]}});
        self.send_raw(&frame.to_string()).await;
        let mut messages = BTreeMap::new();
        loop {
            let frame = self
                .next_frame(Duration::from_secs(10))
                .await
                .expect("sync frames");
            match frame["type"].as_str() {
                Some("sync") if frame["data"]["conversation_id"] == conversation_id => {
                    for message in frame["data"]["messages"].as_array().unwrap() {
                        let seq = message["seq"].as_u64().unwrap();
                        assert!(
                            messages.insert(seq, message.clone()).is_none(),
                            "seq {seq} twice in one sync"
                        );
                    }
                }
                Some("sync.done") if frame["id"] == id.as_str() => return messages,
                Some("error") if frame["id"] == id.as_str() => panic!("sync failed: {frame}"),
                _ => self.pushed.push(frame),
            }
        }
    }
}

/// Seqs `1..=n`, each exactly once: what every device must end with.
pub fn assert_gapless(messages: &BTreeMap<u64, Value>, n: u64, who: &str) {
    let seqs: Vec<u64> = messages.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "{who}: every seq once, in order, no gaps"
    );
}
