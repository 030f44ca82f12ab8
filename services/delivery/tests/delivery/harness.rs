//! Starts delivery on the in-memory bus with a static registry that lists the fakes:
//! the conversation service, presence, and gateway nodes registered as
//! `{node_id}/gateway`. Hands out the fakes' state, the bus to publish events on, a
//! client of `im.v1.Delivery`, and helpers.

use crate::fakes::{self, ConversationState, PresenceState, PushState, Received, Served};
use im_contracts::topics::{CONVERSATION_EVENTS, MESSAGE_EVENTS};
use im_contracts::v1 as pb;
use im_contracts::v1::delivery_client::DeliveryClient;
pub use im_delivery::Settings;
use im_runtime::bus::Record;
use im_runtime::registry::Instance;
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, ServiceName, Shutdown};
use prost::Message as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The longest a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(8);
/// How long a test watches for something that should not happen.
pub const QUIET: Duration = Duration::from_millis(400);
/// How long a gateway node's open circuit refuses pushes before a probe.
pub const BREAKER_OPEN: Duration = Duration::from_millis(200);

/// Quick retries and a short give-up, so failures show fast.
pub fn settings() -> Settings {
    Settings {
        lookup_timeout: Duration::from_secs(1),
        push_timeout: Duration::from_secs(1),
        push_give_up_after: Duration::from_millis(1500),
        retry_backoff: Duration::from_millis(20),
        max_retry_backoff: Duration::from_millis(100),
        suspect_for: Duration::from_secs(2),
        ..Settings::default()
    }
}

pub struct Node {
    pub state: Arc<PushState>,
    instance: Instance,
    _served: Served,
}

struct Running {
    shutdown: Shutdown,
    served: JoinHandle<anyhow::Result<()>>,
    client: DeliveryClient<Channel>,
}

pub struct TestApp {
    pub ctx: ServiceContext,
    pub conversation: Arc<ConversationState>,
    pub presence: Arc<PresenceState>,
    nodes: BTreeMap<String, Node>,
    settings: Settings,
    running: Option<Running>,
    _fakes: Vec<Served>,
}

async fn register(
    ctx: &ServiceContext,
    service: ServiceName,
    id: &str,
    endpoint: &str,
) -> Instance {
    let instance = Instance {
        service,
        id: id.to_owned(),
        endpoint: endpoint.to_owned(),
    };
    ctx.infra.registry.register(instance.clone()).await.unwrap();
    instance
}

impl TestApp {
    /// Fakes up and registered, gateway nodes named `nodes`; delivery not started yet.
    pub async fn new(nodes: &[&str], settings: Settings) -> Self {
        let mut config = Config::default();
        config.object_store.url = Some(SecretUrl::new("memory://"));
        config.resilience.breaker.open_for = BREAKER_OPEN;
        let infra = Infra::connect(&config).await.unwrap();
        let ctx = ServiceContext::new(Arc::new(config), infra);

        let conversation = Arc::new(ConversationState::default());
        let conversation_server = fakes::conversation(conversation.clone()).await;
        register(
            &ctx,
            ServiceName::Conversation,
            "test/conversation",
            &conversation_server.endpoint,
        )
        .await;
        let presence = Arc::new(PresenceState::default());
        let presence_server = fakes::presence(presence.clone()).await;
        register(
            &ctx,
            ServiceName::Presence,
            "test/presence",
            &presence_server.endpoint,
        )
        .await;

        let mut app = Self {
            ctx,
            conversation,
            presence,
            nodes: BTreeMap::new(),
            settings,
            running: None,
            _fakes: vec![conversation_server, presence_server],
        };
        for node in nodes {
            app.add_node(node, &format!("{node}/gateway")).await;
        }
        app
    }

    /// [`TestApp::new`] with the test settings, started.
    pub async fn spawn(nodes: &[&str]) -> Self {
        let mut app = Self::new(nodes, settings()).await;
        app.start().await;
        app
    }

    /// A gateway node registered under `instance_id`, which presence knows at its address.
    pub async fn add_node(&mut self, node: &str, instance_id: &str) -> Arc<PushState> {
        let state = Arc::new(PushState::default());
        let served = fakes::gateway(state.clone()).await;
        let instance = register(
            &self.ctx,
            ServiceName::Gateway,
            instance_id,
            &served.endpoint,
        )
        .await;
        self.presence.node(node, &served.endpoint);
        self.nodes.insert(
            node.to_owned(),
            Node {
                state: state.clone(),
                instance,
                _served: served,
            },
        );
        state
    }

