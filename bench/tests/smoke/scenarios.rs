//! One tiny run per scenario, each asserting a report a user could trust.

use crate::bench;
use im_bench::report::Step;

/// What every step with traffic must show at tiny scale: each send acked, nothing lost,
/// doubled or out of order, and the server's CPU and memory sampled.
fn assert_clean_traffic(step: &Step, expected_sent: u64) {
    assert_eq!(step.sent, expected_sent, "{step:#?}");
    assert_eq!(step.acked, step.sent, "every send acked: {step:#?}");
    assert!(step.errors.is_empty(), "{step:#?}");
    assert_eq!(step.unanswered, 0, "{step:#?}");
    assert_eq!(step.lost, 0, "{step:#?}");
    assert_eq!(step.duplicates, 0, "{step:#?}");
    assert_eq!(step.reordered, 0, "{step:#?}");
    assert_eq!(step.unmatched_arrivals, 0, "{step:#?}");
    assert_eq!(step.disconnects, 0, "{step:#?}");
    assert!(step.throughput_per_s.is_some_and(|r| r > 0.0), "{step:#?}");
    let server = step.server.as_ref().expect("the spawned server is sampled");
    assert!(
        server.cpu_seconds > 0.0 && server.peak_rss_kib > 0,
        "{server:?}"
    );
    assert!(server.cpu_seconds_per_1000_messages.is_some(), "{server:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_holds_idle_connections_and_measures_their_memory() {
    let report = bench(&[
        "m1",
        "--users",
        "6",
        "--duration",
        "1500ms",
        "--heartbeat",
        "300ms",
    ])
    .await;
    let step = &report.steps[0];
    assert_eq!(step.connections, 6, "{step:#?}");
    assert!(step.errors.is_empty() && step.disconnects == 0, "{step:#?}");
    assert_eq!(step.latency["handshake"].count, 6);
    // each connection pinged about five times while held
    assert!(step.latency["ping"].count >= 6 * 3, "{step:#?}");
    assert!(step.memory_per_connection_kib.is_some(), "{step:#?}");
    assert!(step.server.as_ref().is_some_and(|s| s.rss_after_kib > 0));
}

/// Two source addresses (127.0.0.2 works on Linux loopback without setup): the sockets
/// are bound to each in turn, and the server holds a file for each connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_spreads_connections_over_source_addresses() {
    let report = bench(&[
        "m1",
        "--users",
        "6",
        "--duration",
        "1s",
        "--heartbeat",
        "300ms",
        "--source-addrs",
        "127.0.0.1-127.0.0.2",
    ])
    .await;
    let step = &report.steps[0];
    assert_eq!(step.connections, 6, "{step:#?}");
    assert!(step.errors.is_empty() && step.disconnects == 0, "{step:#?}");
    assert!(step.latency["ping"].count >= 6 * 2, "{step:#?}");
    assert_eq!(
        report.summary["connections_by_source"],
        serde_json::json!({"127.0.0.1": 3, "127.0.0.2": 3}),
        "{:#?}",
        report.summary
    );
    assert_eq!(
        report.params["source_addrs"],
        serde_json::json!(["127.0.0.1", "127.0.0.2"])
    );
    let server = step.server.as_ref().expect("the spawned server is sampled");
    let (before, after) = (
        server.open_files_before.unwrap(),
        server.open_files_after.unwrap(),
    );
    assert!(after >= before + 6, "{server:?}");
    assert!(server.open_files_limit.is_none_or(|limit| limit > after));
}

