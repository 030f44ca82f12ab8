//! The distributed mode as DESIGN.md section 6 promises it, one scenario per failure:
//! each starts its own cluster, drives chat across both gateways and breaks one part.

use crate::api::Api;
use crate::chat::{self, Acked, Received};
use crate::cluster::{Cluster, Machine};
use crate::limits;
use crate::people::{User, friends_in_a_direct_chat, group, user};
use crate::ws::Client;
use std::time::Duration;
use tokio::sync::watch;

/// How long readers wait for what was acked (failover included).
const PATIENCE: Duration = Duration::from_secs(45);
/// Pause between one sender's messages: steady traffic, not a flood.
const PACE: Duration = Duration::from_millis(60);

struct Setup {
    cluster: Cluster,
    api1: Api,
    api2: Api,
    alice: User,
    bob: User,
    direct: String,
}

/// A cluster, alice (on gateway-1) and bob (on gateway-2), friends with a direct chat.
async fn setup(extra: &[(&str, &str)]) -> Option<Setup> {
    let machine = Machine::find()?;
    let cluster = Cluster::start(&machine, extra).await;
    let api1 = cluster.api("gateway-1");
    let api2 = cluster.api("gateway-2");
    let (alice, bob, direct) = friends_in_a_direct_chat(&api1).await;
    Some(Setup {
        cluster,
        api1,
        api2,
        alice,
        bob,
        direct,
    })
}

/// A WebSocket reader on `gateway` that has synced `conversation` (so from now on every
/// message is pushed), running until it has `want`.
async fn start_reader(
    cluster: &Cluster,
    gateway: &str,
    who: &User,
    conversation: &str,
    want: watch::Receiver<Option<Vec<u64>>>,
) -> tokio::task::JoinHandle<(Client, Received)> {
    start_patient_reader(cluster, gateway, who, conversation, want, PATIENCE).await
}

async fn start_patient_reader(
    cluster: &Cluster,
    gateway: &str,
    who: &User,
    conversation: &str,
    want: watch::Receiver<Option<Vec<u64>>>,
    patience: Duration,
) -> tokio::task::JoinHandle<(Client, Received)> {
    let mut client = Client::connect(&cluster.http_base(gateway), &who.token).await;
    client.sync(conversation, 0).await;
    tokio::spawn(chat::reader(
        client,
        conversation.to_owned(),
        want,
        patience,
    ))
}

/// alice on gateway-1 and bob on gateway-2, each reading the direct chat.
struct DirectReaders {
    want: watch::Sender<Option<Vec<u64>>>,
    handles: Vec<(&'static str, tokio::task::JoinHandle<(Client, Received)>)>,
}

impl DirectReaders {
    async fn start(s: &Setup) -> Self {
        Self::start_patient(s, PATIENCE).await
    }

    /// Readers that wait up to `patience` for what was acked.
    async fn start_patient(s: &Setup, patience: Duration) -> Self {
        let (want, target) = watch::channel(None);
        let mut handles = Vec::new();
        for (who, gateway, user) in [
            ("alice", "gateway-1", &s.alice),
            ("bob", "gateway-2", &s.bob),
        ] {
            let reader = start_patient_reader(
                &s.cluster,
                gateway,
                user,
                &s.direct,
                target.clone(),
                patience,
            )
            .await;
            handles.push((who, reader));
        }
        Self { want, handles }
    }

