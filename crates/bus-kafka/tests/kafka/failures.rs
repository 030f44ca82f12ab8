//! An unreachable broker fails calls in bounded time instead of hanging them.

use im_runtime::bus::{BusError, Record};
use im_runtime::secret::SecretUrl;
use std::time::{Duration, Instant};

/// Port 1 on loopback: nothing listens, connections are refused at once.
const NOWHERE: &str = "kafka://127.0.0.1:1/unreachable";
const BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_unreachable_broker_makes_calls_fail_not_hang() {
    let bus = im_bus_kafka::connect(&SecretUrl::new(NOWHERE))
        .await
        .expect("connecting contacts nobody yet");

    let started = Instant::now();
    let (ping, publish, subscribe) = tokio::time::timeout(BOUND, async {
        tokio::join!(
            bus.ping(),
            bus.publish("events", Record::new("k", "v")),
            bus.subscribe("events", "group"),
        )
    })
    .await
    .expect("every call returns");
    assert!(matches!(ping, Err(BusError::Unavailable(_))), "{ping:?}");
    assert!(
        matches!(publish, Err(BusError::Unavailable(_))),
        "{publish:?}"
    );
    assert!(matches!(subscribe, Err(BusError::Unavailable(_))));
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_malformed_url_is_refused() {
    for url in [
        "kafka://host?partitions=none",
        "kafka://host/a/b",
        "kafka://",
    ] {
        let refused = im_bus_kafka::connect(&SecretUrl::new(url)).await;
        assert!(matches!(refused, Err(BusError::InvalidUrl(_))), "{url}");
    }
    let refused = im_bus_kafka::connect(&SecretUrl::new("memory://")).await;
    assert!(matches!(refused, Err(BusError::UnsupportedScheme(_))));
}
