//! The etcd registry against a real etcd (`IM_TEST_ETCD_URL`, default
//! `etcd://127.0.0.1:2379`). Each test keeps its keys under a prefix of its own, so tests
//! run in parallel on one etcd. Outage tests start a private etcd they can kill.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod leases;
mod outage;
mod sharing;

use im_registry_etcd::EtcdRegistry;
use im_runtime::ServiceName;
use im_runtime::config::RegistryConfig;
use im_runtime::registry::{Instance, Registry};
use im_runtime::secret::SecretUrl;
use std::time::{Duration, Instant};

/// The lease TTL of every test handle: short, so expiry is quick to observe.
const TTL: Duration = Duration::from_secs(2);
/// Another handle must see a change within this (the watch, not the TTL, carries it).
const PROPAGATION: Duration = Duration::from_secs(1);

/// The test etcd's URL with a fresh prefix, or `None` (with a note) without etcd.
fn fresh_url() -> Option<String> {
    let Some(base) = im_testkit::etcd() else {
        eprintln!("skipped: no etcd (start one or set IM_TEST_ETCD_URL)");
        return None;
    };
    Some(scoped(&base, &im_testkit::unique_name("/im_test")))
}

/// `base` with `prefix` as its path and the test TTL.
fn scoped(base: &str, prefix: &str) -> String {
    let mut url = url::Url::parse(base).expect("IM_TEST_ETCD_URL is a url");
    url.set_path(prefix);
    url.query_pairs_mut()
        .append_pair("ttl", &format!("{}s", TTL.as_secs()));
    url.into()
}

fn config(url: &str) -> RegistryConfig {
    RegistryConfig {
        url: SecretUrl::new(url),
        ..RegistryConfig::default()
    }
}

/// One registry handle on `url`, as one process would have.
async fn handle(url: &str) -> EtcdRegistry {
    EtcdRegistry::connect(&config(url))
        .await
        .expect("connect to etcd")
}

fn instance(service: ServiceName, node: &str, port: u16) -> Instance {
    Instance {
        service,
        id: format!("{node}/{service}"),
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

async fn ids(registry: &dyn Registry, service: ServiceName) -> Vec<String> {
    let started = Instant::now();
    let found = registry.resolve(service).await.expect("resolve");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "resolve answers from the local view, without waiting on etcd"
    );
    found.into_iter().map(|instance| instance.id).collect()
}

/// Polls `check` until it holds; returns how long that took.
///
/// # Panics
/// When it still does not hold after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
