//! The behaviour every bus adapter must have.
//!
//! Written against partitioned buses: records of one key share a partition and keep
//! their order, but offsets of different partitions (keys) are never compared.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a contract fails loudly by design

use im_runtime::bus::{Bus, Delivery, Record, StartAt, Subscription};
use std::sync::Arc;
use std::time::Duration;

/// How long a record may take to arrive (a Kafka group joins in a few seconds).
const ARRIVAL: Duration = Duration::from_secs(20);
/// How long to watch for records that must not arrive.
const QUIET: Duration = Duration::from_millis(1500);

async fn next(sub: &mut Box<dyn Subscription>) -> Delivery {
    tokio::time::timeout(ARRIVAL, sub.next())
        .await
        .unwrap_or_else(|_| panic!("a record within {ARRIVAL:?}"))
        .expect("subscription open")
}

async fn nothing_more(sub: &mut Box<dyn Subscription>) {
    if let Ok(delivery) = tokio::time::timeout(QUIET, sub.next()).await {
        panic!("unexpected record {:?}", delivery.map(|d| d.record));
    }
}

fn payload(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.record.payload).into_owned()
}

/// The behaviour every bus adapter must have.
pub async fn bus(bus: Arc<dyn Bus>) {
    bus.ping().await.unwrap();
    order_commits_and_groups(&bus).await;
    latest_skips_what_was_published(&bus).await;
    latest_resumes_after_its_commits(&bus).await;
}

async fn order_commits_and_groups(bus: &Arc<dyn Bus>) {
    let topic = crate::unique_name("bustest");
    let (group_a, group_b) = (crate::unique_name("group_a"), crate::unique_name("group_b"));

    // published before anyone subscribed: a new group still sees it
    bus.publish(
        &topic,
        Record::new("conv-1", "m1").with_header("traceparent", "t1"),
    )
    .await
    .unwrap();
    let mut a = bus.subscribe(&topic, &group_a).await.unwrap();
    let first = next(&mut a).await;
    assert_eq!(first.topic, topic);
    assert_eq!(first.record.key, "conv-1");
    assert_eq!(payload(&first), "m1");
    assert_eq!(
        first.record.headers,
        vec![("traceparent".to_owned(), "t1".to_owned())]
    );

    // per-key order holds, within one partition, at increasing offsets
    for i in 2..=5 {
        bus.publish(&topic, Record::new("conv-1", format!("m{i}")))
            .await
            .unwrap();
    }
    let mut seen = vec![first.clone()];
    for _ in 2..=5 {
        seen.push(next(&mut a).await);
    }
    let payloads: Vec<_> = seen.iter().map(payload).collect();
    assert_eq!(payloads, ["m1", "m2", "m3", "m4", "m5"]);
    assert!(seen.iter().all(|d| d.partition == first.partition));
    assert!(seen.windows(2).all(|w| w[0].offset < w[1].offset));

    // at-least-once: commit up to m3, drop the consumer, a new one resumes at m4
    a.commit(&seen[2]).await.unwrap();
    drop(a);
    let mut a2 = bus.subscribe(&topic, &group_a).await.unwrap();
    let m4 = next(&mut a2).await;
    assert_eq!(payload(&m4), "m4");
    assert_eq!(m4.offset, seen[3].offset, "the same record, redelivered");

    // another group sees everything independently
    let mut b = bus.subscribe(&topic, &group_b).await.unwrap();
    assert_eq!(payload(&next(&mut b).await), "m1");

    // a waiting consumer wakes up on publish
    let waiter = tokio::spawn(async move {
        let mut sub = a2;
        let m5 = next(&mut sub).await;
        let m6 = next(&mut sub).await;
        let m7 = next(&mut sub).await;
        (m5, m6, m7)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    bus.publish(&topic, Record::new("conv-2", "m6"))
        .await
        .unwrap();
    bus.publish(&topic, Record::new("conv-2", "m7"))
        .await
        .unwrap();
    let (m5, m6, m7) = waiter.await.unwrap();
    // m5 (conv-1) and the conv-2 records may live in different partitions: only the
    // order within conv-2 is promised across keys
    let mut rest = [payload(&m5), payload(&m6), payload(&m7)];
    rest.sort();
    assert_eq!(rest, ["m5", "m6", "m7"]);
    let conv2: Vec<_> = [&m5, &m6, &m7]
        .into_iter()
        .filter(|d| d.record.key == "conv-2")
        .collect();
    assert_eq!(payload(conv2[0]), "m6");
    assert_eq!(payload(conv2[1]), "m7");
    assert_eq!(conv2[0].partition, conv2[1].partition);
    assert!(conv2[0].offset < conv2[1].offset);
}

/// Keys spread over every partition of a partitioned bus.
fn keys() -> impl Iterator<Item = String> {
    (0..16).map(|k| format!("conv-{k}"))
}

async fn latest_skips_what_was_published(bus: &Arc<dyn Bus>) {
    let topic = crate::unique_name("bustest");
    let group = crate::unique_name("group_latest");
    for key in keys() {
        bus.publish(&topic, Record::new(key.clone(), format!("old {key}")))
            .await
            .unwrap();
    }

    let mut latest = bus
        .subscribe_from(&topic, &group, StartAt::Latest)
        .await
        .unwrap();
    // published right after subscribing (before the consumer ever asked): delivered
    for key in keys() {
        bus.publish(&topic, Record::new(key.clone(), format!("new {key}")))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in keys() {
        got.push(payload(&next(&mut latest).await));
    }
    got.sort();
    let mut expected: Vec<_> = keys().map(|key| format!("new {key}")).collect();
    expected.sort();
    assert_eq!(got, expected, "only what was published after subscribing");
    nothing_more(&mut latest).await;

    // an Earliest group on the same topic still sees the old records
    let mut earliest = bus
        .subscribe(&topic, &crate::unique_name("group_earliest"))
        .await
        .unwrap();
    assert!(next(&mut earliest).await.record.payload.starts_with(b"old"));
}

async fn latest_resumes_after_its_commits(bus: &Arc<dyn Bus>) {
    let topic = crate::unique_name("bustest");
    let group = crate::unique_name("group_latest");
    bus.publish(&topic, Record::new("conv-1", "before"))
        .await
        .unwrap();

    // the start position belongs to the group as soon as it subscribed: what is
    // published while no consumer runs is delivered to the group's next consumer
    let sub = bus
        .subscribe_from(&topic, &group, StartAt::Latest)
        .await
        .unwrap();
    drop(sub);
    bus.publish(&topic, Record::new("conv-1", "while away"))
        .await
        .unwrap();
    let mut sub = bus
        .subscribe_from(&topic, &group, StartAt::Latest)
        .await
        .unwrap();
    let away = next(&mut sub).await;
    assert_eq!(payload(&away), "while away");

    // and after a commit it resumes after the commit, not at the end
    bus.publish(&topic, Record::new("conv-1", "uncommitted"))
        .await
        .unwrap();
    assert_eq!(payload(&next(&mut sub).await), "uncommitted");
    sub.commit(&away).await.unwrap();
    drop(sub);
    let mut sub = bus
        .subscribe_from(&topic, &group, StartAt::Latest)
        .await
        .unwrap();
    assert_eq!(payload(&next(&mut sub).await), "uncommitted");
}
