//! Starts identity on a fresh database (an SQLite file, or a MariaDB database with a
//! unique name dropped afterwards), serves it on a loopback port and hands out a client.

use im_contracts::v1 as pb;
use im_contracts::v1::access_control_client::AccessControlClient;
use im_contracts::v1::identity_client::IdentityClient;
use im_runtime::config::{LoginLimits, ServiceConfig};
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, Shutdown};
use sea_orm::ConnectionTrait as _;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

pub const PASSWORD: &str = "correct horse battery";
/// Login limits of every test: small, so throttling shows after a few attempts.
pub const PER_ACCOUNT_AND_IP: u32 = 3;
pub const PER_IP: u32 = 6;
pub const WINDOW_S: u64 = 60;

pub use im_testkit::SqlBackend as Backend;

/// A running identity service and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub client: IdentityClient<Channel>,
    /// The access-control service, on the same listener.
    pub access: AccessControlClient<Channel>,
    /// The same configuration and adapters the service runs on (its bus included).
    pub ctx: ServiceContext,
}

struct Running {
    app: TestApp,
    shutdown: Shutdown,
    databases: im_testkit::TestDatabases,
}

/// Runs `scenario` against a fresh identity on `backend`, then drops the database even
/// when the scenario failed. Outside CI, a missing MariaDB skips the MySQL run; under
/// `CI=true` it fails.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(running) = start(backend).await else {
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

async fn start(backend: Backend) -> Option<Running> {
    let mut databases = im_testkit::TestDatabases::new(backend)?;
    let mut config = Config {
        data_dir: databases.dir().to_owned(),
        ..Config::default()
    };
    config.auth.login_limits = LoginLimits {
        window: Duration::from_secs(WINDOW_S),
        per_account_and_ip: PER_ACCOUNT_AND_IP,
        per_ip: PER_IP,
        per_account: 100,
    };
    let url = databases.url("identity");
    config.services.insert(
        "identity".to_owned(),
        ServiceConfig {
            grpc_addr: None,
            database_url: Some(SecretUrl::new(url)),
        },
    );
    let infra = Infra::connect(&config).await.unwrap();
    let ctx = ServiceContext::new(Arc::new(config), infra);
    let service = im_identity::testing::build(&ctx).await.unwrap();

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
            client: IdentityClient::new(channel.clone()),
            access: AccessControlClient::new(channel),
            ctx,
        },
        shutdown,
        databases,
    })
}

/// Generates `sqlite` and `mysql` tests for each scenario function named.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {
        im_testkit::on_every_backend!(
            run = crate::harness::run;
            args = ();
            backends = [sqlite => im_testkit::SqlBackend::Sqlite, mysql => im_testkit::SqlBackend::MySql];
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

impl TestApp {
    pub async fn register(&self, username: &str) -> pb::User {
        self.client
            .clone()
            .register(pb::RegisterRequest {
                username: username.into(),
                password: PASSWORD.into(),
                display_name: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
    }

    pub async fn try_login(
        &self,
        username: &str,
        password: &str,
        client_ip: &str,
    ) -> Result<tonic::Response<pb::LoginResponse>, Status> {
        self.client
            .clone()
            .login(pb::LoginRequest {
                username: username.into(),
                password: password.into(),
                device_id: String::new(),
                client_ip: client_ip.into(),
                user_agent: "tests".into(),
            })
            .await
    }

    pub async fn login(&self, username: &str) -> pb::TokenPair {
        self.try_login(username, PASSWORD, "192.0.2.1")
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap()
    }

    pub async fn try_refresh(
        &self,
        refresh_token: &str,
    ) -> Result<tonic::Response<pb::RefreshResponse>, Status> {
        self.client
            .clone()
            .refresh(pb::RefreshRequest {
                refresh_token: refresh_token.into(),
                client_ip: "192.0.2.1".into(),
                user_agent: "tests".into(),
            })
            .await
    }

    pub async fn verify(&self, access_token: &str) -> pb::VerifyTokenResponse {
        self.client
            .clone()
            .verify_token(pb::VerifyTokenRequest {
                access_token: access_token.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn introspect(&self, token: &str) -> pb::IntrospectResponse {
        self.client
            .clone()
            .introspect(pb::IntrospectRequest {
                token: token.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn sessions(&self, user_id: &str, current: &str) -> Vec<pb::Session> {
        self.client
            .clone()
            .list_sessions(pb::ListSessionsRequest {
                user_id: user_id.into(),
                current_session_id: current.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .sessions
    }

    pub async fn search(&self, prefix: &str, limit: u32, cursor: &str) -> pb::SearchUsersResponse {
        self.client
            .clone()
            .search_users(pb::SearchUsersRequest {
                prefix: prefix.into(),
                page: Some(pb::Page {
                    limit,
                    cursor: cursor.into(),
                }),
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn usernames(&self, prefix: &str) -> Vec<String> {
        self.search(prefix, 100, "")
            .await
            .users
            .into_iter()
            .map(|user| user.username)
            .collect()
    }

    pub async fn denylist(&self) -> pb::GetDenylistResponse {
        self.client
            .clone()
            .get_denylist(pb::GetDenylistRequest {})
            .await
            .unwrap()
            .into_inner()
    }
}

/// Collects identity events from the bus, as a gateway would.
pub struct Events(Box<dyn im_runtime::bus::Subscription>);

impl Events {
    pub async fn subscribe(app: &TestApp) -> Self {
        let group = im_testkit::unique_name("test_gateway");
        Self(
            app.ctx
                .infra
                .bus
                .subscribe(im_contracts::topics::IDENTITY_EVENTS, &group)
                .await
                .unwrap(),
        )
    }

    /// The next event, with the key it was published under.
    pub async fn next(&mut self) -> (String, pb::identity_event::Kind) {
        let delivery = tokio::time::timeout(Duration::from_secs(5), self.0.next())
            .await
            .expect("an identity event within 5 s")
            .unwrap();
        self.0.commit(&delivery).await.unwrap();
        let event = <pb::IdentityEvent as prost::Message>::decode(delivery.record.payload)
            .expect("a protobuf IdentityEvent");
        assert!(!event.id.is_empty() && event.occurred_at_ms > 0);
        (delivery.record.key, event.kind.expect("an event kind"))
    }

    /// Asserts nothing else was published within a short while.
    pub async fn assert_quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(200), self.0.next()).await;
        assert!(next.is_err(), "unexpected event: {next:?}");
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
