//! A slow server is cut at the deadline: the default one, or the caller's when shorter.

use crate::support::{self, check, health_request};
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn a_slow_server_is_cut_at_the_deadline() {
    let (endpoint, server) = support::slow_server(Duration::from_secs(30)).await;
    let config = support::config();
    let clients = support::clients(&endpoint, &config);

    let started = Instant::now();
    let late = check(&clients, health_request()).await.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(
        started.elapsed() >= config.deadline,
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let mut hurried = health_request();
    hurried.set_timeout(Duration::from_millis(50));
    let started = Instant::now();
    let late = check(&clients, hurried).await.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(
        started.elapsed() < config.deadline,
        "the caller's shorter deadline applies: {:?}",
        started.elapsed()
    );
    server.abort();
}
