//! What a record carries, and the order records of one key keep.

use crate::{fresh_bus, next, payload};
use im_runtime::bus::Record;
use std::collections::BTreeMap;

#[tokio::test]
async fn key_payload_and_headers_arrive_as_published() {
    let Some((bus, _)) = fresh_bus().await else {
        return;
    };
    let published = Record::new("conversation-ü-1", "hello\0world")
        .with_header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .with_header("tracestate", "im=1")
        .with_header("x-repeated", "first")
        .with_header("x-repeated", "second")
        .with_header("x-empty", "")
        .with_header("x-text", "héllo wörld");
    bus.publish("records", published.clone()).await.unwrap();
    bus.publish("records", Record::new("", "")).await.unwrap();

    let mut sub = bus.subscribe("records", "readers").await.unwrap();
    let first = next(&mut sub).await;
    assert_eq!(
        first.topic, "records",
        "the namespace stays the adapter's business"
    );
    assert_eq!(first.record, published);
    let bare = next(&mut sub).await;
    assert_eq!(bare.record, Record::new("", ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_keeps_its_order_under_concurrent_publishers() {
    const PUBLISHERS: usize = 4;
    const KEYS_PER_PUBLISHER: usize = 8;
    const PER_KEY: usize = 25;
    let Some((bus, url)) = fresh_bus().await else {
        return;
    };

    let mut publishers = Vec::new();
    for publisher in 0..PUBLISHERS {
        // each publisher is an instance of its own, like the nodes of a cluster
        let bus = crate::connect(&url).await;
        publishers.push(tokio::spawn(async move {
            let keys = (0..KEYS_PER_PUBLISHER).map(|k| {
                let bus = bus.clone();
                async move {
                    let key = format!("conv-{publisher}-{k}");
                    for seq in 0..PER_KEY {
                        bus.publish("ordered", Record::new(key.clone(), seq.to_string()))
                            .await
                            .unwrap();
                    }
                }
            });
            futures::future::join_all(keys).await;
        }));
    }

    let mut sub = bus.subscribe("ordered", "readers").await.unwrap();
    let mut by_key: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for _ in 0..PUBLISHERS * KEYS_PER_PUBLISHER * PER_KEY {
        let delivery = next(&mut sub).await;
        by_key
            .entry(delivery.record.key.clone())
            .or_default()
            .push(delivery);
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }

    assert_eq!(by_key.len(), PUBLISHERS * KEYS_PER_PUBLISHER);
    let expected: Vec<_> = (0..PER_KEY).map(|seq| seq.to_string()).collect();
    for (key, deliveries) in &by_key {
        let seqs: Vec<_> = deliveries.iter().map(payload).collect();
        assert_eq!(seqs, expected, "order of {key}");
        assert!(
            deliveries
                .windows(2)
                .all(|w| w[0].partition == w[1].partition && w[0].offset < w[1].offset),
            "{key} stays in one partition, at increasing offsets"
        );
    }
    let partitions: std::collections::BTreeSet<_> = by_key
        .values()
        .map(|deliveries| deliveries[0].partition)
        .collect();
    assert!(
        partitions.len() > 1,
        "keys spread over partitions: {partitions:?}"
    );
}
