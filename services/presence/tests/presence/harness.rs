//! Starts presence on a fresh kv namespace (the in-memory kv, or Redis under a unique
//! key prefix), serves it on a loopback port and hands out a client, the bus it
//! publishes on, a switch that takes the kv down, and helpers.

use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::presence_client::PresenceClient;
use im_presence::{PRESENCE_EVENTS, Settings};
use im_runtime::kv::{self, Kv, KvError, MemoryKv};
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, Shutdown};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The ttl of connections and nodes in every test: short, so expiry shows quickly.
pub const TTL: Duration = Duration::from_millis(800);
/// How often the sweeper runs in tests.
pub const SWEEP: Duration = Duration::from_millis(100);
/// The longest a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    Redis,
}

/// A kv store with a switch that makes every call fail as if the backend were down.
pub struct SwitchableKv {
    inner: Arc<dyn Kv>,
    down: AtomicBool,
}

impl SwitchableKv {
    /// Set to take the store down, clear to bring it back.
    pub fn down_switch(&self) -> &AtomicBool {
        &self.down
    }

    fn check(&self) -> Result<(), KvError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(KvError::Unavailable("switched off by the test".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Kv for SwitchableKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        self.check()?;
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        self.check()?;
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        self.check()?;
        self.inner.increment(key, by, ttl).await
    }
    async fn hash_set(&self, key: &str, field: &str, value: &[u8]) -> Result<(), KvError> {
        self.check()?;
        self.inner.hash_set(key, field, value).await
    }
    async fn hash_get(&self, key: &str, field: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.check()?;
        self.inner.hash_get(key, field).await
    }
    async fn hash_delete(&self, key: &str, field: &str) -> Result<bool, KvError> {
        self.check()?;
        self.inner.hash_delete(key, field).await
    }
    async fn hash_get_all(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.check()?;
        self.inner.hash_get_all(key).await
    }
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        self.check()?;
        self.inner.expire(key, ttl).await
    }
    async fn ping(&self) -> Result<(), KvError> {
        self.check()?;
        self.inner.ping().await
    }
}

/// A running presence service and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub client: PresenceClient<Channel>,
    pub ctx: ServiceContext,
    pub kv: Arc<SwitchableKv>,
}

/// Runs `scenario` against a fresh presence on `backend`. Outside CI, an unreachable
/// Redis skips the Redis run; under `CI=true` it fails.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let inner: Arc<dyn Kv> = match backend {
        Backend::Memory => Arc::new(MemoryKv::default()),
        Backend::Redis => {
            let Some(url) = im_testkit::redis() else {
                return;
            };
            kv::connect(&SecretUrl::new(url)).await.unwrap()
        }
    };
    let kv = Arc::new(SwitchableKv {
        inner: inner.clone(),
        down: AtomicBool::new(false),
    });
    let prefix = im_testkit::unique_name("presence_test");
    let settings = Settings {
        ttl: TTL,
        sweep_interval: SWEEP,
        expired_retention: Duration::from_secs(30),
        last_seen_retention: Duration::from_secs(120),
        key_prefix: prefix.clone(),
        ..Settings::default()
    };

    let mut config = Config::default();
    config.object_store.url = Some(SecretUrl::new("memory://"));
    let mut infra = Infra::connect(&config).await.unwrap();
    infra.kv = kv.clone();
    let ctx = ServiceContext::new(Arc::new(config), infra);
    let service = im_presence::build_with_settings(&ctx, settings)
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
    let app = TestApp {
        client: PresenceClient::new(channel),
        ctx,
        kv,
    };

    let cleanup = async move {
        shutdown.trigger();
        // Every other key expires on its own; the node list is the one kept for good.
        inner.delete(&format!("{prefix}:nodes")).await.unwrap();
    };
    im_testkit::run_then_clean_up(scenario(app), cleanup).await;
}

