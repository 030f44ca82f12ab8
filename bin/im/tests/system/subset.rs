//! `im serve --services …`: a process runs some services and finds the others through
//! the registry (here `static://` endpoints written in a configuration file).

use crate::process::{ImProcess, eventually, get_json};
use std::fmt::Write as _;
use std::time::Duration;

const BACKENDS: &str = "identity,conversation,message,delivery,presence,file,media-signal";

#[tokio::test]
async fn a_gateway_finds_services_of_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let backends = ImProcess::start(&dir.path().join("backends"), |command| {
        command.args(["--services", BACKENDS]);
    });
    assert!(backends.http.is_none(), "no gateway, no public port");
    assert_eq!(backends.grpc.len(), 7);

    let mut config = String::from("[registry.endpoints]\n");
    for (service, addr) in &backends.grpc {
        writeln!(
            config,
            "{} = [\"http://{addr}\"]",
            service.replace('-', "_")
        )
        .unwrap();
    }
    let config_file = dir.path().join("gateway.toml");
    std::fs::write(&config_file, config).unwrap();
    let gateway = ImProcess::start(&dir.path().join("gateway"), |command| {
        command
            .arg("--config")
            .arg(&config_file)
            .args(["--services", "gateway"]);
    });
    assert_eq!(gateway.grpc.len(), 1);

    // the gateway reports every downstream service reachable through the registry
    let url = gateway.http_url("/readyz");
    let all_reachable = eventually(Duration::from_secs(10), || {
        let url = url.clone();
        async move {
            let (_, body) = get_json(&url).await;
            let checks = &body["services"]["gateway"]["checks"];
            [
                "identity",
                "conversation",
                "message",
                "presence",
                "file",
                "media-signal",
            ]
            .iter()
            .all(|name| checks[name]["ok"] == true)
        }
    })
    .await;
    assert!(all_reachable, "{}", get_json(&url).await.1);

    // with the other process gone, the gateway degrades but stays ready (DESIGN.md §6)
    assert!(backends.terminate().0.success());
    let (status, body) = get_json(&url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["services"]["gateway"]["checks"]["identity"]["ok"],
        false
    );
    assert!(gateway.terminate().0.success());
}
