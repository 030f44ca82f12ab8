use im_runtime::bus::{self, Bus, MemoryBus, Record};
use im_runtime::secret::SecretUrl;
use std::sync::Arc;
use std::time::Duration;

async fn next(sub: &mut Box<dyn bus::Subscription>) -> bus::Delivery {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a record within 5 s")
        .expect("subscription open")
}

/// The behaviour every bus adapter must have.
async fn contract(bus: Arc<dyn Bus>) {
    let topic = im_testkit::unique_name("bustest");
    bus.ping().await.unwrap();

    // published before anyone subscribed: a new group still sees it
    bus.publish(
        &topic,
        Record::new("conv-1", "m1").with_header("traceparent", "t1"),
    )
    .await
    .unwrap();
    let mut a = bus.subscribe(&topic, "group-a").await.unwrap();
    let first = next(&mut a).await;
    assert_eq!(first.record.key, "conv-1");
    assert_eq!(&first.record.payload[..], b"m1");
    assert_eq!(
        first.record.headers,
        vec![("traceparent".to_owned(), "t1".to_owned())]
    );

    // per-key order holds
    for i in 2..=5 {
        bus.publish(&topic, Record::new("conv-1", format!("m{i}")))
            .await
            .unwrap();
    }
    let mut seen = vec![first.clone()];
    for _ in 2..=5 {
        seen.push(next(&mut a).await);
    }
    let payloads: Vec<_> = seen
        .iter()
        .map(|d| String::from_utf8_lossy(&d.record.payload).into_owned())
        .collect();
    assert_eq!(payloads, ["m1", "m2", "m3", "m4", "m5"]);

    // at-least-once: commit up to m3, drop the consumer, a new one resumes at m4
    a.commit(&seen[2]).await.unwrap();
    drop(a);
    let mut a2 = bus.subscribe(&topic, "group-a").await.unwrap();
    assert_eq!(&next(&mut a2).await.record.payload[..], b"m4");

    // another group sees everything independently
    let mut b = bus.subscribe(&topic, "group-b").await.unwrap();
    assert_eq!(&next(&mut b).await.record.payload[..], b"m1");

    // a waiting consumer wakes up on publish
    let waiter = tokio::spawn(async move {
        let mut sub = a2;
        let m5 = next(&mut sub).await;
        let m6 = next(&mut sub).await;
        (m5, m6)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    bus.publish(&topic, Record::new("conv-2", "m6"))
        .await
        .unwrap();
    let (m5, m6) = waiter.await.unwrap();
    assert_eq!(&m5.record.payload[..], b"m5");
    assert_eq!(&m6.record.payload[..], b"m6");
    assert!(m6.offset > m5.offset);
}

#[tokio::test]
async fn memory_bus_keeps_the_contract() {
    contract(Arc::new(MemoryBus::default())).await;
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
