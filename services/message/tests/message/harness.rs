//! Starts the message service on a fresh database (an SQLite file, or a MariaDB database
//! with a unique name dropped afterwards), serves it on a loopback port and hands out a
//! client, the bus it publishes on, a clock the test moves, and the membership it asks:
//! a fake the test controls, or the real conversation service started beside it.

use async_trait::async_trait;
use im_contracts::topics::MESSAGE_EVENTS;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_contracts::v1::message_service_client::MessageServiceClient;
use im_message::{
    Adapters, Clock, ConversationId, ConversationKind, Membership, MembershipError, RelaySettings,
    Role, SendCheck, Settings, UserId,
};
use im_runtime::bus::{Bus, Record, Subscription};
use im_runtime::config::ServiceConfig;
use im_runtime::registry::Instance;
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, ServiceName, Shutdown};
use prost::Message as _;
use sea_orm::ConnectionTrait as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

pub use im_testkit::SqlBackend as Backend;
use im_testkit::SwitchableBus;

/// How a scenario wants the service set up.
#[derive(Debug, Clone)]
pub struct Options {
    pub settings: Settings,
    /// Ask the real conversation service (on its own database, same backend and bus)
    /// instead of the fake membership.
    pub real_conversation: bool,
}

fn fast_relay() -> RelaySettings {
    RelaySettings {
        poll_interval: Duration::from_millis(100),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RelaySettings::default()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            settings: Settings {
                outbox: fast_relay(),
                ..Settings::default()
            },
            real_conversation: false,
        }
    }
}

impl Options {
    pub fn real_conversation() -> Self {
        Self {
            real_conversation: true,
            ..Self::default()
        }
    }
}

/// The system clock moved forward by what the test says.
#[derive(Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap();
        self.offset_ms.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// Membership as the test sets it: who is in which conversation, with which role,
/// mute and block; and a switch that makes the conversation service unreachable.
#[derive(Default)]
pub struct FakeMembership {
    members: Mutex<HashMap<(String, String), SendCheck>>,
    down: AtomicBool,
}

impl FakeMembership {
    fn members(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), SendCheck>> {
        self.members.lock().unwrap()
    }

    /// A group with `users` as plain members.
    pub fn group(&self, conversation: &str, users: &[&str]) {
        for user in users {
            self.set(
                conversation,
                user,
                SendCheck {
                    is_member: true,
                    kind: Some(ConversationKind::Group),
                    ..SendCheck::default()
                },
            );
        }
    }

    /// A direct conversation of `a` and `b`.
    pub fn direct(&self, conversation: &str, a: &str, b: &str) {
        for user in [a, b] {
            self.set(
                conversation,
                user,
                SendCheck {
                    is_member: true,
                    kind: Some(ConversationKind::Direct),
                    ..SendCheck::default()
                },
            );
        }
    }

    pub fn set(&self, conversation: &str, user: &str, check: SendCheck) {
        self.members()
            .insert((conversation.to_owned(), user.to_owned()), check);
    }

    pub fn update(&self, conversation: &str, user: &str, change: impl FnOnce(&mut SendCheck)) {
        let mut members = self.members();
        let check = members
            .get_mut(&(conversation.to_owned(), user.to_owned()))
            .expect("a member");
        change(check);
    }

    pub fn set_role(&self, conversation: &str, user: &str, role: Role) {
        self.update(conversation, user, |check| check.role = role);
    }

    pub fn leave(&self, conversation: &str, user: &str) {
        self.members()
            .remove(&(conversation.to_owned(), user.to_owned()));
    }

