use crate::{config, fresh_url};
use im_runtime::registry::RegistryError;
use std::time::{Duration, Instant};

#[tokio::test]
async fn etcd_registry_keeps_the_contract() {
    let Some(url) = fresh_url() else { return };
    let registry = im_registry_etcd::connect(&config(&url)).await.unwrap();
    im_testkit::contract::registry(registry).await;
}

#[tokio::test]
async fn an_unreachable_etcd_fails_start_up_promptly() {
    let url = format!("etcd://127.0.0.1:{}", im_testkit::servers::free_port());
    let started = Instant::now();
    let connected = im_registry_etcd::connect(&config(&url)).await;
    assert!(
        matches!(connected, Err(RegistryError::Unavailable(_))),
        "nothing listens there"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
