//! A WebSocket client for the tests, and a gateway whose message, presence and delivery
//! services are the fakes of `fake_live`.

use crate::fake_identity::RunningFake;
use crate::fake_live::{self, LiveState};
use crate::{TestApp, spawn_app_with};
use futures::{SinkExt as _, StreamExt as _};
use im_contracts::v1::push_client::PushClient;
use im_runtime::Config;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A gateway with the live fakes behind it.
pub struct LiveApp {
    pub app: TestApp,
    pub live: Arc<LiveState>,
    _fake: RunningFake,
}

impl std::ops::Deref for LiveApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn spawn_live_app() -> LiveApp {
    spawn_live_app_with(|_| {}).await
}

pub async fn spawn_live_app_with(configure: impl FnOnce(&mut Config)) -> LiveApp {
    let live = Arc::new(LiveState::default());
    let fake = fake_live::start(live.clone()).await;
    let endpoint = fake.endpoint();
    let app = spawn_app_with(|config| {
        for service in ["message", "presence", "delivery"] {
            config
                .registry
                .endpoints
                .insert(service.into(), vec![endpoint.clone()]);
        }
        configure(config);
    })
    .await;
    LiveApp {
        app,
        live,
        _fake: fake,
    }
}

impl TestApp {
    pub fn ws_url(&self, query: &str) -> String {
        let base = self.base.replacen("http://", "ws://", 1);
        format!("{base}/api/v1/ws{query}")
    }

    /// A socket authenticated by the `Authorization` header.
    pub async fn ws(&self, user: &str, session: &str) -> WsClient {
        WsClient::connect(&self.ws_url(""), Some(&self.token(user, session)))
            .await
            .unwrap()
    }

    /// A client of this node's Push service.
    pub async fn push_client(&self) -> PushClient<tonic::transport::Channel> {
        PushClient::connect(self.push.clone()).await.unwrap()
    }
}

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct WsClient {
    stream: Stream,
}

/// How an upgrade was refused: the HTTP status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Refused {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl WsClient {
    /// Connects to `url`, with `bearer` as the `Authorization` header when given.
    pub async fn connect(url: &str, bearer: Option<&str>) -> Result<Self, Refused> {
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = bearer {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(Error::Http(response)) => Err(Refused {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_deref()
                    .and_then(|body| serde_json::from_slice(body).ok())
                    .unwrap_or(Value::Null),
            }),
            Err(other) => panic!("cannot connect: {other}"),
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.stream
            .send(Message::Text(text.into().into()))
            .await
            .unwrap();
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// The next message of any kind (server pings included), if one comes in time.
    async fn next_message(&mut self, within: Duration) -> Option<Result<Message, Error>> {
        tokio::time::timeout(within, self.stream.next())
            .await
            .ok()
            .flatten()
    }

    /// The next text frame, as JSON; panics on a close, an error or silence.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next_message(PATIENCE).await {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// The next text frame within `within`, if any.
    pub async fn try_recv(&mut self, within: Duration) -> Option<Value> {
        match self.next_message(within).await {
            Some(Ok(Message::Text(text))) => Some(serde_json::from_str(&text).unwrap()),
            _ => None,
        }
    }

    /// Frames up to and including the one answering `id`.
    pub async fn until_reply(&mut self, id: &str) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.recv().await;
            let done = frame["id"] == id;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// Sends a frame with `id` and returns the reply to it (frames before it dropped).
    pub async fn request(&mut self, kind: &str, id: &str, data: Value) -> Value {
        self.send_json(json!({"type": kind, "id": id, "data": data}))
            .await;
        self.until_reply(id).await.pop().unwrap()
    }

    /// A ping answered: everything the server sent before is read (and returned).
    pub async fn barrier(&mut self) -> Vec<Value> {
        self.send_json(json!({"type": "ping", "id": "barrier"}))
            .await;
        let mut frames = self.until_reply("barrier").await;
        let pong = frames.pop().unwrap();
        assert_eq!(pong["type"], "pong");
        frames
    }

    /// Reads until the server closes; the close frame (None when the socket just ended)
    /// and the text frames before it.
    pub async fn closed(&mut self, within: Duration) -> (Option<CloseFrame>, Vec<Value>) {
        let deadline = tokio::time::Instant::now() + within;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => panic!("not closed within {within:?}; got {frames:?}"),
                Ok(Some(Ok(Message::Text(text)))) => {
                    frames.push(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(Message::Close(close)))) => return (close, frames),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return (None, frames),
            }
        }
    }

    /// The close code, asserting the connection was closed within `within`.
    pub async fn close_code(&mut self, within: Duration) -> (u16, Vec<Value>) {
        let (close, frames) = self.closed(within).await;
        let close = close.unwrap_or_else(|| panic!("no close frame; got {frames:?}"));
        (u16::from(close.code), frames)
    }
}