    /// Every one of `seqs` reached both readers live, exactly once in order.
    async fn expect_live(self, seqs: &[u64]) {
        self.want.send_replace(Some(seqs.to_vec()));
        for (who, reader) in self.handles {
            let (_, received) = reader.await.unwrap();
            received.assert_has_all(seqs, &format!("{who}: every message pushed live"));
            received.assert_live_in_order(who);
            received.assert_gapless(who);
        }
    }
}

fn all_seqs(acks: &[&Acked]) -> Vec<u64> {
    let mut seqs: Vec<u64> = acks.iter().flat_map(|a| a.seqs()).collect();
    seqs.sort_unstable();
    seqs
}

#[tokio::test]
async fn clients_on_different_gateways_chat_once_and_in_order() {
    let Some(s) = setup(&[]).await else { return };
    let carol = user(&s.api1, "carol", "tablet").await;
    let dave = user(&s.api2, "dave", "desktop").await;
    let team = group(&s.api1, &s.alice, &[&s.bob, &carol, &dave], "team").await;

    let (want_direct, direct_target) = watch::channel(None);
    let (want_team, team_target) = watch::channel(None);
    let direct_readers = [
        start_reader(
            &s.cluster,
            "gateway-1",
            &s.alice,
            &s.direct,
            direct_target.clone(),
        )
        .await,
        start_reader(&s.cluster, "gateway-2", &s.bob, &s.direct, direct_target).await,
    ];
    let team_readers = [
        start_reader(
            &s.cluster,
            "gateway-1",
            &s.alice,
            &team,
            team_target.clone(),
        )
        .await,
        start_reader(&s.cluster, "gateway-2", &s.bob, &team, team_target.clone()).await,
        start_reader(&s.cluster, "gateway-1", &carol, &team, team_target.clone()).await,
        start_reader(&s.cluster, "gateway-2", &dave, &team, team_target).await,
    ];

    // Everyone sends at once, each through their own gateway.
    let patience = Duration::from_secs(20);
    let (a, b, ta, tb, tc, td) = tokio::join!(
        chat::send_via(&s.api1, &s.alice, &s.direct, "a", 25, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &s.direct, "b", 25, PACE, patience),
        chat::send_via(&s.api1, &s.alice, &team, "ta", 10, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &team, "tb", 10, PACE, patience),
        chat::send_via(&s.api1, &carol, &team, "tc", 10, PACE, patience),
        chat::send_via(&s.api2, &dave, &team, "td", 10, PACE, patience),
    );
    let direct_seqs = all_seqs(&[&a, &b]);
    assert_eq!(
        direct_seqs,
        (1..=50).collect::<Vec<_>>(),
        "one seq per message"
    );
    want_direct.send_replace(Some(direct_seqs.clone()));
    want_team.send_replace(Some(all_seqs(&[&ta, &tb, &tc, &td])));

    for (reader, who) in direct_readers.into_iter().zip(["alice", "bob"]) {
        let (_, received) = reader.await.unwrap();
        received.assert_has_all(&direct_seqs, &format!("{who}: every direct message pushed"));
        received.assert_live_in_order(who);
        received.assert_gapless(who);
    }
    let team_seqs = all_seqs(&[&ta, &tb, &tc, &td]);
    for (reader, who) in team_readers
        .into_iter()
        .zip(["alice", "bob", "carol", "dave"])
    {
        let (_, received) = reader.await.unwrap();
        received.assert_has_all(&team_seqs, &format!("{who}: every group message pushed"));
        received.assert_live_in_order(who);
        received.assert_gapless(who); // the group's system messages included
    }
}

#[tokio::test]
async fn a_killed_gateway_s_clients_reconnect_to_the_other_and_lose_nothing() {
    let Some(mut s) = setup(&[]).await else {
        return;
    };
    let (want, target) = watch::channel(None);
    let alice_reader =
        start_reader(&s.cluster, "gateway-1", &s.alice, &s.direct, target.clone()).await;
    let bob_reader = start_reader(&s.cluster, "gateway-2", &s.bob, &s.direct, target).await;

    let patience = Duration::from_secs(30);
    let bob_sends = chat::send_via(&s.api2, &s.bob, &s.direct, "b", 60, PACE, patience);
    // alice sends through gateway-1 until it dies, then through gateway-2 (the app's
    // retry with the same client message id: stored at most once).
    let both_gateways = [&s.api1, &s.api2];
    let alice_sends = chat::send_many(&both_gateways, &s.alice, &s.direct, "a", 60, PACE, patience);
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        s.cluster.kill("gateway-1");
    };
    let t0 = std::time::Instant::now();
    let (a, b, ()) = tokio::join!(alice_sends, bob_sends, kill);
    eprintln!("TIMING sends done {:?}", t0.elapsed());
    let seqs = all_seqs(&[&a, &b]);
    assert_eq!(
        seqs,
        (1..=120).collect::<Vec<_>>(),
        "each message stored once"
    );
    want.send_replace(Some(seqs.clone()));

    // alice's socket went down with gateway-1: she reconnects to gateway-2 and syncs.
    let (old_client, mut alice_received) = alice_reader.await.unwrap();
    eprintln!("TIMING alice reader done {:?}", t0.elapsed());
    assert!(
        old_client.is_closed(),
        "alice's socket closed with gateway-1"
    );
    assert!(
        !alice_received.has_all(&seqs),
        "the kill happened mid-traffic (alice had not received everything yet)"
    );
    let mut client = Client::connect(&s.cluster.http_base("gateway-2"), &s.alice.token).await;
    chat::sync_all(&mut client, &s.direct, &mut alice_received).await;
    alice_received.assert_has_all(&seqs, "alice: nothing acked is lost");
    alice_received.assert_gapless("alice");

