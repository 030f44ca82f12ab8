//! Starts the conversation service on a fresh database (an SQLite file, or a MariaDB
//! database with a unique name dropped afterwards), serves it on a loopback port and
//! hands out a client, the bus it publishes on, and helpers.

use im_contracts::topics::{CONVERSATION_EVENTS, MESSAGE_EVENTS};
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_conversation::{RelaySettings, Settings};
use im_runtime::bus::{Bus, Record, Subscription};
use im_runtime::config::ServiceConfig;
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, Shutdown};
use prost::Message as _;
use sea_orm::ConnectionTrait as _;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

pub use im_testkit::SqlBackend as Backend;
use im_testkit::SwitchableBus;

/// How a scenario wants the service set up.
#[derive(Debug, Clone)]
pub struct Options {
    pub settings: Settings,
}

impl Default for Options {
    fn default() -> Self {
        let defaults = Settings::default();
        let settings = Settings {
            watch_poll_interval: Duration::from_millis(200),
            outbox: RelaySettings {
                poll_interval: Duration::from_millis(100),
                first_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..defaults.outbox.clone()
            },
            ..defaults
        };
        Self { settings }
    }
}

impl Options {
    pub fn with(change: impl FnOnce(&mut Settings)) -> Self {
        let mut options = Self::default();
        change(&mut options.settings);
        options
    }
}

/// A running conversation service and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub client: ConversationServiceClient<Channel>,
    pub bus: Arc<SwitchableBus>,
}

struct Running {
    app: TestApp,
    shutdown: Shutdown,
    databases: im_testkit::TestDatabases,
}

/// Runs `scenario` against a fresh service on `backend`, then drops the database even
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

