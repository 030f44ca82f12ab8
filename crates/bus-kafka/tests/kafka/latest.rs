//! A group created with `StartAt::Latest` skips what was published before it.

use crate::{fresh_bus, next, payload};
use im_runtime::bus::{Record, StartAt};
use std::time::Duration;

#[tokio::test]
async fn a_latest_group_does_not_see_old_records_but_an_earliest_one_does() {
    let Some((bus, _)) = fresh_bus().await else {
        return;
    };
    let keys: Vec<_> = (0..24).map(|k| format!("conv-{k}")).collect();
    for key in &keys {
        bus.publish("feed", Record::new(key.clone(), "old"))
            .await
            .unwrap();
    }

    let mut earliest = bus.subscribe("feed", "archive").await.unwrap();
    let mut latest = bus
        .subscribe_from("feed", "gateway-node-1", StartAt::Latest)
        .await
        .unwrap();
    for key in &keys {
        bus.publish("feed", Record::new(key.clone(), "new"))
            .await
            .unwrap();
    }

    for _ in &keys {
        assert_eq!(payload(&next(&mut latest).await), "new");
    }
    let more = tokio::time::timeout(Duration::from_secs(2), latest.next()).await;
    assert!(more.is_err(), "nothing else: {more:?}");

    let mut seen: Vec<_> = Vec::new();
    for _ in 0..keys.len() * 2 {
        seen.push(payload(&next(&mut earliest).await));
    }
    assert_eq!(seen.iter().filter(|p| *p == "old").count(), keys.len());
}
