//! `im serve`: start the selected services in this process, register them, serve until
//! SIGINT/SIGTERM, then deregister, drain and exit.

use crate::wiring::{self, Built};
use anyhow::Context as _;
use im_runtime::health::{self, Health};
use im_runtime::registry::Instance;
use im_runtime::{Config, ServiceContext, ServiceName, Shutdown, grpc, http, metrics};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;
use tracing::Instrument as _;

/// Internal gRPC listeners default to a free loopback port, so two all-in-one
/// instances can run side by side.
const EPHEMERAL_LOOPBACK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Connections the kernel may hold for each listener until they are accepted (it caps
/// this at `net.core.somaxconn`). Tokio's default of 1,024 is too few when thousands of
/// clients come back at once after a restart: the rest of their SYNs are dropped, and
/// each retries only after 1, 3, 7 s.
const LISTEN_BACKLOG: u32 = 8192;

/// How long the public port stays closed waiting for the gateway's access rules. Until
/// they are loaded every authenticated request would answer 503; a closed port sends
/// clients (back) to a load balancer's other nodes, or to their reconnect backoff.
/// Past this, the port opens anyway and `/readyz` reports the rules missing.
const RULES_WAIT: Duration = Duration::from_secs(10);

type Task = anyhow::Result<()>;

pub async fn run(config: Config, services: Vec<ServiceName>) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let metrics = metrics::install();
    let shutdown = Shutdown::new();
    shutdown
        .trigger_on_signals()
        .context("install signal handlers")?;

    let infra = wiring::infra(&config).await?;
    let ctx = ServiceContext::new(config.clone(), infra.clone());
    let mut health = Health::default();
    let mut tasks: JoinSet<Task> = JoinSet::new();
    let mut instances = Vec::new();
    let mut gateway = None;

    // The gateway last: its first fetch of the access rules then finds identity.
    let mut order = services.clone();
    order.sort_by_key(|&name| name == ServiceName::Gateway);
    for name in order {
        let span = tracing::info_span!("service", service = %name);
        let built = wiring::build(name, &ctx)
            .instrument(span.clone())
            .await
            .with_context(|| format!("start {name}"))?;
        let service = match built {
            Built::Service(service) => service,
            Built::Gateway(built) => {
                let im_gateway::Gateway { service, http } = *built;
                gateway = Some(http);
                service
            }
        };
        let addr = config.service(name).grpc_addr.unwrap_or(EPHEMERAL_LOOPBACK);
        let listener = bind(addr, &format!("{name} gRPC"))?;
        let local = listener.local_addr()?;
        health.add(name, service.checks.clone());
        let instance = Instance {
            service: name,
            id: format!("{}/{name}", config.node_id),
            endpoint: format!("http://{}", advertised(local)),
        };
        // The other services here call it in process; other processes over the socket.
        let stack = grpc::ServiceStack::new(service).await;
        infra.in_process.serve(&instance.endpoint, stack.local());
        let stop = shutdown.clone();
        tasks.spawn(
            async move {
                stack
                    .serve(listener, stop)
                    .await
                    .with_context(|| format!("{name} gRPC server"))
            }
            .instrument(span),
        );
        infra.registry.register(instance.clone()).await?;
        instances.push(instance);
        tracing::info!(service = %name, grpc_addr = %local, "serving gRPC");
    }

    let http_addr = match &gateway {
        Some(gateway) => {
            tokio::select! {
                loaded = gateway.await_authorization(RULES_WAIT) => if !loaded {
                    tracing::warn!(
                        waited = ?RULES_WAIT,
                        "the access rules are not loaded yet; opening the public port anyway"
                    );
                },
                () = shutdown.wait() => {}
            }
            let listener = bind(config.http.addr, "the gateway's HTTP")?;
            let local = listener.local_addr()?;
            // Closes the WebSockets (1012) on shutdown, before the drain below ends.
            let serving = gateway.serve(listener, health.clone(), shutdown.clone());
            tasks.spawn(async move { serving.await.context("gateway HTTP server") });
            Some(local)
        }
        None => None,
    };

    let admin = bind(config.admin.addr, "the admin")?;
    let admin_addr = admin.local_addr()?;
    let router = health::admin_router(health, metrics);
    let stop = shutdown.clone();
    tasks.spawn(async move {
        http::serve(router, admin, stop)
            .await
            .context("admin HTTP server")
    });

    tracing::info!(
        node_id = %config.node_id,
        services = %services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
        http_addr = %http_addr.map(|a| a.to_string()).unwrap_or_default(),
        admin_addr = %admin_addr,
        "im is up"
    );

    // Run until a signal, or until a server fails (then stop the rest).
    let failure = tokio::select! {
        biased;
        () = shutdown.wait() => None,
        Some(joined) = tasks.join_next() => {
            let stopped = flatten(joined);
            if shutdown.is_triggered() {
                // Lost the race with the signal: an ordinary stop, drained below.
                log_stop_error(stopped);
                None
            } else {
                shutdown.trigger();
                Some(stopped.err().unwrap_or_else(|| anyhow::anyhow!("a server stopped unexpectedly")))
            }
        }
    };

    for instance in &instances {
        if let Err(error) = infra.registry.deregister(instance).await {
            tracing::warn!(service = %instance.service, %error, "deregister failed");
        }
    }
    drain(&mut tasks, &config).await;
    match failure {
        Some(error) => Err(error),
        None => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Waits for every server to finish its in-flight work, up to the configured grace.
async fn drain(tasks: &mut JoinSet<Task>, config: &Config) {
    let grace = config.shutdown.grace;
    let drained = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            log_stop_error(flatten(joined));
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?grace,
            "in-flight work did not drain in time; stopping anyway"
        );
        tasks.abort_all();
    }
}

fn log_stop_error(stopped: Task) {
    if let Err(error) = stopped {
        tracing::error!(error = %format!("{error:#}"), "server failed while stopping");
    }
}

fn flatten(joined: Result<Task, tokio::task::JoinError>) -> Task {
    joined
        .map_err(anyhow::Error::from)
        .and_then(|result| result)
}

/// A listener on `addr` with a backlog of [`LISTEN_BACKLOG`] (and, as tokio's own
/// `bind`, SO_REUSEADDR, so a restart can take the port back from sockets in TIME_WAIT).
fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let listening = || {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listening().with_context(|| format!("cannot bind {what} listener on {addr}"))
}

/// The address others should dial: a wildcard bind is reachable on loopback here.
fn advertised(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
    } else {
        local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients that connect faster than the server accepts wait in the kernel's queue
    /// rather than having their SYNs dropped, up to far more than tokio's 1,024.
    #[tokio::test]
    async fn the_listen_queue_holds_a_crowd_of_reconnecting_clients() {
        const CROWD: u32 = 1_500;
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            somaxconn > CROWD,
            "net.core.somaxconn is {somaxconn}: this test needs more than {CROWD}"
        );
        let listener = bind(EPHEMERAL_LOOPBACK, "test").unwrap();
        let addr = listener.local_addr().unwrap();
        // nothing accepts: every connection must complete into the queue
        let mut clients = Vec::new();
        for _ in 0..CROWD {
            let connecting = tokio::net::TcpStream::connect(addr);
            let client = tokio::time::timeout(Duration::from_secs(3), connecting)
                .await
                .expect("connected while the server accepted nothing")
                .unwrap();
            clients.push(client);
        }
        assert_eq!(clients.len(), CROWD as usize);
        drop(listener);
    }
}