    eprintln!("TIMING alice synced {:?}", t0.elapsed());
    let (_, bob_received) = bob_reader.await.unwrap();
    eprintln!("TIMING bob done {:?}", t0.elapsed());
    bob_received.assert_has_all(&seqs, "bob: every message pushed live");
    bob_received.assert_live_in_order("bob");
    bob_received.assert_gapless("bob");
}

/// Both readers stay connected; the senders keep going while the delivery instance that
/// owns the conversation's partition is killed, and an orchestrator starts it again. Its
/// uncommitted records are pushed again (at-least-once: repeats allowed, none lost).
///
/// With Kafka the surviving instance would take the partition over after the session
/// timeout; tansu 0.6 (the broker here) gives survivors their old assignment back after
/// expelling a killed member and moves its partitions only when a member joins, so this
/// scenario has the killed instance come back, as Kubernetes would restart it.
#[tokio::test]
async fn a_killed_delivery_instance_loses_no_pushes() {
    let Some(mut s) = setup(&[]).await else {
        return;
    };
    let readers = DirectReaders::start(&s).await;
    let patience = Duration::from_secs(20);
    // Kill the instance that is pushing this conversation's messages (the owner of its
    // partition), so the other must take the partition over.
    let kill = async {
        // The owner is the instance pushing now: its count grows while the other's
        // stands still (both may have pushed before the group settled).
        let started = std::time::Instant::now();
        let mut last = [0.0, 0.0];
        let mut busy = None;
        while started.elapsed() < Duration::from_secs(20) && busy.is_none() {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut now = [0.0, 0.0];
            for (i, name) in ["delivery-1", "delivery-2"].into_iter().enumerate() {
                now[i] = s
                    .cluster
                    .counter(name, "im_delivery_events_total", "topic=\"message\"")
                    .await;
            }
            let grew = [now[0] - last[0], now[1] - last[1]];
            busy = match grew {
                [d1, d2] if d1 >= 3.0 && d2 == 0.0 => Some("delivery-1"),
                [d1, d2] if d2 >= 3.0 && d1 == 0.0 => Some("delivery-2"),
                _ => None,
            };
            last = now;
        }
        let busy = busy.expect("one delivery instance owns the conversation's partition");
        s.cluster.kill(busy);
        busy
    };
    let (a, b, killed) = tokio::join!(
        chat::send_via(&s.api1, &s.alice, &s.direct, "a", 50, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &s.direct, "b", 50, PACE, patience),
        kill,
    );
    let survivor = if killed == "delivery-1" {
        "delivery-2"
    } else {
        "delivery-1"
    };
    let pushed_before = s
        .cluster
        .counter(survivor, "im_delivery_events_total", "topic=\"message\"")
        .await;
    // tansu expels a silent member after its session timeout (15 s); a replacement that
    // joined before that would share the rebalance with the dead member's ghost.
    tokio::time::sleep(im_bus_kafka::SESSION_TIMEOUT + Duration::from_secs(2)).await;
    s.cluster.start_process(killed);
    // Sent once the instance is back: whatever the kill caught in flight (the sends may
    // all have been pushed before it), these need an owner of the partition.
    let after = chat::send_via(&s.api1, &s.alice, &s.direct, "c", 10, PACE, patience).await;
    let seqs = all_seqs(&[&a, &b, &after]);
    assert_eq!(seqs, (1..=110).collect::<Vec<_>>());
    readers.expect_live(&seqs).await;
    // The group rebalanced when the instance came back: both now take part.
    let survivor_after = s
        .cluster
        .counter(survivor, "im_delivery_events_total", "topic=\"message\"")
        .await;
    let restarted = s
        .cluster
        .counter(killed, "im_delivery_events_total", "topic=\"message\"")
        .await;
    assert!(
        restarted + survivor_after - pushed_before >= 10.0,
        "the conversation's partition has an owner again"
    );
}

