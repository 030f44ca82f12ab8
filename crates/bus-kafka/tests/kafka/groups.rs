//! Members of one group share the partitions; when one goes away, what it had not
//! committed goes to the others.

use crate::{fresh_bus, payload};
use im_runtime::bus::{Bus, Record, Subscription};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const TOPIC: &str = "work";
const GROUP: &str = "workers";
/// Generous: a rebalance takes a session timeout (15 s) at worst, plus the join.
const PATIENCE: Duration = Duration::from_secs(60);

/// Consumes into `seen`, committing each record only when `commits`.
fn member(
    id: usize,
    mut sub: Box<dyn Subscription>,
    commits: bool,
    seen: mpsc::UnboundedSender<(usize, String)>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let delivery = sub.next().await.expect("subscription open");
            if commits {
                sub.commit(&delivery).await.expect("commit");
            }
            if seen.send((id, payload(&delivery))).is_err() {
                return;
            }
        }
    })
}

async fn publish_batch(bus: &Arc<dyn Bus>, batch: usize, published: &mut BTreeSet<String>) {
    for k in 0..16 {
        let payload = format!("batch {batch} conv {k}");
        bus.publish(TOPIC, Record::new(format!("conv-{k}"), payload.clone()))
            .await
            .unwrap();
        published.insert(payload);
    }
}

/// Collects what arrives for `quiet`, or until `done` holds.
async fn collect(
    seen: &mut mpsc::UnboundedReceiver<(usize, String)>,
    by_member: &mut HashMap<usize, BTreeSet<String>>,
    deadline: Instant,
    done: impl Fn(&HashMap<usize, BTreeSet<String>>) -> bool,
) {
    while !done(by_member) {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some((id, payload))) => {
                by_member.entry(id).or_default().insert(payload);
            }
            Ok(None) => panic!("every member stopped"),
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_member_s_uncommitted_records_go_to_the_one_left() {
    let Some((publisher, url)) = fresh_bus().await else {
        return;
    };
    // two instances, as two processes of one service would be
    let (first_bus, second_bus) = (crate::connect(&url).await, crate::connect(&url).await);
    let (tx, mut seen) = mpsc::unbounded_channel();
    let forgetful = member(
        1,
        first_bus.subscribe(TOPIC, GROUP).await.unwrap(),
        false,
        tx.clone(),
    );
    let diligent = member(
        2,
        second_bus.subscribe(TOPIC, GROUP).await.unwrap(),
        true,
        tx,
    );

    // publish until both members got records: the group formed with both, sharing
    // the partitions
    let mut published = BTreeSet::new();
    let mut by_member = HashMap::new();
    let deadline = Instant::now() + PATIENCE;
    let mut batch = 0;
    while by_member.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the members never shared the partitions"
        );
        publish_batch(&publisher, batch, &mut published).await;
        batch += 1;
        let round = Instant::now() + Duration::from_secs(3);
        collect(&mut seen, &mut by_member, round, |_| false).await;
    }
    let taken_by_first = by_member[&1].clone();

    // the first member goes away without committing anything
    forgetful.abort();
    let _ = forgetful.await;
    publish_batch(&publisher, batch, &mut published).await;

    let deadline = Instant::now() + PATIENCE;
    collect(&mut seen, &mut by_member, deadline, |m| {
        m.get(&2)
            .is_some_and(|second| second.is_superset(&published))
    })
    .await;
    let second = &by_member[&2];
    let missing: Vec<_> = published.difference(second).collect();
    assert!(
        missing.is_empty(),
        "never reached the member left: {missing:?}"
    );
    assert!(
        taken_by_first.is_subset(second),
        "the first member's records were redelivered"
    );
    diligent.abort();
}
