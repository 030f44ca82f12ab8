//! An overloaded server refuses calls beyond its limit at once, with UNAVAILABLE
//! `overloaded` and a retry hint, and serves again once calls finish.

use crate::support::{DOWNSTREAM, Downstream, SlowHealth, health_request, slow_client};
use im_runtime::Service;
use im_runtime::errors::{error_code, retry_after};
use im_runtime::resilience::{OVERLOADED, ServerLimits};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn calls_beyond_the_limit_are_refused_at_once() {
    let (_, health) = tonic_health::server::health_reporter();
    let slow = SlowHealth::new(health, Duration::from_millis(500));
    let entered = slow.entered.clone();
    let service = Service::new(DOWNSTREAM)
        .with_grpc(slow)
        .with_limits(ServerLimits {
            max_concurrent_calls: 2,
            retry_after_secs: 3,
        });
    let downstream = Downstream::start(service).await;
    let endpoint = downstream.endpoint();

    let busy: Vec<_> = (0..2)
        .map(|_| {
            let mut client = slow_client(&endpoint);
            tokio::spawn(async move { client.check(health_request()).await })
        })
        .collect();
    let give_up = Instant::now() + Duration::from_secs(5);
    while entered.load(Ordering::SeqCst) < 2 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(entered.load(Ordering::SeqCst), 2);

    let started = Instant::now();
    let refused = slow_client(&endpoint)
        .check(health_request())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(error_code(&refused), Some(OVERLOADED));
    assert_eq!(retry_after(&refused), Some(3));
    assert_eq!(
        entered.load(Ordering::SeqCst),
        2,
        "the refused call never ran"
    );

    for call in busy {
        call.await.unwrap().unwrap();
    }
    slow_client(&endpoint)
        .check(health_request())
        .await
        .unwrap();
}