async fn start(backend: Backend, options: Options) -> Option<Running> {
    let mut databases = im_testkit::TestDatabases::new(backend)?;
    let mut config = Config {
        data_dir: databases.dir().to_owned(),
        ..Config::default()
    };
    let url = databases.url("conversation");
    config.services.insert(
        "conversation".to_owned(),
        ServiceConfig {
            grpc_addr: None,
            database_url: Some(SecretUrl::new(url)),
        },
    );
    let mut infra = Infra::connect(&config).await.unwrap();
    let bus = Arc::new(SwitchableBus::default());
    infra.bus = bus.clone();
    let ctx = ServiceContext::new(Arc::new(config), infra);
    let service = im_conversation::build_with_settings(&ctx, options.settings.clone())
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(im_runtime::grpc::serve(service, listener, shutdown.clone()));
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Some(Running {
        app: TestApp {
            client: ConversationServiceClient::new(channel),
            bus,
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

pub fn page(limit: u32, cursor: &str) -> Option<pb::Page> {
    Some(pb::Page {
        limit,
        cursor: cursor.into(),
    })
}

impl TestApp {
    pub fn c(&self) -> ConversationServiceClient<Channel> {
        self.client.clone()
    }

    pub async fn send_request(
        &self,
        from: &str,
        to: &str,
        message: &str,
    ) -> Result<tonic::Response<pb::SendFriendRequestResponse>, Status> {
        self.c()
            .send_friend_request(pb::SendFriendRequestRequest {
                from_user_id: from.into(),
                to_user_id: to.into(),
                message: message.into(),
            })
            .await
    }

    /// Makes `a` and `b` contacts (a asks, b accepts).
    pub async fn befriend(&self, a: &str, b: &str) {
        let request = self
            .send_request(a, b, "hi")
            .await
            .unwrap()
            .into_inner()
            .friend_request
            .unwrap();
        self.c()
            .accept_friend_request(pb::AcceptFriendRequestRequest {
                request_id: request.id,
                user_id: b.into(),
            })
            .await
            .unwrap();
    }

    pub async fn pending(&self, user: &str, incoming: bool) -> Vec<pb::FriendRequest> {
        let direction = if incoming {
            pb::FriendRequestDirection::Incoming
        } else {
            pb::FriendRequestDirection::Outgoing
        };
        self.c()
            .list_friend_requests(pb::ListFriendRequestsRequest {
                user_id: user.into(),
                direction: direction.into(),
                page: page(100, ""),
            })
            .await
            .unwrap()
            .into_inner()
            .friend_requests
    }

    pub async fn contacts(&self, user: &str) -> Vec<pb::Contact> {
        self.c()
            .list_contacts(pb::ListContactsRequest {
                user_id: user.into(),
                page: page(100, ""),
            })
            .await
            .unwrap()
            .into_inner()
            .contacts
    }

    pub async fn contact_ids(&self, user: &str) -> Vec<String> {
        self.contacts(user)
            .await
            .into_iter()
            .map(|c| c.user_id)
            .collect()
    }

    pub async fn block(&self, user: &str, blocked: &str) {
        self.c()
            .block(pb::BlockRequest {
                user_id: user.into(),
                blocked_user_id: blocked.into(),
            })
            .await
            .unwrap();
    }

    pub async fn try_direct(
        &self,
        user: &str,
        peer: &str,
    ) -> Result<tonic::Response<pb::GetOrCreateDirectResponse>, Status> {
        self.c()
            .get_or_create_direct(pb::GetOrCreateDirectRequest {
                user_id: user.into(),
                peer_id: peer.into(),
            })
            .await
    }

    pub async fn direct(&self, user: &str, peer: &str) -> pb::Conversation {
        self.try_direct(user, peer)
            .await
            .unwrap()
            .into_inner()
            .conversation
            .unwrap()
    }

    pub async fn try_group(
        &self,
        owner: &str,
        name: &str,
        members: &[&str],
        settings: Option<pb::GroupSettings>,
    ) -> Result<tonic::Response<pb::CreateGroupResponse>, Status> {
        self.c()
            .create_group(pb::CreateGroupRequest {
                owner_id: owner.into(),
                name: name.into(),
                member_ids: members.iter().map(|m| (*m).to_owned()).collect(),
                avatar_file_id: String::new(),
                announcement: String::new(),
                settings,
            })
            .await
    }

    /// A group owned by `owner` with `members`; returns its id.
    pub async fn group(&self, owner: &str, members: &[&str]) -> String {
        self.try_group(owner, "Team", members, None)
            .await
            .unwrap()
            .into_inner()
            .conversation
            .unwrap()
            .id
    }

    /// A group with the given join and invite policies.
    pub async fn group_with(
        &self,
        owner: &str,
        members: &[&str],
        join: pb::JoinPolicy,
        invite: pb::InvitePolicy,
    ) -> String {
        let settings = pb::GroupSettings {
            invite_policy: invite.into(),
            join_policy: join.into(),
            mute_all: false,
        };
        self.try_group(owner, "Team", members, Some(settings))
            .await
            .unwrap()
            .into_inner()
            .conversation
            .unwrap()
            .id
    }

    pub async fn get(
        &self,
        conversation: &str,
        viewer: &str,
    ) -> Result<tonic::Response<pb::GetConversationResponse>, Status> {
        self.c()
            .get_conversation(pb::GetConversationRequest {
                conversation_id: conversation.into(),
                viewer_id: viewer.into(),
            })
            .await
    }

    pub async fn check(&self, conversation: &str, user: &str) -> pb::CheckSendResponse {
        self.c()
            .check_send(pb::CheckSendRequest {
                conversation_id: conversation.into(),
                user_id: user.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Every member's id, through all pages, as an internal caller sees them.
    pub async fn member_ids(&self, conversation: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let reply = self
                .c()
                .list_members(pb::ListMembersRequest {
                    conversation_id: conversation.into(),
                    viewer_id: String::new(),
                    page: page(100, &cursor),
                })
                .await
                .unwrap()
                .into_inner();
            ids.extend(reply.members.into_iter().map(|m| m.user_id));
            cursor = reply.page_info.unwrap().next_cursor;
            if cursor.is_empty() {
                return ids;
            }
        }
    }

    pub async fn member(&self, conversation: &str, user: &str) -> Option<pb::Member> {
        let reply = self
            .c()
            .list_members(pb::ListMembersRequest {
                conversation_id: conversation.into(),
                viewer_id: String::new(),
                page: page(100, ""),
            })
            .await
            .unwrap()
            .into_inner();
        reply.members.into_iter().find(|m| m.user_id == user)
    }

    pub async fn invite(
        &self,
        conversation: &str,
        actor: &str,
        users: &[&str],
    ) -> Result<tonic::Response<pb::InviteMembersResponse>, Status> {
        self.c()
            .invite_members(pb::InviteMembersRequest {
                conversation_id: conversation.into(),
                actor_id: actor.into(),
                user_ids: users.iter().map(|u| (*u).to_owned()).collect(),
            })
            .await
    }

    pub async fn remove(
        &self,
        conversation: &str,
        actor: &str,
        user: &str,
    ) -> Result<tonic::Response<pb::RemoveMemberResponse>, Status> {
        self.c()
            .remove_member(pb::RemoveMemberRequest {
                conversation_id: conversation.into(),
                actor_id: actor.into(),
                user_id: user.into(),
            })
            .await
    }

    pub async fn set_role(
        &self,
        conversation: &str,
        actor: &str,
        user: &str,
        role: pb::MemberRole,
    ) -> Result<tonic::Response<pb::UpdateMemberResponse>, Status> {
        self.c()
            .update_member(pb::UpdateMemberRequest {
                conversation_id: conversation.into(),
                actor_id: actor.into(),
                user_id: user.into(),
                role: Some(role.into()),
                muted_until_ms: None,
            })
            .await
    }

    pub async fn mute(
        &self,
        conversation: &str,
        actor: &str,
        user: &str,
        until_ms: i64,
    ) -> Result<tonic::Response<pb::UpdateMemberResponse>, Status> {
        self.c()
            .update_member(pb::UpdateMemberRequest {
                conversation_id: conversation.into(),
                actor_id: actor.into(),
                user_id: user.into(),
                role: None,
                muted_until_ms: Some(until_ms),
            })
            .await
    }

    pub async fn update(
        &self,
        request: pb::UpdateConversationRequest,
    ) -> Result<tonic::Response<pb::UpdateConversationResponse>, Status> {
        self.c().update_conversation(request).await
    }

    pub async fn join(
        &self,
        conversation: &str,
        user: &str,
    ) -> Result<tonic::Response<pb::JoinGroupResponse>, Status> {
        self.c()
            .join_group(pb::JoinGroupRequest {
                conversation_id: conversation.into(),
                user_id: user.into(),
                message: "let me in".into(),
            })
            .await
    }

    pub async fn conversations(&self, user: &str) -> pb::ListUserConversationsResponse {
        self.c()
            .list_user_conversations(pb::ListUserConversationsRequest {
                user_id: user.into(),
                page: page(100, ""),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Publishes a message-service event on the bus, keyed by conversation.
    pub async fn publish_message_event(&self, event: pb::MessageEvent) {
        let key = match &event.kind {
            Some(
                pb::message_event::Kind::Stored(m)
                | pb::message_event::Kind::Edited(m)
                | pb::message_event::Kind::Recalled(m),
            ) => m.conversation_id.clone(),
            Some(pb::message_event::Kind::Read(r)) => r.conversation_id.clone(),
            None => String::new(),
        };
        self.bus
            .publish(MESSAGE_EVENTS, Record::new(key, event.encode_to_vec()))
            .await
            .unwrap();
    }

    /// Makes publishing fail (true) or work again (false).
    pub fn bus_down(&self, down: bool) {
        self.bus.set_down(down);
    }
}

/// A message as the message service stores it.
pub fn message(conversation: &str, seq: u64, sender: &str, text: &str) -> pb::Message {
    pb::Message {
        id: format!("{conversation}-{seq}"),
        conversation_id: conversation.into(),
        seq,
        sender_id: sender.into(),
        client_msg_id: format!("c{seq}"),
        r#type: pb::MessageType::Text.into(),
        body_json: format!("{{\"text\":\"{text}\"}}"),
        created_at_ms: now_ms(),
        ..pb::Message::default()
    }
}

pub fn message_event(kind: pb::message_event::Kind) -> pb::MessageEvent {
    pb::MessageEvent {
        id: uuid_like(),
        occurred_at_ms: now_ms(),
        kind: Some(kind),
    }
}

fn uuid_like() -> String {
    im_testkit::unique_name("event")
}

/// Conversation events from the bus, as delivery would read them.
pub struct Events(Box<dyn Subscription>);

impl Events {
    /// A fresh consumer group: it reads from the oldest retained event.
    pub async fn subscribe(app: &TestApp) -> Self {
        let group = im_testkit::unique_name("test_delivery");
        Self(
            app.bus
                .subscribe(CONVERSATION_EVENTS, &group)
                .await
                .unwrap(),
        )
    }

    /// The next event with the key it was published under.
    pub async fn next(&mut self) -> (String, pb::ConversationEvent) {
        let delivery = tokio::time::timeout(Duration::from_secs(10), self.0.next())
            .await
            .expect("a conversation event within 10 s")
            .unwrap();
        self.0.commit(&delivery).await.unwrap();
        let event = pb::ConversationEvent::decode(delivery.record.payload)
            .expect("a protobuf ConversationEvent");
        assert!(!event.id.is_empty() && event.occurred_at_ms > 0);
        (delivery.record.key, event)
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
