use im_runtime::bus::{self, MemoryBus};
use im_runtime::secret::SecretUrl;
use std::sync::Arc;

#[tokio::test]
async fn memory_bus_keeps_the_contract() {
    im_testkit::contract::bus(Arc::new(MemoryBus::default())).await;
}

#[tokio::test]
async fn bus_url_selects_the_adapter() {
    assert!(bus::connect(&SecretUrl::new("memory://")).await.is_ok());
    assert!(
        bus::connect(&SecretUrl::new("carrier-pigeon://"))
            .await
            .is_err()
    );
}
