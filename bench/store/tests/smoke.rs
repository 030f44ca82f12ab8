//! The store bench at tiny scale on each backend: every send is acked, stored once at
//! the seq it was answered with, and each conversation's seqs run 1..=n.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use im_bench_store::{DriveOptions, ServeOptions, drive, serve};
use im_testkit::{SqlBackend, TestDatabases};
use sea_orm::ConnectionTrait as _;
use std::time::Duration;

async fn smoke(backend: SqlBackend) {
    let Some(mut databases) = TestDatabases::new(backend) else {
        return;
    };
    let served = serve(ServeOptions {
        database_url: databases.url("message"),
        data_dir: databases.dir().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        writers: None,
        batch: Some(16),
    })
    .await
    .unwrap();
    let options = DriveOptions {
        target: format!("http://{}", served.addr),
        conversations: 7,
        rate: 300.0,
        duration: Duration::from_secs(1),
        max_in_flight: 64,
        channels: 2,
        drain: Duration::from_secs(30),
        server_pids: vec![std::process::id()],
        db_pids: Vec::new(),
    };
    let outcome = drive(&options).await;
    served.stop();
    databases.drop_all(execute).await;
    let (step, findings) = outcome.unwrap();

    assert_eq!(step.sent, 300);
    assert_eq!(step.acked, 300, "{step:?}");
    assert!(step.errors.is_empty(), "{:?}", step.errors);
    assert_eq!((step.lost, step.duplicates, step.reordered), (0, 0, 0));
    assert_eq!(findings.stored, 300);
    assert_eq!(findings.gapped_conversations, 0);
    assert!(step.latency["commit"].count == 300);
    let server = step.server.unwrap();
    assert!(server.cpu_seconds > 0.0 && server.cpu_seconds_per_1000_messages.is_some());
}

async fn execute(url: String, statement: String) {
    let db = sea_orm::Database::connect(url).await.unwrap();
    db.execute_unprepared(&statement).await.unwrap();
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    smoke(SqlBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    smoke(SqlBackend::MySql).await;
}
