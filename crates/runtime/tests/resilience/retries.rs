//! Idempotent calls are retried, whole, until the downstream answers; other calls are
//! tried once.

use crate::support::{self, check};
use im_runtime::resilience::{ResilienceConfig, RetryConfig, idempotent};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;

fn config() -> ResilienceConfig {
    ResilienceConfig {
        retry: RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        },
        ..support::config()
    }
}

fn asking_for(service: &str) -> tonic::Request<HealthCheckRequest> {
    tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    })
}

#[tokio::test]
async fn a_read_is_retried_with_its_message_intact() {
    let (endpoint, calls, server) = support::flaky_server(2).await;
    let clients = support::clients(&endpoint, &config());
    // Health knows no such service: NOT_FOUND proves the third attempt carried the
    // request's message (an empty one would ask for the server and get SERVING).
    let answer = check(&clients, idempotent(asking_for("im.v1.Nothing")))
        .await
        .unwrap_err();
    assert_eq!(answer.code(), Code::NotFound, "{answer:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    server.abort();
}

#[tokio::test]
async fn a_call_not_marked_idempotent_is_tried_once() {
    let (endpoint, calls, server) = support::flaky_server(2).await;
    let clients = support::clients(&endpoint, &config());
    let answer = check(&clients, asking_for("")).await.unwrap_err();
    assert_eq!(answer.code(), Code::Unavailable, "{answer:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.abort();
}

#[tokio::test]
async fn retries_end_with_the_last_attempt() {
    let (endpoint, calls, server) = support::flaky_server(usize::MAX).await;
    let clients = support::clients(&endpoint, &config());
    let answer = check(&clients, idempotent(asking_for("")))
        .await
        .unwrap_err();
    assert_eq!(answer.code(), Code::Unavailable, "{answer:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    server.abort();
}
