//! The gateway's public HTTP edge against a fake identity and a fake conversation
//! service, through real HTTP on loopback: what a client sees (status, error code,
//! headers). The WebSocket side (`ws_*`) runs real WebSocket clients against fakes of
//! the message, presence and delivery services, and calls the gateway's Push service
//! over gRPC.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod admin;
mod auth_edge;
mod authz;
mod authz_rules;
mod contacts;
mod conversations;
mod denylist;
mod errors;
mod fake_access;
mod fake_conversation;
mod fake_identity;
mod fake_live;
mod members;
mod messages;
mod openapi;
mod rate_limits;
mod routes;
mod ws_auth;
mod ws_client;
mod ws_frames;
mod ws_presence;
mod ws_push;
mod ws_shutdown;

use fake_conversation::ConversationState;
use fake_identity::{FakeState, RunningFake};
use im_contracts::topics::IDENTITY_EVENTS;
use im_contracts::v1::IdentityEvent;
use im_runtime::bus::{Bus, Record};
use im_runtime::health::Health;
use im_runtime::registry::Instance;
use im_runtime::{Config, Infra, ServiceContext, ServiceName, Shutdown};
use im_token::{Claims, SigningKey};
use prost::Message as _;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// A gateway serving on a loopback port, and the fake services behind it.
pub struct TestApp {
    pub base: String,
    pub identity: Arc<FakeState>,
    pub fake: Option<RunningFake>,
    /// What the fake conversation service saw (when one runs).
    pub conversation: Arc<ConversationState>,
    pub conversation_fake: Option<RunningFake>,
    /// Where the fake identity is (whether or not it answers).
    pub endpoint: String,
    pub infra: Infra,
    pub bus: Arc<dyn Bus>,
    pub gateway: im_gateway::PublicHttp,
    pub router: axum::Router,
    /// This gateway node's id.
    pub node_id: String,
    /// Where the node's Push gRPC service listens (registered as `<node_id>/gateway`).
    pub push: String,
    http: reqwest::Client,
    shutdown: Shutdown,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A gateway with default configuration and running fake identity and conversation.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A gateway whose configuration `configure` adjusted, with running fake identity and
/// conversation services.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let identity = FakeState::new();
    let fake = fake_identity::start(identity.clone()).await;
    let endpoint = fake.endpoint();
    let conversation = ConversationState::new();
    let conversation_fake = fake_conversation::start(conversation.clone()).await;
    let conversation_endpoint = conversation_fake.endpoint();
    let mut app = spawn_gateway(identity, &endpoint, |config| {
        config
            .registry
            .endpoints
            .insert("conversation".into(), vec![conversation_endpoint]);
        configure(config);
    })
    .await;
    app.fake = Some(fake);
    app.conversation = conversation;
    app.conversation_fake = Some(conversation_fake);
    app.wait_for_access_rules().await;
    app
}

/// A gateway told identity is at `endpoint`, whether or not anything answers there.
pub async fn spawn_gateway(
    identity: Arc<FakeState>,
    endpoint: &str,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::default();
    config
        .registry
        .endpoints
        .insert("identity".into(), vec![endpoint.to_owned()]);
    configure(&mut config);
    let infra = Infra::connect(&config).await.unwrap();
    spawn_gateway_on(identity, endpoint, config, infra).await
}

/// A gateway with this configuration on these adapters (another gateway's, to run
/// several nodes side by side). The fake identity announces access changes on the bus
/// of the first gateway that names it.
pub async fn spawn_gateway_on(
    identity: Arc<FakeState>,
    endpoint: &str,
    config: Config,
    infra: Infra,
) -> TestApp {
    let bus = infra.bus.clone();
    identity
        .bus
        .lock()
        .unwrap()
        .get_or_insert_with(|| bus.clone());
    let node_id = config.node_id.clone();
    let ctx = ServiceContext::new(Arc::new(config), infra.clone());
    let gateway = im_gateway::build(&ctx).await.unwrap();
    let router = gateway.http.router(Health::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    tokio::spawn(
        gateway
            .http
            .serve(listener, Health::default(), shutdown.clone()),
    );
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let push = format!("http://{}", grpc.local_addr().unwrap());
    tokio::spawn(im_runtime::grpc::serve(
        gateway.service,
        grpc,
        shutdown.clone(),
    ));
    // As `im serve` registers it: how presence heartbeats name this node's Push address.
    infra
        .registry
        .register(Instance {
            service: ServiceName::Gateway,
            id: format!("{node_id}/gateway"),
            endpoint: push.clone(),
        })
        .await
        .unwrap();
    TestApp {
        base,
        identity,
        fake: None,
        conversation: ConversationState::new(),
        conversation_fake: None,
        endpoint: endpoint.to_owned(),
        infra,
        bus,
        gateway: gateway.http,
        router,
        node_id,
        push,
        http: reqwest::Client::new(),
        shutdown,
    }
}

/// Claims of a valid access token for `user` in `session`.
pub fn claims(user: &str, session: &str, roles: &[&str]) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: "im".into(),
        aud: "im".into(),
        sub: user.into(),
        sid: session.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        iat: now,
        exp: now + 900,
        jti: uuid_like(),
    }
}

fn uuid_like() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestApp {
    /// Stops the gateway, as SIGTERM stops `im serve`.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }

    pub fn key(&self) -> SigningKey {
        self.identity.signing_key()
    }

    /// Waits (bounded) until the gateway has loaded the access rules.
    pub async fn wait_for_access_rules(&self) {
        assert!(
            self.gateway
                .await_authorization(Duration::from_secs(5))
                .await,
            "the access rules were not loaded"
        );
    }

    /// Another gateway node (its own `node_id`) beside this one: same bus, kv and
    /// registry, same identity.
    pub async fn spawn_peer(&self, node_id: &str) -> TestApp {
        let mut config = Config::default();
        config
            .registry
            .endpoints
            .insert("identity".into(), vec![self.endpoint.clone()]);
        config.node_id = node_id.to_owned();
        let peer = spawn_gateway_on(
            self.identity.clone(),
            &self.endpoint,
            config,
            self.infra.clone(),
        )
        .await;
        peer.wait_for_access_rules().await;
        peer
    }

    /// A valid access token of an ordinary user.
    pub fn token(&self, user: &str, session: &str) -> String {
        self.key().sign(&claims(user, session, &["user"]))
    }

    pub fn admin_token(&self) -> String {
        self.key()
            .sign(&claims("u-admin", "s-admin", &["user", "admin"]))
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None, &[]).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::PUT, path, token, None, &[]).await
    }

    /// A body sent as is, with the given content type (or none).
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        reply(request.send().await.unwrap()).await
    }

    /// Publishes an identity event on the bus, as identity would.
    pub async fn publish(&self, event: IdentityEvent) {
        self.bus
            .publish(IDENTITY_EVENTS, Record::new("k", event.encode_to_vec()))
            .await
            .unwrap();
    }

    /// Polls `GET path` until it answers `status`; the last reply either way.
    pub async fn eventually(
        &self,
        path: &str,
        token: &str,
        status: u16,
        within: Duration,
    ) -> Reply {
        self.eventually_with(Method::GET, path, token, status, within)
            .await
    }

    /// Polls `method path` (no body) until it answers `status`; the last reply either way.
    pub async fn eventually_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        status: u16,
        within: Duration,
    ) -> Reply {
        let deadline = Instant::now() + within;
        loop {
            let reply = self
                .send(method.clone(), path, Some(token), None, &[])
                .await;
            if reply.status == status || Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A loopback address where nothing listens.
pub async fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