/// The server is restarted under five clients; every one notices, comes back with the
/// token it had (the signing keys live in the data directory, which the restart
/// keeps), and is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m2_clients_reconnect_after_a_restart() {
    let report = bench(&[
        "m2",
        "--users",
        "5",
        "--concurrency",
        "4",
        "--restart",
        "--reconnect-limit",
        "40s",
        "--source-addrs",
        "127.0.0.1,127.0.0.2",
    ])
    .await;
    assert_eq!(report.steps.len(), 2, "{report:#?}");
    let (storm, restart) = (&report.steps[0], &report.steps[1]);
    assert_eq!((storm.acked, storm.connections), (5, 5), "{storm:#?}");
    assert_eq!(
        (restart.sent, restart.acked, restart.connections),
        (5, 5, 5),
        "{restart:#?}"
    );
    assert_eq!(restart.disconnects, 5, "every client noticed: {restart:#?}");
    for name in [
        "handshake",
        "reconnect",
        "restart_to_reconnect",
        "close_noticed",
    ] {
        assert_eq!(restart.latency[name].count, 5, "{name}: {restart:#?}");
    }
    // Tries fail only while the server is away (refused, or cut during its stop).
    for reason in restart.errors.keys() {
        assert!(
            !["gave up", "never disconnected", "HTTP 401"].contains(&reason.as_str()),
            "{restart:#?}"
        );
    }
    assert!(
        restart.throughput_per_s.is_some_and(|r| r > 0.0),
        "{restart:#?}"
    );
    let summary = &report.summary;
    assert_eq!(summary["reconnected"], 5, "{summary:#?}");
    assert_eq!(
        summary["reconnect_tokens"],
        serde_json::json!({"kept": 5}),
        "{summary:#?}"
    );
    assert!(summary["reconnect_tries"].as_u64().unwrap() >= 5);
    let all_back = summary["restart_to_all_reconnected_s"].as_f64().unwrap();
    let stop_and_start =
        summary["restart_stop_s"].as_f64().unwrap() + summary["restart_start_s"].as_f64().unwrap();
    assert!(all_back > 0.0 && all_back < 40.0, "{summary:#?}");
    assert!(
        summary["ready_to_all_reconnected_s"].as_f64().unwrap() <= all_back,
        "{summary:#?}"
    );
    assert!(stop_and_start < all_back + 1.0, "{summary:#?}");
    let reconnected_from: u64 = summary["reconnections_by_source"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(source, n)| {
            assert!(["127.0.0.1", "127.0.0.2"].contains(&source.as_str()));
            n.as_u64().unwrap()
        })
        .sum();
    assert_eq!(reconnected_from, 5);
    // the new server is sampled, not the stopped one
    let (old, new) = (
        storm.server.as_ref().unwrap(),
        restart.server.as_ref().unwrap(),
    );
    assert_ne!(old.pids, new.pids);
    assert!(new.peak_rss_kib > 0);
}