    /// Starts delivery (again, after [`TestApp::stop`]) on the same bus and fakes.
    pub async fn start(&mut self) {
        let service = im_delivery::build_with_settings(&self.ctx, self.settings.clone())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let served = tokio::spawn(im_runtime::grpc::serve(service, listener, shutdown.clone()));
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        self.running = Some(Running {
            shutdown,
            served,
            client: DeliveryClient::new(channel),
        });
    }

    /// Stops delivery: its server drains and its consumers stop.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("delivery is running");
        drop(running.client);
        running.shutdown.trigger();
        running.served.await.unwrap().unwrap();
        // The consumers notice the cancellation on their next poll.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    pub fn client(&self) -> DeliveryClient<Channel> {
        self.running
            .as_ref()
            .expect("delivery is running")
            .client
            .clone()
    }

    pub fn node(&self, node: &str) -> &Arc<PushState> {
        &self.nodes[node].state
    }

    /// Takes a gateway node out of the registry.
    pub async fn deregister(&self, node: &str) {
        self.ctx
            .infra
            .registry
            .deregister(&self.nodes[node].instance)
            .await
            .unwrap();
    }

    pub async fn publish_message(&self, conversation: &str, kind: pb::message_event::Kind) {
        let event = pb::MessageEvent {
            id: format!("me-{}", rand_suffix()),
            occurred_at_ms: 1_700_000_000_000,
            kind: Some(kind),
        };
        self.ctx
            .infra
            .bus
            .publish(
                MESSAGE_EVENTS,
                Record::new(conversation, event.encode_to_vec()),
            )
            .await
            .unwrap();
    }

    /// Publishes a stored text message `seq` of `conversation` by `sender`.
    pub async fn send(&self, conversation: &str, seq: u64, sender: &str) {
        let stored = message(conversation, seq, sender);
        self.publish_message(conversation, pb::message_event::Kind::Stored(stored))
            .await;
    }

    pub async fn publish_conversation(
        &self,
        key: &str,
        actor: &str,
        kind: pb::conversation_event::Kind,
    ) {
        let event = pb::ConversationEvent {
            id: format!("ce-{}", rand_suffix()),
            occurred_at_ms: 1_700_000_000_000,
            actor_id: actor.into(),
            membership_version: 1,
            kind: Some(kind),
        };
        self.ctx
            .infra
            .bus
            .publish(CONVERSATION_EVENTS, Record::new(key, event.encode_to_vec()))
            .await
            .unwrap();
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst).to_string()
}

/// Text message `seq` of `conversation` by `sender`, saying `"message {seq}"`.
pub fn message(conversation: &str, seq: u64, sender: &str) -> pb::Message {
    pb::Message {
        id: format!("{conversation}-m{seq}"),
        conversation_id: conversation.into(),
        seq,
        sender_id: sender.into(),
        client_msg_id: format!("k{seq}"),
        r#type: pb::MessageType::Text.into(),
        body_json: format!(r#"{{"text":"message {seq}"}}"#),
        reply_to: String::new(),
        mentions: Vec::new(),
        mention_all: false,
        created_at_ms: 1_700_000_000_000,
        edited_at_ms: 0,
        recalled: false,
    }
}

/// Waits until `node` has received at least `n` frames; returns them all.
pub async fn frames(node: &PushState, n: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let received = node.received();
        if received.len() >= n {
            return received;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} frames, got {received:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The seqs of the `message` frames among `received`, in order.
pub fn seqs(received: &[Received]) -> Vec<u64> {
    received
        .iter()
        .filter(|frame| frame.frame_type == "message")
        .map(|frame| frame.data["message"]["seq"].as_u64().unwrap())
        .collect()
}

/// Sorted, for comparing sets.
pub fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// Asserts a refusal with a gRPC code and IM error code.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    error_code: &str,
) {
    let status = result.expect_err("the call should have been refused");
    assert_eq!(
        (status.code(), im_runtime::errors::error_code(&status)),
        (code, Some(error_code)),
        "{status:?}"
    );
}
