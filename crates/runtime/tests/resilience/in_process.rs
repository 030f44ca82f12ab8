//! A service this process serves is called in process, not through its port, and keeps
//! what the port gives its callers: load shedding shared with the socket's calls, and
//! the caller's deadline.

use crate::support::{
    DOWNSTREAM, Downstream, SlowHealth, check, clients, clients_of, config, health_request,
    slow_over, take_both_places, two_slow_places,
};
use im_runtime::errors::error_code;
use im_runtime::grpc::ServiceStack;
use im_runtime::in_process::InProcess;
use im_runtime::resilience::{OVERLOADED, ResilienceConfig};
use im_runtime::{Service, ServiceName};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tonic::Code;

/// An endpoint nothing listens on.
async fn dead_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn a_service_served_here_is_called_without_its_socket() {
    let endpoint = dead_endpoint().await;
    let stack = ServiceStack::new(Service::new(DOWNSTREAM)).await;
    let in_process = InProcess::default();
    in_process.serve(&endpoint, stack.local());

    let dialing = clients(&endpoint, &config());
    let refused = check(&dialing, health_request()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    let local = clients(&endpoint, &config()).with_in_process(in_process);
    check(&local, health_request()).await.unwrap();
}

/// Of several instances, the one this process serves takes every call: the others,
/// which answer over their sockets, get none.
#[tokio::test]
async fn the_instance_served_here_is_preferred_to_the_others() {
    async fn counting() -> (ServiceStack, Arc<AtomicUsize>) {
        let (_, health) = tonic_health::server::health_reporter();
        let slow = SlowHealth::new(health, Duration::ZERO);
        let entered = slow.entered.clone();
        let service = Service::new(DOWNSTREAM).with_grpc(slow);
        (ServiceStack::new(service).await, entered)
    }
    let (remote, remote_calls) = counting().await;
    let remote = Downstream::serve_stack(remote).await;
    let (local, local_calls) = counting().await;
    let here = dead_endpoint().await;
    let in_process = InProcess::default();
    in_process.serve(&here, local.local());
    let endpoints = [remote.endpoint(), here];
    let clients = clients_of(&endpoints.each_ref().map(String::as_str), &config())
        .with_in_process(in_process);

    for _ in 0..10 {
        let channel = clients.channel(DOWNSTREAM).await.unwrap();
        slow_over(channel).check(health_request()).await.unwrap();
    }
    assert_eq!(local_calls.load(Ordering::SeqCst), 10);
    assert_eq!(remote_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn in_process_calls_share_the_limit_of_calls_over_the_socket() {
    let (service, entered) = two_slow_places();
    let stack = ServiceStack::new(service).await;
    let local = stack.local();
    let downstream = Downstream::serve_stack(stack).await;
    let endpoint = downstream.endpoint();
    // Registered where nothing listens: only an in-process call can reach it.
    let registered = dead_endpoint().await;
    let in_process = InProcess::default();
    in_process.serve(&registered, local);
    let patient = ResilienceConfig {
        deadline: Duration::from_secs(2),
        ..config()
    };
    let clients = clients(&registered, &patient).with_in_process(in_process);

    let busy = take_both_places(&endpoint, &entered).await;

    let channel = clients.channel(DOWNSTREAM).await.unwrap();
    let refused = slow_over(channel.clone())
        .check(health_request())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(error_code(&refused), Some(OVERLOADED));
    assert_eq!(
        entered.load(Ordering::SeqCst),
        2,
        "the refused call never ran"
    );

    for call in busy {
        call.await.unwrap().unwrap();
    }
    slow_over(channel).check(health_request()).await.unwrap();
    assert_eq!(entered.load(Ordering::SeqCst), 3, "served in process");
}

#[tokio::test]
async fn an_in_process_call_ends_at_the_callers_deadline() {
    let (_, health) = tonic_health::server::health_reporter();
    let slow = SlowHealth::new(health, Duration::from_secs(5));
    let stack = ServiceStack::new(Service::new(ServiceName::Presence).with_grpc(slow)).await;
    let endpoint = dead_endpoint().await;
    let in_process = InProcess::default();
    in_process.serve(&endpoint, stack.local());
    let clients = clients(&endpoint, &config()).with_in_process(in_process);

    let started = Instant::now();
    let channel = clients.channel(DOWNSTREAM).await.unwrap();
    let late = slow_over(channel)
        .check(health_request())
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