/// Only a server the run started can be restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m2_restart_refuses_a_server_it_did_not_start() {
    let cli = <im_bench::Cli as clap::Parser>::try_parse_from([
        "im-bench",
        "m2",
        "--restart",
        "--target",
        "http://127.0.0.1:9",
    ])
    .unwrap();
    let error = im_bench::run(cli).await.unwrap_err();
    assert!(format!("{error:#}").contains("--spawn"), "{error:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m2_counts_every_handshake() {
    let report = bench(&["m2", "--users", "8", "--concurrency", "4"]).await;
    let step = &report.steps[0];
    assert_eq!(
        (step.sent, step.acked, step.connections),
        (8, 8, 8),
        "{step:#?}"
    );
    assert!(step.errors.is_empty(), "{step:#?}");
    assert_eq!(step.latency["handshake"].count, 8);
    assert!(step.throughput_per_s.is_some_and(|r| r > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m3_delivers_every_direct_message_once_in_order_at_each_rate() {
    let report = bench(&["m3", "--users", "6", "--rate", "20,40", "--duration", "1s"]).await;
    assert_eq!(report.steps.len(), 2);
    for (step, sent) in report.steps.iter().zip([20, 40]) {
        assert_clean_traffic(step, sent);
        // both members of each pair get every message: the other one and the sender
        assert_eq!(step.expected_deliveries, Some(2 * sent), "{step:#?}");
        assert_eq!(step.delivered, Some(2 * sent), "{step:#?}");
        assert_eq!(step.latency["end_to_end"].count, sent);
        assert_eq!(step.latency["ack"].count, sent);
        assert!(step.latency["end_to_end"].p99_ms > 0.0);
    }
    assert!(report.summary.contains_key("highest_rate_within_target"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m4_fans_every_group_message_out_to_every_member() {
    let report = bench(&[
        "m4",
        "--group-size",
        "8",
        "--rate",
        "10",
        "--duration",
        "1500ms",
    ])
    .await;
    let step = &report.steps[0];
    assert_clean_traffic(step, 15);
    assert_eq!(step.connections, 8);
    assert_eq!(step.delivered, Some(15 * 8), "{step:#?}");
    assert_eq!(step.latency["end_to_end"].count, 15 * 7);
    assert_eq!(step.latency["last_recipient"].count, 15);
    assert!(step.deliveries_per_s.is_some_and(|r| r > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_stores_every_acked_message_exactly_once() {
    let report = bench(&["m5", "--users", "4", "--rate", "20", "--duration", "1500ms"]).await;
    let step = &report.steps[0];
    assert_eq!(step.sent, 30, "{step:#?}");
    assert_eq!(step.acked, 30, "{step:#?}");
    assert!(step.errors.is_empty() && step.unanswered == 0, "{step:#?}");
    assert_eq!(
        (step.lost, step.duplicates, step.unmatched_arrivals),
        (0, 0, 0),
        "{step:#?}"
    );
    assert_eq!(step.latency["send_to_commit"].count, 30);
    assert_eq!(report.summary["stored_bench_messages"], 30);
    assert!(step.server.is_some());
}

/// More than a history page (200) in one conversation: the read-back pages through all
/// of it (it once checked only the newest page and called the rest lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_reads_back_histories_longer_than_a_page() {
    let report = bench(&["m5", "--users", "2", "--rate", "250", "--duration", "1s"]).await;
    let step = &report.steps[0];
    assert_eq!((step.sent, step.acked), (250, 250), "{step:#?}");
    assert_eq!(
        (step.lost, step.duplicates, step.unmatched_arrivals),
        (0, 0, 0),
        "{step:#?}"
    );
    assert_eq!(report.summary["stored_bench_messages"], 250);
}

/// The raw relay (the comparison's ceiling), served in-process: no `im` needed. No
/// server acks and no echo to the sender, so each message is expected once, at the
/// other member, and only end-to-end latency is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m3_through_the_raw_relay_delivers_every_message_once_in_order() {
    let report = crate::run(&[
        "im-bench",
        "--protocol",
        "relay",
        "--spawn",
        "m3",
        "--users",
        "6",
        "--rate",
        "40",
        "--duration",
        "1s",
    ])
    .await;
    assert_eq!(report.protocol, "relay");
    let step = &report.steps[0];
    assert_eq!((step.sent, step.acked), (40, 40), "{step:#?}");
    assert!(step.errors.is_empty() && step.unanswered == 0, "{step:#?}");
    assert_eq!(step.expected_deliveries, Some(40), "{step:#?}");
    assert_eq!(step.delivered, Some(40), "{step:#?}");
    assert_eq!(
        (
            step.lost,
            step.duplicates,
            step.reordered,
            step.unmatched_arrivals
        ),
        (0, 0, 0, 0),
        "{step:#?}"
    );
    assert_eq!(step.latency["end_to_end"].count, 40);
    assert!(!step.latency.contains_key("ack"), "{step:#?}");
    assert!(step.server.is_none(), "an in-process relay is not sampled");
}

/// The binary itself: a table on stdout and the same report as JSON.
#[test]
fn the_binary_prints_a_table_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("m2.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_im-bench"))
        .args(["m2", "--users", "3", "--spawn", "--im-bin"])
        .arg(crate::im_binary())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains("M2") && table.contains("handshake ms p50/p99/p99.9/max"),
        "{table}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["scenario"], "m2");
    assert_eq!(report["steps"][0]["acked"], 3);
    assert!(report["steps"][0]["latency"]["handshake"]["p99_ms"].is_number());
}
