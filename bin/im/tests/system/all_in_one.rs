use crate::api::Api;
use crate::people::user;
use crate::process::{ImProcess, eventually, get_json, grpc_health, im};
use crate::ws::Client;
use im_runtime::ServiceName;
use std::time::Duration;

const SERVING: i32 = 1;

#[tokio::test]
async fn every_service_is_healthy_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});

    // all eight services, each on its own gRPC listener
    assert_eq!(im.grpc.len(), 8, "{:?}", im.grpc);
    for name in ServiceName::ALL {
        let addr = im.grpc[name.as_str()];
        let serving = eventually(Duration::from_secs(10), || async move {
            grpc_health(addr, "").await == SERVING
                && grpc_health(addr, name.grpc_service()).await == SERVING
        })
        .await;
        assert!(serving, "{name} gRPC health is not SERVING");
    }

    // health on the public port and on the admin listener
    for url in [im.http_url("/healthz"), im.admin_url("/healthz")] {
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(body["status"], "ok");
        assert_eq!(body["services"].as_array().unwrap().len(), 8);
    }
    for url in [im.http_url("/readyz"), im.admin_url("/readyz")] {
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["ready"], true);
        for name in ServiceName::ALL {
            assert_eq!(
                body["services"][name.as_str()]["ready"],
                true,
                "{name}: {body}"
            );
        }
        assert_eq!(
            body["services"]["identity"]["checks"]["database"]["ok"],
            true
        );
    }

    // Prometheus text with per-service readiness and the edge's request metrics
    let metrics = reqwest::get(im.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in ServiceName::ALL {
        let line = format!("im_service_ready{{service=\"{name}\"}} 1");
        assert!(metrics.contains(&line), "missing {line} in\n{metrics}");
    }
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}")
    );
    assert!(
        metrics.contains(
            "grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\",code=\"0\"}"
        ),
        "gRPC calls are counted per method and status:\n{metrics}"
    );

    // the embedded databases live in the data directory
    for db in ["identity", "conversation", "message", "file"] {
        assert!(dir.path().join(format!("{db}.db")).exists(), "{db}.db");
    }

    // SIGTERM: stop accepting, drain, exit 0
    let http = im.http.unwrap();
    let (status, logs) = im.terminate();
    assert!(status.success(), "exit status {status:?}; logs: {logs:#?}");
    assert!(
        logs.iter().any(|line| line.contains("\"stopped\"")),
        "{logs:#?}"
    );
    assert!(
        tokio::net::TcpStream::connect(http).await.is_err(),
        "port closed after exit"
    );
}

#[tokio::test]
async fn two_instances_run_side_by_side() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = ImProcess::start(one.path(), |_| {});
    let second = ImProcess::start(two.path(), |_| {});
    assert_ne!(first.http, second.http);
    for im in [&first, &second] {
        let (status, body) = get_json(&im.http_url("/readyz")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(first.terminate().0.success());
    assert!(second.terminate().0.success());
}

#[tokio::test]
async fn the_public_port_answers_errors_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let response = reqwest::get(im.http_url("/api/v1/does-not-exist"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn sigterm_closes_websockets_with_service_restart() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let base = im.http_url("");
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let person = user(&api, name, "phone").await;
        let mut client = Client::connect(&base, &person.token).await;
        client.request("ping", serde_json::json!({})).await;
        clients.push(client);
    }

    let started = std::time::Instant::now();
    let stopping = tokio::task::spawn_blocking(move || im.terminate());
    for client in &mut clients {
        let close = client.close_frame(Duration::from_secs(5)).await;
        assert_eq!(
            close,
            Some((1012, "server restarting".to_owned())),
            "a close frame, not a reset"
        );
    }
    let (status, logs) = stopping.await.unwrap();
    assert!(status.success(), "exit status {status:?}; logs: {logs:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "stopped in {:?}",
        started.elapsed()
    );
}

/// The public port opens only once the gateway can authorize requests, so a client that
/// connects the moment it opens (one coming back after a restart) is not turned away
/// with 503 `authorization_unavailable`.
#[tokio::test]
async fn the_public_port_opens_once_requests_can_be_authorized() {
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _im = KillOnDrop(
        im(dir.path())
            .args(["serve", "--http-addr", &http.to_string()])
            .args(["--admin-addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(http).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the public port did not open"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (_, body) = get_json(&format!("http://{http}/readyz")).await;
    assert_eq!(
        body["services"]["gateway"]["checks"]["access_rules"]["ok"], true,
        "{body}"
    );
}