    /// Makes the conversation service unreachable (true) or reachable again (false).
    pub fn down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn reachable(&self) -> Result<(), MembershipError> {
        if self.down.load(Ordering::SeqCst) {
            Err(MembershipError::Unavailable(
                "switched off by the test".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Membership for FakeMembership {
    async fn check_send(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Result<SendCheck, MembershipError> {
        self.reachable()?;
        Ok(self
            .members()
            .get(&(conversation.as_str().to_owned(), user.as_str().to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn conversations_of(
        &self,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<ConversationId>, MembershipError> {
        self.reachable()?;
        let mut ids: Vec<ConversationId> = self
            .members()
            .iter()
            .filter(|((_, member), check)| member == user.as_str() && check.is_member)
            .map(|((conversation, _), _)| ConversationId::parse(conversation).unwrap())
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }
}

/// A running message service and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub client: MessageServiceClient<Channel>,
    pub bus: Arc<SwitchableBus>,
    pub members: Arc<FakeMembership>,
    pub clock: Arc<TestClock>,
    /// The real conversation service, when the scenario asked for it.
    pub conversation: Option<ConversationServiceClient<Channel>>,
}

struct Running {
    app: TestApp,
    shutdown: Shutdown,
    databases: im_testkit::TestDatabases,
}

/// Runs `scenario` against a fresh service on `backend`, then drops the databases even
/// when the scenario failed. Outside CI, a missing MariaDB skips the MySQL run; under
/// `CI=true` it fails.
pub async fn run<F, Fut>(backend: Backend, options: Options, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(running) = start(backend, options).await else {
        return;
    };
    let cleanup = async move {
        running.shutdown.trigger();
        running.databases.drop_all(execute).await;
    };
    im_testkit::run_then_clean_up(scenario(running.app.clone()), cleanup).await;
}

/// Runs one statement of testkit's cleanup with our driver (testkit has none).
async fn execute(url: String, statement: String) {
    let db = sea_orm::Database::connect(url).await.unwrap();
    db.execute_unprepared(&statement).await.unwrap();
    db.close().await.unwrap();
}

async fn serve(service: im_runtime::Service, shutdown: &Shutdown) -> (String, Channel) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(im_runtime::grpc::serve(service, listener, shutdown.clone()));
    let channel = Endpoint::from_shared(endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    (endpoint, channel)
}

async fn start(backend: Backend, options: Options) -> Option<Running> {
    let mut databases = im_testkit::TestDatabases::new(backend)?;
    let mut config = Config {
        data_dir: databases.dir().to_owned(),
        ..Config::default()
    };
    let mut services = vec!["message"];
    if options.real_conversation {
        services.push("conversation");
    }
    for service in services {
        let url = databases.url(service);
        config.services.insert(
            service.to_owned(),
            ServiceConfig {
                grpc_addr: None,
                database_url: Some(SecretUrl::new(url)),
            },
        );
    }
    let mut infra = Infra::connect(&config).await.unwrap();
    let bus = Arc::new(SwitchableBus::default());
    infra.bus = bus.clone();
    let ctx = ServiceContext::new(Arc::new(config), infra);
    let shutdown = Shutdown::new();

    let members = Arc::new(FakeMembership::default());
    let clock = Arc::new(TestClock::default());
    let mut adapters = Adapters {
        membership: Some(members.clone()),
        clock: Some(clock.clone()),
    };
    let mut conversation = None;
    if options.real_conversation {
        let settings = im_conversation::Settings {
            outbox: fast_relay(),
            ..im_conversation::Settings::default()
        };
        let service = im_conversation::build_with_settings(&ctx, settings)
            .await
            .unwrap();
        let (endpoint, channel) = serve(service, &shutdown).await;
        ctx.infra
            .registry
            .register(Instance {
                service: ServiceName::Conversation,
                id: "test-conversation".into(),
                endpoint,
            })
            .await
            .unwrap();
        adapters.membership = None;
        conversation = Some(ConversationServiceClient::new(channel));
    }
    let service = im_message::build_with(&ctx, options.settings.clone(), adapters)
        .await
        .unwrap();
    let (_, channel) = serve(service, &shutdown).await;
    Some(Running {
        app: TestApp {
            client: MessageServiceClient::new(channel),
            bus,
            members,
            clock,
            conversation,
        },
        shutdown,
        databases,
    })
}

/// Generates `sqlite` and `mysql` tests for each scenario function named, optionally
/// with `options = <expr>;` (evaluated inside the scenario's module: use `super::…`).
macro_rules! on_every_backend {
    (options = $options:expr; $($scenario:ident),+ $(,)?) => {
        im_testkit::on_every_backend!(
            run = crate::harness::run;
            args = ($options);
            backends = [sqlite => im_testkit::SqlBackend::Sqlite, mysql => im_testkit::SqlBackend::MySql];
            $($scenario),+
        );
    };
    ($($scenario:ident),+ $(,)?) => {
        crate::harness::on_every_backend!(
            options = crate::harness::Options::default();
            $($scenario),+
        );
    };
}
pub(crate) use on_every_backend;

/// Asserts a refusal with a gRPC code and IM error code; returns the status.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    error_code: &str,
) -> Status {
    let status = result.expect_err("the call should have been refused");
    assert_eq!(
        (status.code(), im_runtime::errors::error_code(&status)),
        (code, Some(error_code)),
        "{status:?}"
    );
    status
}

pub fn text_body(text: &str) -> String {
    serde_json::json!({ "text": text }).to_string()
}

/// The text of a text message.
pub fn text_of(message: &pb::Message) -> String {
    let body: serde_json::Value = serde_json::from_str(&message.body_json).unwrap();
    body["text"].as_str().unwrap().to_owned()
}

pub fn seqs(messages: &[pb::Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

pub type Reply<T> = Result<tonic::Response<T>, Status>;

impl TestApp {
    pub fn c(&self) -> MessageServiceClient<Channel> {
        self.client.clone()
    }

    pub fn conversation(&self) -> ConversationServiceClient<Channel> {
        self.conversation
            .clone()
            .expect("the scenario runs the real conversation service")
    }

    pub async fn try_send(
        &self,
        conversation: &str,
        sender: &str,
        client_msg_id: &str,
        kind: pb::MessageType,
        body_json: &str,
    ) -> Reply<pb::SendResponse> {
        self.c()
            .send(pb::SendRequest {
                conversation_id: conversation.into(),
                sender_id: sender.into(),
                client_msg_id: client_msg_id.into(),
                r#type: kind.into(),
                body_json: body_json.into(),
                ..pb::SendRequest::default()
            })
            .await
    }

    pub async fn try_text(
        &self,
        conversation: &str,
        sender: &str,
        client_msg_id: &str,
        text: &str,
    ) -> Reply<pb::SendResponse> {
        self.try_send(
            conversation,
            sender,
            client_msg_id,
            pb::MessageType::Text,
            &text_body(text),
        )
        .await
    }

    /// Sends a text message that must be stored; returns it.
    pub async fn text(
        &self,
        conversation: &str,
        sender: &str,
        client_msg_id: &str,
        text: &str,
    ) -> pb::Message {
        self.try_text(conversation, sender, client_msg_id, text)
            .await
            .unwrap()
            .into_inner()
            .message
            .unwrap()
    }

    pub async fn try_history(
        &self,
        conversation: &str,
        viewer: &str,
        after_seq: u64,
        before_seq: u64,
        limit: u32,
        direction: pb::HistoryDirection,
    ) -> Reply<pb::HistoryResponse> {
        self.c()
            .history(pb::HistoryRequest {
                conversation_id: conversation.into(),
                viewer_id: viewer.into(),
                after_seq,
                before_seq,
                limit,
                direction: direction.into(),
            })
            .await
    }

    /// A page of history read oldest first after `after_seq`.
    pub async fn forward(
        &self,
        conversation: &str,
        viewer: &str,
        after_seq: u64,
        limit: u32,
    ) -> pb::HistoryResponse {
        self.try_history(
            conversation,
            viewer,
            after_seq,
            0,
            limit,
            pb::HistoryDirection::Forward,
        )
        .await
        .unwrap()
        .into_inner()
    }

    /// The whole history as `viewer` sees it, read forward in pages.
    pub async fn all_history(&self, conversation: &str, viewer: &str) -> Vec<pb::Message> {
        let mut messages: Vec<pb::Message> = Vec::new();
        loop {
            let after = messages.last().map_or(0, |m| m.seq);
            let page = self.forward(conversation, viewer, after, 200).await;
            messages.extend(page.messages);
            if !page.has_more {
                return messages;
            }
        }
    }

    pub async fn mark_read(
        &self,
        conversation: &str,
        user: &str,
        seq: u64,
    ) -> Reply<pb::MarkReadResponse> {
        self.c()
            .mark_read(pb::MarkReadRequest {
                conversation_id: conversation.into(),
                user_id: user.into(),
                seq,
            })
            .await
    }

    pub async fn read_states(&self, user: &str, conversations: &[&str]) -> Vec<pb::ReadState> {
        self.c()
            .get_read_state(pb::GetReadStateRequest {
                user_id: user.into(),
                conversation_ids: conversations.iter().map(|c| (*c).to_owned()).collect(),
            })
            .await
            .unwrap()
            .into_inner()
            .states
    }

    pub async fn read_state(&self, user: &str, conversation: &str) -> pb::ReadState {
        let mut states = self.read_states(user, &[conversation]).await;
        assert_eq!(states.len(), 1, "{user} should be in {conversation}");
        states.remove(0)
    }

    pub async fn recall(&self, message_id: &str, actor: &str) -> Reply<pb::RecallResponse> {
        self.c()
            .recall(pb::RecallRequest {
                message_id: message_id.into(),
                actor_id: actor.into(),
            })
            .await
    }

    pub async fn edit(
        &self,
        message_id: &str,
        editor: &str,
        text: &str,
    ) -> Reply<pb::EditResponse> {
        self.c()
            .edit(pb::EditRequest {
                message_id: message_id.into(),
                editor_id: editor.into(),
                body_json: text_body(text),
            })
            .await
    }

    pub async fn delete_for_me(
        &self,
        message_id: &str,
        user: &str,
    ) -> Reply<pb::DeleteForMeResponse> {
        self.c()
            .delete_for_me(pb::DeleteForMeRequest {
                message_id: message_id.into(),
                user_id: user.into(),
            })
            .await
    }

    pub async fn sync(
        &self,
        user: &str,
        cursors: &[(String, u64)],
        limit: u32,
        include_unlisted: bool,
    ) -> pb::SyncResponse {
        self.c()
            .sync(pb::SyncRequest {
                user_id: user.into(),
                cursors: cursors
                    .iter()
                    .map(|(conversation_id, seq)| pb::SyncCursor {
                        conversation_id: conversation_id.clone(),
                        seq: *seq,
                    })
                    .collect(),
                limit,
                include_unlisted,
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Makes publishing fail (true) or work again (false).
    pub fn bus_down(&self, down: bool) {
        self.bus.set_down(down);
    }

    /// Publishes a conversation event as the conversation service would.
    pub async fn publish_conversation_event(&self, key: &str, event: &pb::ConversationEvent) {
        self.bus
            .publish(
                im_contracts::topics::CONVERSATION_EVENTS,
                Record::new(key, event.encode_to_vec()),
            )
            .await
            .unwrap();
    }
}

/// Message events from the bus, as delivery would read them.
pub struct Events(Box<dyn Subscription>);

impl Events {
    /// A fresh consumer group: it reads from the oldest retained event.
    pub async fn subscribe(app: &TestApp) -> Self {
        let group = im_testkit::unique_name("test_delivery");
        Self(app.bus.subscribe(MESSAGE_EVENTS, &group).await.unwrap())
    }

    /// The next event with the key it was published under.
    pub async fn next(&mut self) -> (String, pb::message_event::Kind) {
        let delivery = tokio::time::timeout(Duration::from_secs(10), self.0.next())
            .await
            .expect("a message event within 10 s")
            .unwrap();
        self.0.commit(&delivery).await.unwrap();
        let event =
            pb::MessageEvent::decode(delivery.record.payload).expect("a protobuf MessageEvent");
        assert!(!event.id.is_empty() && event.occurred_at_ms > 0);
        (delivery.record.key, event.kind.expect("an event kind"))
    }

    /// Asserts nothing else was published within a short while.
    pub async fn assert_quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(300), self.0.next()).await;
        assert!(next.is_err(), "unexpected event: {next:?}");
    }
}

/// Polls `check` until it holds, for up to 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
