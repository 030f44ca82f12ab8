//! A dead downstream opens its circuit: later calls fail at once with `circuit_open`
//! and a retry hint, and once it is back a probe closes the circuit again.

use crate::support::{self, DOWNSTREAM, Downstream, check, health_request};
use im_runtime::Service;
use im_runtime::errors::{error_code, retry_after};
use im_runtime::resilience::{BreakerState, CIRCUIT_OPEN};
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn a_dead_downstream_is_cut_off_until_it_answers_again() {
    let config = support::config();
    let downstream = Downstream::start(Service::new(DOWNSTREAM)).await;
    let clients = support::clients(&downstream.endpoint(), &config);
    check(&clients, health_request()).await.unwrap();

    let addr = downstream.addr;
    downstream.stop().await;
    for _ in 0..config.breaker.consecutive_failures {
        let failure = check(&clients, health_request()).await.unwrap_err();
        assert!(
            matches!(failure.code(), Code::Unavailable | Code::DeadlineExceeded),
            "{failure:?}"
        );
        assert_ne!(error_code(&failure), Some(CIRCUIT_OPEN), "{failure:?}");
    }
    let breaker = clients.channel(DOWNSTREAM).await.unwrap().breaker().clone();
    assert_eq!(breaker.state(), BreakerState::Open);

    // Open: refused at once, without waiting for the deadline.
    let started = Instant::now();
    let refused = check(&clients, health_request()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(error_code(&refused), Some(CIRCUIT_OPEN));
    assert_eq!(retry_after(&refused), Some(1));

    // Back: after the open period a probe goes through and closes the circuit.
    let _back = Downstream::restart_at(addr).await;
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut last = None;
    while Instant::now() < give_up {
        match check(&clients, health_request()).await {
            Ok(()) => {
                last = None;
                break;
            }
            Err(status) => last = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last.is_none(), "never recovered: {last:?}");
    assert_eq!(breaker.state(), BreakerState::Closed);
    check(&clients, health_request()).await.unwrap();
}

#[tokio::test]
async fn business_refusals_do_not_open_the_circuit() {
    let config = support::config();
    let downstream = Downstream::start(Service::new(DOWNSTREAM)).await;
    let clients = support::clients(&downstream.endpoint(), &config);
    for _ in 0..3 * config.breaker.consecutive_failures {
        // Health answers NOT_FOUND for a service it does not know.
        let unknown = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: "im.v1.Nothing".to_owned(),
        });
        let refusal = check(&clients, unknown).await.unwrap_err();
        assert_eq!(refusal.code(), Code::NotFound, "{refusal:?}");
    }
    let breaker = clients.channel(DOWNSTREAM).await.unwrap().breaker().clone();
    assert_eq!(breaker.state(), BreakerState::Closed);
    check(&clients, health_request()).await.unwrap();
}
