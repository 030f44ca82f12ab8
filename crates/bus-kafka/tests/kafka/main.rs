//! The Kafka bus against a real broker (`IM_TEST_KAFKA_URL`, default
//! `kafka://127.0.0.1:9092`). Each test works in a namespace of its own, so tests run
//! in parallel on one broker without seeing each other's topics or groups.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod failures;
mod groups;
mod latest;
mod records;
mod sockets;

use im_runtime::bus::{Bus, Delivery, Subscription};
use im_runtime::secret::SecretUrl;
use std::sync::Arc;
use std::time::Duration;

/// The broker URL scoped to `namespace`, or `None` (with a note) without a broker.
fn broker_url(namespace: &str) -> Option<String> {
    let Some(base) = im_testkit::kafka() else {
        eprintln!("skipped: no Kafka broker (start one or set IM_TEST_KAFKA_URL)");
        return None;
    };
    let mut url = url::Url::parse(&base).expect("IM_TEST_KAFKA_URL is a url");
    let path = match url.path().trim_matches('/') {
        "" => namespace.to_owned(),
        outer => format!("{outer}.{namespace}"),
    };
    url.set_path(&path);
    Some(url.into())
}

/// Logs (librdkafka's among them) as `RUST_LOG` asks, shown for failing tests.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A bus on the test broker in a fresh namespace, or `None` without a broker.
async fn fresh_bus() -> Option<(Arc<dyn Bus>, String)> {
    init_tracing();
    let url = broker_url(&im_testkit::unique_name("test"))?;
    Some((connect(&url).await, url))
}

/// Another instance of the adapter on `url`, as a second process would have.
async fn connect(url: &str) -> Arc<dyn Bus> {
    im_bus_kafka::connect(&SecretUrl::new(url))
        .await
        .expect("a kafka:// url")
}

/// Group joins and rebalances take a few seconds on Kafka.
const ARRIVAL: Duration = Duration::from_secs(30);

async fn next(sub: &mut Box<dyn Subscription>) -> Delivery {
    tokio::time::timeout(ARRIVAL, sub.next())
        .await
        .unwrap_or_else(|_| panic!("a record within {ARRIVAL:?}"))
        .expect("subscription open")
}

fn payload(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.record.payload).into_owned()
}
