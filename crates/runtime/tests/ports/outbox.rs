use im_runtime::bus::{Bus, BusError, Record, StartAt, Subscription};
use im_runtime::config::DatabaseConfig;
use im_runtime::db;
use im_runtime::outbox::{self, OutboxRecord, Relay, RelaySettings};
use im_runtime::secret::SecretUrl;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sea_orm_migration::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "outbox.test";

struct CreateOutbox;

impl MigrationName for CreateOutbox {
    fn name(&self) -> &str {
        "m0001_create_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        outbox::schema::create(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        outbox::schema::drop(manager).await
    }
}

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateOutbox)]
    }
}

fn settings() -> RelaySettings {
    RelaySettings {
        poll_interval: Duration::from_millis(50),
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..RelaySettings::default()
    }
}

fn record(key: &str, payload: &str) -> OutboxRecord {
    OutboxRecord {
        topic: TOPIC.into(),
        key: key.into(),
        payload: payload.as_bytes().to_vec(),
    }
}

/// Commits `payloads` under `key`, one transaction each.
async fn commit(db: &DatabaseConnection, key: &str, payloads: &[String]) {
    for payload in payloads {
        let txn = db.begin().await.unwrap();
        outbox::enqueue(&txn, record(key, payload), 1)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
}

/// What a test bus does with the `call`-th record before handing it on.
enum Intercept {
    Pass,
    Delay(Duration),
    Refuse,
}

/// A bus in front of a [`im_testkit::SwitchableBus`] that delays or refuses records.
struct Intercepting<F> {
    inner: Arc<im_testkit::SwitchableBus>,
    calls: std::sync::atomic::AtomicU64,
    intercept: F,
}

impl<F: Fn(u64, &Record) -> Intercept + Send + Sync> Intercepting<F> {
    fn new(inner: Arc<im_testkit::SwitchableBus>, intercept: F) -> Arc<Self> {
        Arc::new(Self {
            inner,
            calls: 0.into(),
            intercept,
        })
    }
}

#[async_trait::async_trait]
impl<F: Fn(u64, &Record) -> Intercept + Send + Sync> Bus for Intercepting<F> {
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError> {
        let call = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match (self.intercept)(call, &record) {
            Intercept::Pass => {}
            Intercept::Delay(delay) => tokio::time::sleep(delay).await,
            Intercept::Refuse => {
                return Err(BusError::Unavailable(format!("{} is refused", record.key)));
            }
        }
        self.inner.publish(topic, record).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe_from(topic, group, start).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.inner.ping().await
    }
}

/// Rows in the outbox table.
async fn rows(db: &DatabaseConnection) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM outbox",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// Reads `count` records, then asserts nothing else comes.
async fn read(subscription: &mut Box<dyn Subscription>, count: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("a record within 10 s")
            .unwrap();
        subscription.commit(&delivery).await.unwrap();
        let payload = String::from_utf8(delivery.record.payload.to_vec()).unwrap();
        seen.push((delivery.record.key, payload));
    }
    let more = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    assert!(more.is_err(), "unexpected record: {more:?}");
    seen
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// What every database the services run on must do for the outbox.
async fn contract(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let bus = Arc::new(im_testkit::SwitchableBus::default());
    let mut subscription = bus.subscribe(TOPIC, "test").await.unwrap();
    let stop = CancellationToken::new();
    // two relays share the table, as two instances of a service would
    for _ in 0..2 {
        let relay = Relay::new(db.clone(), bus.clone(), settings());
        tokio::spawn(relay.run(stop.child_token()));
    }

    // a rolled-back change publishes nothing; committed ones go out in order, once
    let txn = db.begin().await.unwrap();
    outbox::enqueue(&txn, record("a", "never"), 1)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    commit(&db, "a", &numbered("a", 1..=5)).await;
    let seen = read(&mut subscription, 5).await;
    let expected: Vec<_> = numbered("a", 1..=5)
        .into_iter()
        .map(|p| ("a".to_owned(), p))
        .collect();
    assert_eq!(seen, expected);

    // a bus outage delays records, never loses or reorders them
    bus.set_down(true);
    commit(&db, "a", &numbered("a", 6..=10)).await;
    commit(&db, "b", &numbered("b", 1..=5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.set_down(false);
    let seen = read(&mut subscription, 10).await;
    for key in ["a", "b"] {
        let of_key: Vec<_> = seen
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, p)| p.clone())
            .collect();
        let range = if key == "a" { 6..=10 } else { 1..=5 };
        assert_eq!(of_key, numbered(key, range), "{key} in order, each once");
    }
    assert_eq!(rows(&db).await, 0, "published records leave the table");
    stop.cancel();
}

/// Many keys' records, committed many per transaction, through a bus that accepts them
/// at uneven speeds: the relay publishes keys side by side, yet each key's records
/// arrive in their order, each once.
async fn keys_keep_their_order_in_batches(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let inner = Arc::new(im_testkit::SwitchableBus::default());
    // 0–3 ms per record, in a pattern that does not follow the publish order, so
    // records published at the same time are accepted out of their order
    let bus = Intercepting::new(inner.clone(), |call, _| {
        Intercept::Delay(Duration::from_micros((call * 7_919) % 4_000))
    });
    let mut subscription = inner.subscribe(TOPIC, "test").await.unwrap();
    const KEYS: u32 = 12;
    const EACH: u32 = 20;
    // four records of every key per transaction, keys interleaved
    for round in 0..EACH / 4 {
        let txn = db.begin().await.unwrap();
        let records = (1..=4).flat_map(|i| {
            (0..KEYS).map(move |k| (record(&format!("k{k}"), &format!("{}", round * 4 + i)), 1))
        });
        outbox::enqueue_many(&txn, records).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(
        rows(&db).await,
        i64::from(EACH / 4),
        "the records of one change share a row"
    );
    let stop = CancellationToken::new();
    let relay = Relay::new(db.clone(), bus.clone(), settings());
    tokio::spawn(relay.run(stop.child_token()));
    let seen = read(&mut subscription, (KEYS * EACH) as usize).await;
    for k in 0..KEYS {
        let key = format!("k{k}");
        let of_key: Vec<_> = seen
            .iter()
            .filter(|(kk, _)| *kk == key)
            .map(|(_, p)| p.clone())
            .collect();
        assert_eq!(of_key, numbered("", 1..=EACH), "{key} in order, each once");
    }
    let interleaved = seen.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(interleaved > 0, "keys were published side by side");
    stop.cancel();
}

/// A relay stopped while one key of a shared row is still refused: the records that went
/// out leave the row, and the next relay publishes only the rest.
async fn a_partly_published_row_keeps_only_the_rest(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let inner = Arc::new(im_testkit::SwitchableBus::default());
    let mut subscription = inner.subscribe(TOPIC, "test").await.unwrap();
    let txn = db.begin().await.unwrap();
    let records = [
        ("a", "a1"),
        ("b", "b1"),
        ("c", "c1"),
        ("a", "a2"),
        ("b", "b2"),
    ]
    .map(|(key, payload)| (record(key, payload), 1));
    outbox::enqueue_many(&txn, records).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(rows(&db).await, 1);

    let refusing = Intercepting::new(inner.clone(), |_, record| {
        if record.key == "b" {
            Intercept::Refuse
        } else {
            Intercept::Pass
        }
    });
    // the stopped relay's lease runs out soon, so the next one may take over
    let short_lease = RelaySettings {
        lease_ttl: Duration::from_millis(400),
        ..settings()
    };
    let stop = CancellationToken::new();
    let relay = Relay::new(db.clone(), refusing, short_lease.clone());
    let first = tokio::spawn(relay.run(stop.clone()));
    let mut seen = read(&mut subscription, 3).await;
    seen.sort();
    let pair = |k: &str, p: &str| (k.to_owned(), p.to_owned());
    assert_eq!(seen, [pair("a", "a1"), pair("a", "a2"), pair("c", "c1")]);
    stop.cancel();
    first.await.unwrap();
    assert_eq!(rows(&db).await, 1, "b's records are still waiting");

    let stop = CancellationToken::new();
    tokio::spawn(Relay::new(db.clone(), inner.clone(), short_lease).run(stop.child_token()));
    let seen = read(&mut subscription, 2).await;
    assert_eq!(
        seen,
        [pair("b", "b1"), pair("b", "b2")],
        "only the rest, in order"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rows(&db).await, 0);
    stop.cancel();
}

/// Commits woken one by one while the relay publishes, with the poll too far off to
/// find them: each wake-up is enough, including one that comes during a round, after
/// its read.
async fn woken_records_go_out_without_a_poll(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let inner = Arc::new(im_testkit::SwitchableBus::default());
    // publishing takes a while, so commits land while a round is under way
    let bus = Intercepting::new(inner.clone(), |_, _| {
        Intercept::Delay(Duration::from_millis(3))
    });
    let mut subscription = inner.subscribe(TOPIC, "test").await.unwrap();
    let no_poll = RelaySettings {
        poll_interval: Duration::from_secs(600),
        ..settings()
    };
    let relay = Relay::new(db.clone(), bus, no_poll);
    let wake = relay.waker();
    let stop = CancellationToken::new();
    tokio::spawn(relay.run(stop.child_token()));
    for payload in numbered("w", 1..=40) {
        commit(&db, "w", std::slice::from_ref(&payload)).await;
        wake.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seen = read(&mut subscription, 40).await;
    let payloads: Vec<String> = seen.into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        payloads,
        numbered("w", 1..=40),
        "each within 10 s of the last"
    );
    stop.cancel();
}

/// Published rows stay in the table a while, left out of the relay's reads (nothing goes
/// out twice, though every commit wakes a new read), and then leave it together.
async fn published_rows_leave_together_and_go_out_once(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let bus = Arc::new(im_testkit::SwitchableBus::default());
    let mut subscription = bus.subscribe(TOPIC, "test").await.unwrap();
    let settings = RelaySettings {
        poll_interval: Duration::from_secs(600),
        delete_after: Duration::from_secs(3),
        ..settings()
    };
    let relay = Relay::new(db.clone(), bus.clone(), settings);
    let wake = relay.waker();
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));
    for payload in numbered("d", 1..=6) {
        commit(&db, "d", std::slice::from_ref(&payload)).await;
        wake.notify_one();
    }
    let seen = read(&mut subscription, 6).await;
    let payloads: Vec<String> = seen.into_iter().map(|(_, p)| p).collect();
    assert_eq!(payloads, numbered("d", 1..=6), "each once, in order");
    assert_eq!(rows(&db).await, 6, "not deleted one by one");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rows(&db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "published rows are deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Gone from the table and from the relay's list: later records go out as usual.
    commit(&db, "d", &numbered("d", 7..=7)).await;
    wake.notify_one();
    assert_eq!(
        read(&mut subscription, 1).await,
        [("d".to_owned(), "d7".to_owned())]
    );
    // A relay that stops deletes what it published.
    stop.cancel();
    task.await.unwrap();
    assert_eq!(rows(&db).await, 0);
}

/// A relay whose lease another relay took deletes what it had published at once, rather
/// than leaving it for the new holder to publish again.
async fn a_relay_losing_its_lease_deletes_what_it_published(db: DatabaseConnection) {
    db::migrate::<Migrator>(&db).await.unwrap();
    let bus = Arc::new(im_testkit::SwitchableBus::default());
    let mut subscription = bus.subscribe(TOPIC, "test").await.unwrap();
    let settings = RelaySettings {
        poll_interval: Duration::from_millis(50),
        delete_after: Duration::from_secs(600),
        lease_ttl: Duration::from_millis(400),
        ..settings()
    };
    let stop = CancellationToken::new();
    tokio::spawn(Relay::new(db.clone(), bus.clone(), settings).run(stop.child_token()));
    commit(&db, "l", &numbered("l", 1..=3)).await;
    assert_eq!(read(&mut subscription, 3).await.len(), 3);
    assert_eq!(rows(&db).await, 3, "published, not deleted yet");
    db.execute_unprepared(
        "UPDATE outbox_lease SET holder = 'another', expires_at_ms = 9000000000000",
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rows(&db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the published rows are deleted once the lease is gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
}

/// A fresh SQLite database in `dir`.
async fn sqlite(dir: &tempfile::TempDir) -> DatabaseConnection {
    let url = SecretUrl::new(format!("sqlite://{}/outbox.db", dir.path().display()));
    db::connect(&url, &DatabaseConfig::default()).await.unwrap()
}

/// Runs `test` on a fresh MySQL database, dropped afterwards.
async fn on_mysql<Fut: Future<Output = ()>>(test: impl FnOnce(DatabaseConnection) -> Fut) {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let name = im_testkit::unique_name("im_outbox_test");
    let url = SecretUrl::new(format!("{server}/{name}"));
    let db = db::connect(&url, &DatabaseConfig::default()).await.unwrap();
    test(db.clone()).await;
    db.execute_unprepared(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_the_outbox_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_keeps_each_keys_order_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    keys_keep_their_order_in_batches(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_keeps_only_the_unpublished_rest_of_a_row() {
    let dir = tempfile::tempdir().unwrap();
    a_partly_published_row_keeps_only_the_rest(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_keeps_the_outbox_contract() {
    on_mysql(contract).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_relay_keeps_each_keys_order_in_batches() {
    on_mysql(keys_keep_their_order_in_batches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_relay_keeps_only_the_unpublished_rest_of_a_row() {
    on_mysql(a_partly_published_row_keeps_only_the_rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_publishes_each_woken_commit() {
    let dir = tempfile::tempdir().unwrap();
    woken_records_go_out_without_a_poll(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_relay_publishes_each_woken_commit() {
    on_mysql(woken_records_go_out_without_a_poll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_deletes_published_rows_together() {
    let dir = tempfile::tempdir().unwrap();
    published_rows_leave_together_and_go_out_once(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_relay_deletes_published_rows_together() {
    on_mysql(published_rows_leave_together_and_go_out_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_losing_its_lease_deletes_what_it_published() {
    let dir = tempfile::tempdir().unwrap();
    a_relay_losing_its_lease_deletes_what_it_published(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_relay_losing_its_lease_deletes_what_it_published() {
    on_mysql(a_relay_losing_its_lease_deletes_what_it_published).await;
}
