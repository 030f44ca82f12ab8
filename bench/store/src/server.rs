//! The message service alone, as the store bench runs it: its real gRPC adapter, group
//! commit, SQL store and outbox relay on the given database, with a membership that
//! lets everyone post everywhere (the conversation service is not what is measured).
//! The events it publishes go to the in-process bus, where one consumer group takes
//! and commits them, as delivery would.

use async_trait::async_trait;
use im_contracts::topics::MESSAGE_EVENTS;
use im_message::{
    Adapters, ConversationId, ConversationKind, Membership, MembershipError, Role, SendCheck,
    Settings, UserId,
};
use im_runtime::bus::{Backoff, Consumer, StartAt, consume_batches};
use im_runtime::config::ServiceConfig;
use im_runtime::secret::SecretUrl;
use im_runtime::{Config, Infra, ServiceContext, Shutdown};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The message database: `mysql://…/name` or `sqlite://…`.
    pub database_url: String,
    /// Where embedded adapters keep files (unused on MySQL).
    pub data_dir: PathBuf,
    /// The gRPC listener; port 0 picks one.
    pub listen: SocketAddr,
    /// Group commit: batches stored at once, and drafts per batch (`None`: the defaults).
    pub writers: Option<usize>,
    pub batch: Option<usize>,
}

/// Everyone is a member of every direct conversation and may post.
struct Everyone;

#[async_trait]
impl Membership for Everyone {
    async fn check_send(
        &self,
        _conversation: &ConversationId,
        _user: &UserId,
    ) -> Result<SendCheck, MembershipError> {
        Ok(SendCheck {
            is_member: true,
            role: Role::Member,
            muted: false,
            blocked: false,
            kind: Some(ConversationKind::Direct),
            mute_all: false,
        })
    }

    async fn conversations_of(
        &self,
        _user: &UserId,
        _limit: usize,
    ) -> Result<Vec<ConversationId>, MembershipError> {
        Ok(Vec::new())
    }
}

/// The running service; dropping it does not stop it, [`Served::stop`] does.
pub struct Served {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    drain: CancellationToken,
}

impl Served {
    pub fn stop(&self) {
        self.drain.cancel();
        self.shutdown.trigger();
    }
}

/// Migrates the database, starts the service and the consumer of its events, and
/// returns once it listens.
pub async fn serve(options: ServeOptions) -> anyhow::Result<Served> {
    anyhow::ensure!(
        options.listen.ip().is_loopback(),
        "the store bench listens on loopback only, not {}",
        options.listen
    );
    let mut config = Config {
        data_dir: options.data_dir.clone(),
        ..Config::default()
    };
    config.services.insert(
        "message".to_owned(),
        ServiceConfig {
            grpc_addr: None,
            database_url: Some(SecretUrl::new(options.database_url.clone())),
        },
    );
    let infra = Infra::connect(&config).await?;
    let bus = infra.bus.clone();
    let ctx = ServiceContext::new(Arc::new(config), infra);
    let defaults = Settings::default();
    let settings = Settings {
        send_writers: options.writers.unwrap_or(defaults.send_writers),
        send_batch: options.batch.unwrap_or(defaults.send_batch),
        ..defaults
    };
    let adapters = Adapters {
        membership: Some(Arc::new(Everyone)),
        clock: None,
    };
    let service = im_message::build_with(&ctx, settings, adapters).await?;

    let drain = CancellationToken::new();
    let consumer = Consumer {
        topic: MESSAGE_EVENTS,
        group: "store-bench",
        start: StartAt::Earliest,
        max_batch: 512,
        backoff: Backoff::default(),
    };
    tokio::spawn(consume_batches(bus, consumer, drain.clone(), |_| async {
        true
    }));

    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new();
    tokio::spawn(im_runtime::grpc::serve(service, listener, shutdown.clone()));
    Ok(Served {
        addr,
        shutdown,
        drain,
    })
}