/// The broker frozen for 10 s (SIGSTOP: it holds its connections and answers nothing):
/// sends are still acked (stored with their outbox rows), pushes resume afterwards.
#[tokio::test]
async fn sends_are_acked_through_a_broker_outage_and_pushes_resume() {
    let Some(s) = setup(&[]).await else {
        return;
    };
    // tansu may need up to 45 s after a long pause to get a consumer group going again
    // (see docs/OPERATIONS.md); Kafka rebalances within its session timeout.
    let readers = DirectReaders::start_patient(&s, Duration::from_secs(100)).await;
    let before = chat::send_via(
        &s.api1,
        &s.alice,
        &s.direct,
        "before",
        5,
        PACE,
        Duration::from_secs(10),
    )
    .await;
    // Pushes are flowing (the consumer groups have settled) before the outage.
    let settled = crate::process::eventually(Duration::from_secs(20), || async {
        let mut pushed = 0.0;
        for name in ["delivery-1", "delivery-2"] {
            pushed += s
                .cluster
                .counter(name, "im_delivery_events_total", "topic=\"message\"")
                .await;
        }
        pushed >= 5.0
    })
    .await;
    assert!(settled, "the first messages were pushed before the outage");
    s.cluster.broker.pause();
    let started = std::time::Instant::now();
    let during = chat::send_via(
        &s.api2,
        &s.bob,
        &s.direct,
        "during",
        20,
        Duration::from_millis(200),
        Duration::from_secs(5),
    )
    .await;
    let paused_for = started.elapsed();
    assert!(
        paused_for < Duration::from_secs(10),
        "sends kept being acked promptly while the broker was down ({paused_for:?})"
    );
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(paused_for)).await;
    s.cluster.broker.resume();
    let after = chat::send_via(
        &s.api1,
        &s.alice,
        &s.direct,
        "after",
        5,
        PACE,
        Duration::from_secs(20),
    )
    .await;
    let seqs = all_seqs(&[&before, &during, &after]);
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    readers.expect_live(&seqs).await;
}

/// Presence killed: delivery no longer knows where devices are and pushes to every
/// gateway; chat goes on.
#[tokio::test]
async fn chat_continues_with_presence_down() {
    let Some(mut s) = setup(&[]).await else {
        return;
    };
    let readers = DirectReaders::start(&s).await;
    s.cluster.kill("presence");
    let patience = Duration::from_secs(20);
    let (a, b) = tokio::join!(
        chat::send_via(&s.api1, &s.alice, &s.direct, "a", 20, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &s.direct, "b", 20, PACE, patience),
    );
    let seqs = all_seqs(&[&a, &b]);
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    readers.expect_live(&seqs).await;
}

/// The per-user budget is one budget across both gateways (Redis): a burst from alice
/// spread over both gets 429s with `Retry-After` while bob is unaffected. Then Redis is
/// killed: logins (their failure counters), chat (presence, caches) and rate limits go
/// on with each process's local fallback.
#[tokio::test]
async fn limits_are_shared_and_with_redis_down_login_chat_and_limits_continue() {
    let Some(mut s) = setup(limits::TIGHT).await else {
        return;
    };
    let both_gateways = [&s.api1, &s.api2];
    let (flood, bob_ok) = tokio::join!(
        limits::burst(&both_gateways, &s.alice, 200),
        limits::polite(&s.api2, &s.bob, 10),
    );
    assert!(
        flood.limited > 0,
        "a burst past the budget is refused: {flood:?}"
    );
    assert!(
        flood.ok <= flood.shared_budget_bound(),
        "both gateways drew on one budget: {flood:?}"
    );
    assert_eq!(bob_ok, 10, "another user is unaffected");
    tokio::time::sleep(Duration::from_secs(3)).await; // alice's budget refills

    s.cluster.redis.kill();
    let login = s
        .api1
        .login_as("alice", crate::api::PASSWORD, "phone")
        .await;
    assert_eq!(login.status, 200, "login with Redis down: {}", login.body);

    let readers = DirectReaders::start(&s).await;
    let patience = Duration::from_secs(20);
    let (a, b) = tokio::join!(
        chat::send_via(&s.api1, &s.alice, &s.direct, "a", 15, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &s.direct, "b", 15, PACE, patience),
    );
    let seqs = all_seqs(&[&a, &b]);
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    readers.expect_live(&seqs).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let local = limits::burst(&[&s.api1], &s.alice, 120).await;
    assert!(
        local.limited > 0,
        "the local limiter still limits: {local:?}"
    );
}

/// One message instance killed mid-traffic: calls go to the other one (apps resend what
/// got no answer, with the same client message id), and its outbox relay takes over
/// publishing once the dead one's lease runs out. Nothing acked is lost.
#[tokio::test]
async fn a_killed_message_instance_loses_nothing() {
    let Some(mut s) = setup(&[]).await else {
        return;
    };
    let readers = DirectReaders::start(&s).await;
    let patience = Duration::from_secs(20);
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        s.cluster.kill("message-1");
    };
    let (a, b, ()) = tokio::join!(
        chat::send_via(&s.api1, &s.alice, &s.direct, "a", 40, PACE, patience),
        chat::send_via(&s.api2, &s.bob, &s.direct, "b", 40, PACE, patience),
        kill,
    );
    let seqs = all_seqs(&[&a, &b]);
    assert_eq!(
        seqs,
        (1..=80).collect::<Vec<_>>(),
        "each message stored once"
    );
    readers.expect_live(&seqs).await;
}
