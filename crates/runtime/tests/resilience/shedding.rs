//! An overloaded server refuses calls beyond its limit at once, with UNAVAILABLE
//! `overloaded` and a retry hint, and serves again once calls finish.

use crate::support::{Downstream, health_request, slow_client, take_both_places, two_slow_places};
use im_runtime::errors::{error_code, retry_after};
use im_runtime::resilience::OVERLOADED;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn calls_beyond_the_limit_are_refused_at_once() {
    let (service, entered) = two_slow_places();
    let downstream = Downstream::start(service).await;
    let endpoint = downstream.endpoint();
    let busy = take_both_places(&endpoint, &entered).await;

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
