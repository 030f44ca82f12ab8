//! Gateway: the public edge. REST and WebSocket for clients, authentication and
//! authorization, rate limits, and the live connection hub of its node, which delivery
//! reaches through the internal Push service.

mod auth;
mod authz;
mod conversation;
mod delivery;
mod downstream;
mod http;
mod identity;
mod message;
mod messaging;
mod presence;
mod throttle;
mod ws;

use auth::{Auth, BackgroundTasks, Denylist, PublicRoutes, TokenVerifier, TrustedProxies};
use authz::AccessFeed;
use conversation::Conversation;
use http::AppState;
use identity::Identity;
use im_contracts::v1::push_server::PushServer;
use im_runtime::grpc::{Clients, DownstreamCheck};
use im_runtime::health::{Health, KvCheck, ReadinessCheck};
use im_runtime::{Service, ServiceContext, ServiceName, Shutdown};
use std::sync::Arc;
use std::time::Duration;
use throttle::{EdgeLimits, InFlight};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub use auth::Revocation;
pub use authz::{AccessRules, Authorizer, DENIED_METRIC, Decision, DenyReason};
pub use http::{ApiError, openapi_document};
pub use throttle::{OVERLOADED_METRIC, RATE_LIMITED_METRIC};

const NAME: ServiceName = ServiceName::Gateway;

/// The services the gateway calls. Their health is reported by the gateway's `/readyz`
/// without making it unready: with identity down, existing sessions keep working
/// (DESIGN.md section 6), so the edge must stay in the load balancer.
const DOWNSTREAM: [ServiceName; 7] = [
    ServiceName::Identity,
    ServiceName::Conversation,
    ServiceName::Message,
    ServiceName::Delivery,
    ServiceName::Presence,
    ServiceName::File,
    ServiceName::MediaSignal,
];

/// Beyond the access token lifetime, how long a revoked session without a forget time
/// is remembered (clock differences between identity and gateways).
const REVOCATION_MARGIN: Duration = Duration::from_secs(30);

/// A built gateway: its gRPC side (Push, for delivery) and its public HTTP side.
pub struct Gateway {
    pub service: Service,
    pub http: PublicHttp,
}

/// The public REST and WebSocket application of one gateway node. Its background work
/// (keeping the denylist current, reporting connections to presence, following
/// revocations and presence changes) stops once this and every router made from it are
/// dropped.
pub struct PublicHttp {
    state: AppState,
}

impl PublicHttp {
    /// The public HTTP application. `health` is this process's health, answered on
    /// `/healthz` and `/readyz` of the public port as well as on the admin listener.
    pub fn router(&self, health: Health) -> axum::Router {
        http::router(self.state.clone(), health)
    }

    /// Serves [`Self::router`] on `listener` until `shutdown` fires. Then, while the
    /// server stops accepting and lets in-flight requests finish, every WebSocket is
    /// closed with 1012 (service restart); the future ends once both are done, the
    /// sockets' close bounded by a few seconds. Upgraded sockets are not the server's
    /// connections any more: it would not wait for them.
    pub fn serve(
        &self,
        listener: TcpListener,
        health: Health,
        shutdown: Shutdown,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        let serving = im_runtime::http::serve(self.router(health), listener, shutdown.clone());
        let live = self.state.live.clone();
        let closing = async move {
            shutdown.wait().await;
            live.stop().await;
            Ok(())
        };
        async move { tokio::try_join!(serving, closing).map(|_| ()) }
    }

    /// The revocation feed: sessions revoked and users banned from now on, whose open
    /// connections must be closed.
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.state.denylist().subscribe()
    }

    /// The WebSocket connections open on this node.
    pub fn connections(&self) -> usize {
        self.state.live.hub.connections()
    }

    /// Waits up to `within` for the access rules' first load; whether they are loaded.
    /// Until then every non-public request answers 503 `authorization_unavailable`.
    pub async fn await_authorization(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.state.auth.authorizer.loaded())
            .await
            .is_ok()
    }
}

/// Connects the gateway's adapters and returns it ready to serve.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Gateway> {
    let clients = ctx.clients();
    let http = public_http(ctx, clients.clone())?;
    let rules = AccessRulesCheck(http.state.auth.authorizer.clone());
    let push = PushServer::new(ws::PushService::new(http.state.live.hub.clone()));
    let service = DOWNSTREAM.into_iter().fold(
        ctx.service(NAME)
            .with_grpc(push)
            .with_check(KvCheck(ctx.infra.kv.clone()))
            .with_check(rules),
        |service, downstream| service.with_check(DownstreamCheck::new(clients.clone(), downstream)),
    );
    Ok(Gateway { service, http })
}

/// Required readiness: the access rules were loaded at least once. Without them every
/// authenticated request would be refused with 503, so the node must not take traffic;
/// once loaded, an identity outage keeps the rules in force and the node ready.
struct AccessRulesCheck(Arc<Authorizer>);

#[async_trait::async_trait]
impl ReadinessCheck for AccessRulesCheck {
    fn name(&self) -> &str {
        "access_rules"
    }

    async fn check(&self) -> Result<(), String> {
        if self.0.is_loaded() {
            Ok(())
        } else {
            Err("not loaded from identity yet".to_owned())
        }
    }
}

fn public_http(ctx: &ServiceContext, clients: Clients) -> anyhow::Result<PublicHttp> {
    let config = &ctx.config;
    let identity = Identity::new(clients.clone());
    let conversation = Conversation::new(clients.clone());
    let configured_blocks = config
        .gateway
        .blocked_cidrs
        .iter()
        .map(|entry| {
            auth::parse_network(entry).ok_or_else(|| {
                anyhow::anyhow!("gateway.blocked_cidrs: {entry:?} is not an address or CIDR")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let denylist = Arc::new(Denylist::new(
        configured_blocks,
        config.auth.access_ttl + REVOCATION_MARGIN,
    ));
    let authorizer = Arc::new(Authorizer::new());
    let access = AccessFeed::new(identity.clone(), authorizer.clone());
    let auth = Auth {
        verifier: TokenVerifier::new(
            identity.clone(),
            config.auth.issuer.clone(),
            config.auth.audience.clone(),
        ),
        denylist: denylist.clone(),
        public_routes: PublicRoutes::parse(&config.gateway.public_routes)?,
        proxies: TrustedProxies::parse(&config.gateway.trusted_proxies)?,
        authorizer,
    };
    let limiter = im_runtime::limits::connect(&config.kv.url)?;
    let limits = Arc::new(EdgeLimits::new(limiter, &config.gateway.rate_limits));
    let mut tasks = BackgroundTasks::default();
    // Before the denylist feed starts, so the live side sees every revocation.
    let (live, live_tasks) = ws::start(ctx, clients, denylist.clone(), limits.clone());
    for task in live_tasks {
        tasks.push(task);
    }
    tasks.push(auth::spawn_snapshots(identity.clone(), denylist.clone()));
    tasks.push(auth::spawn_events(
        ctx.infra.bus.clone(),
        format!("gateway-{}", config.node_id),
        denylist,
        access.clone(),
    ));
    tasks.push(access.clone().spawn());
    Ok(PublicHttp {
        state: AppState {
            identity,
            conversation,
            live,
            access,
            auth: Arc::new(auth),
            max_body_bytes: config.gateway.max_body_bytes,
            limits,
            in_flight: InFlight::new(config.gateway.max_in_flight),
            _tasks: Arc::new(tasks),
        },
    })
}