/// Generates `memory` and `redis` tests for each scenario function named.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {
        im_testkit::on_every_backend!(
            run = crate::harness::run;
            args = ();
            backends = [memory => crate::harness::Backend::Memory, redis => crate::harness::Backend::Redis];
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

/// A device: `user` logged in as `session` on `device`, held by gateway `node`.
pub fn device(user: &str, session: &str, node: &str) -> pb::DeviceRef {
    pb::DeviceRef {
        user_id: user.into(),
        session_id: session.into(),
        device_id: format!("{session}-device"),
        node_id: node.into(),
    }
}

pub fn push_addr(node: &str) -> String {
    format!("http://{node}.gateways.test:7100")
}

impl TestApp {
    pub fn c(&self) -> PresenceClient<Channel> {
        self.client.clone()
    }

    /// Connects a device; returns whether its user came online.
    pub async fn connect(&self, device: &pb::DeviceRef) -> bool {
        self.c()
            .connect_device(pb::ConnectDeviceRequest {
                device: Some(device.clone()),
                ttl_s: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .came_online
    }

    /// Disconnects a device; returns whether its user went offline.
    pub async fn disconnect(&self, device: &pb::DeviceRef) -> bool {
        self.c()
            .disconnect_device(pb::DisconnectDeviceRequest {
                device: Some(device.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .went_offline
    }

    /// Sends `node`'s heartbeat listing `devices`; returns how many were refreshed.
    pub async fn heartbeat(&self, node: &str, devices: &[pb::DeviceRef]) -> u32 {
        self.c()
            .heartbeat(pb::HeartbeatRequest {
                node_id: node.into(),
                push_addr: push_addr(node),
                devices: devices.to_vec(),
                ttl_s: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .refreshed
    }

    pub async fn presences(&self, users: &[&str]) -> Vec<pb::UserPresence> {
        self.c()
            .get_presence(pb::GetPresenceRequest {
                user_ids: users.iter().map(|u| (*u).to_owned()).collect(),
            })
            .await
            .unwrap()
            .into_inner()
            .presences
    }

    pub async fn presence(&self, user: &str) -> pb::UserPresence {
        self.presences(&[user]).await.remove(0)
    }

    pub async fn online(&self, user: &str) -> bool {
        self.presence(user).await.online
    }

    pub async fn locate(&self, users: &[&str]) -> pb::LocateDevicesResponse {
        self.c()
            .locate_devices(pb::LocateDevicesRequest {
                user_ids: users.iter().map(|u| (*u).to_owned()).collect(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// The live nodes' ids.
    pub async fn node_ids(&self) -> Vec<String> {
        self.nodes().await.into_iter().map(|n| n.node_id).collect()
    }

    pub async fn nodes(&self) -> Vec<pb::GatewayNode> {
        self.c()
            .list_nodes(pb::ListNodesRequest {})
            .await
            .unwrap()
            .into_inner()
            .nodes
    }

    /// Keeps beating for `node` with `devices` until the returned guard is dropped.
    pub fn keep_beating(&self, node: &str, devices: Vec<pb::DeviceRef>) -> Beating {
        let app = self.clone();
        let node = node.to_owned();
        let task = tokio::spawn(async move {
            loop {
                app.heartbeat(&node, &devices).await;
                tokio::time::sleep(TTL / 4).await;
            }
        });
        Beating(task)
    }
}

/// A node beating in the background; stops (the node goes silent) when dropped.
pub struct Beating(tokio::task::JoinHandle<()>);

impl Drop for Beating {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits until `condition` holds, polling; fails after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects presence changes from the bus, as a gateway would.
pub struct Events(Box<dyn im_runtime::bus::Subscription>);

impl Events {
    pub async fn subscribe(app: &TestApp) -> Self {
        let group = im_testkit::unique_name("test_gateway");
        Self(
            app.ctx
                .infra
                .bus
                .subscribe(PRESENCE_EVENTS, &group)
                .await
                .unwrap(),
        )
    }

    /// The next change, checked to be keyed by its user.
    pub async fn next(&mut self) -> pb::PresenceChanged {
        let delivery = tokio::time::timeout(PATIENCE, self.0.next())
            .await
            .expect("a presence change in time")
            .unwrap();
        self.0.commit(&delivery).await.unwrap();
        let change = <pb::PresenceChanged as prost::Message>::decode(delivery.record.payload)
            .expect("a protobuf PresenceChanged");
        assert_eq!(delivery.record.key, change.user_id, "keyed by user id");
        assert!(change.occurred_at_ms > 0);
        change
    }

    /// The next change as `(user, online)`.
    pub async fn next_transition(&mut self) -> (String, bool) {
        let change = self.next().await;
        (change.user_id, change.online)
    }

    /// Asserts nothing else was published within `quiet`.
    pub async fn assert_quiet(&mut self, quiet: Duration) {
        let next = tokio::time::timeout(quiet, self.0.next()).await;
        assert!(next.is_err(), "unexpected change: {next:?}");
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
