//! The report of a run: one [`Step`] per measured phase (M3 has one per rate), a
//! summary, and its rendering as a table.

use crate::metrics::Percentiles;
use crate::procstat::ServerUsage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `m1` … `m5`.
    pub scenario: String,
    /// What the server speaks: `im`, `xmpp` or `relay`.
    pub protocol: String,
    pub title: String,
    /// The gateway's base URL.
    pub target: String,
    /// Whether the bench started the server itself.
    pub spawned: bool,
    /// The scenario's parameters as given.
    pub params: serde_json::Value,
    pub steps: Vec<Step>,
    /// Conclusions drawn over the steps (e.g. M3's highest rate keeping p99 in target).
    pub summary: BTreeMap<String, serde_json::Value>,
}

/// One measured phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Step {
    pub label: String,
    /// WebSocket connections held (or opened, in M2).
    pub connections: u64,
    /// Length of the sending (M3–M5), holding (M1) or connecting (M2) phase.
    pub duration_s: f64,
    pub offered_rate: Option<f64>,
    /// Sends (M3–M5) or handshakes (M2) attempted.
    pub sent: u64,
    /// Sends the server confirmed as stored (M3–M5), or handshakes that succeeded (M2).
    pub acked: u64,
    /// Refusals and failures, by code.
    pub errors: BTreeMap<String, u64>,
    /// Sends with neither an ack nor an error by the end of the drain.
    pub unanswered: u64,
    /// Acked messages per second, from the first send to the last ack (handshakes per
    /// second in M2).
    pub throughput_per_s: Option<f64>,
    /// Pushes to members other than the sender per second, to the last delivery.
    pub deliveries_per_s: Option<f64>,
    pub expected_deliveries: Option<u64>,
    pub delivered: Option<u64>,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Bench messages pushed that no ack accounts for.
    pub unmatched_arrivals: u64,
    /// Connections the server ended during the step.
    pub disconnects: u64,
    /// How late the open-loop scheduler emitted its worst send.
    pub scheduler_max_lag_ms: Option<f64>,
    /// Latency distributions by name (`end_to_end`, `last_recipient`, `ack`,
    /// `handshake`, `ping`).
    pub latency: BTreeMap<String, Percentiles>,
    /// M1: server resident memory per connection above the baseline.
    pub memory_per_connection_kib: Option<f64>,
    pub server: Option<ServerUsage>,
    /// The database processes given with `--db-pid`, over the same interval.
    pub database: Option<ServerUsage>,
    /// CPU of the load generator itself over the step (100 = one core): on a shared
    /// machine it competes with the server.
    pub bench_cpu_percent: Option<f64>,
}

impl Step {
    pub fn add_latency(&mut self, name: &str, latency: &crate::metrics::Latency) {
        if let Some(percentiles) = latency.percentiles() {
            self.latency.insert(name.to_owned(), percentiles);
        }
    }
}

type Row = (String, Vec<String>);

impl Report {
    /// The report as a plain-text table: one column per step.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} — {} ({} {})\n",
            self.scenario.to_uppercase(),
            self.title,
            self.protocol,
            self.target
        );
        let mut rows: Vec<Row> = vec![(
            "".to_owned(),
            self.steps.iter().map(|s| s.label.clone()).collect(),
        )];
        let mut row = |name: &str, cell: &dyn Fn(&Step) -> Option<String>| {
            let cells: Vec<Option<String>> = self.steps.iter().map(cell).collect();
            if cells.iter().any(Option::is_some) {
                let cells = cells
                    .into_iter()
                    .map(|c| c.unwrap_or_else(|| "-".to_owned()))
                    .collect();
                rows.push((name.to_owned(), cells));
            }
        };
        row("connections", &|s| Some(s.connections.to_string()));
        row("duration s", &|s| Some(format!("{:.2}", s.duration_s)));
        row("offered rate /s", &|s| {
            s.offered_rate.map(|r| format!("{r:.0}"))
        });
        row("sent", &|s| Some(s.sent.to_string()));
        row("acked", &|s| Some(s.acked.to_string()));
        row("errors", &|s| Some(errors(&s.errors)));
        row("unanswered", &|s| Some(s.unanswered.to_string()));
        row("throughput /s", &|s| {
            s.throughput_per_s.map(|r| format!("{r:.1}"))
        });
        row("deliveries /s", &|s| {
            s.deliveries_per_s.map(|r| format!("{r:.1}"))
        });
        row("expected deliveries", &|s| {
            s.expected_deliveries.map(|n| n.to_string())
        });
        row("delivered", &|s| s.delivered.map(|n| n.to_string()));
        row("lost", &|s| Some(s.lost.to_string()));
        row("duplicates", &|s| Some(s.duplicates.to_string()));
        row("reordered", &|s| Some(s.reordered.to_string()));
        row("unmatched arrivals", &|s| {
            Some(s.unmatched_arrivals.to_string())
        });
        row("disconnects", &|s| Some(s.disconnects.to_string()));
        row("scheduler max lag ms", &|s| {
            s.scheduler_max_lag_ms.map(|ms| format!("{ms:.1}"))
        });
        let mut names: Vec<&String> = self.steps.iter().flat_map(|s| s.latency.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            row(&format!("{name} ms p50/p99/p99.9/max"), &|s| {
                s.latency.get(name).map(|p| {
                    format!(
                        "{:.2}/{:.2}/{:.2}/{:.2} n={}",
                        p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms, p.count
                    )
                })
            });
        }
        row("server cpu s", &|s| {
            s.server.as_ref().map(|u| format!("{:.2}", u.cpu_seconds))
        });
        row("server cpu s /1000 msg", &|s| {
            s.server
                .as_ref()?
                .cpu_seconds_per_1000_messages
                .map(|c| format!("{c:.3}"))
        });
        row("server cpu %", &|s| {
            s.server.as_ref().map(|u| format!("{:.1}", u.cpu_percent))
        });
        row("server rss MiB before/after", &|s| {
            s.server
                .as_ref()
                .map(|u| format!("{:.1}/{:.1}", mib(u.rss_before_kib), mib(u.rss_after_kib)))
        });
        row("server peak rss MiB", &|s| {
            s.server
                .as_ref()
                .map(|u| format!("{:.1}", mib(u.peak_rss_kib)))
        });
        row("server open files before/after (limit)", &|s| {
            let u = s.server.as_ref()?;
            let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
            let limit = u
                .open_files_limit
                .map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
            (u.open_files_before.is_some() || u.open_files_after.is_some()).then(|| {
                format!(
                    "{}/{} ({limit})",
                    count(u.open_files_before),
                    count(u.open_files_after)
                )
            })
        });
        row("database cpu s", &|s| {
            s.database.as_ref().map(|u| format!("{:.2}", u.cpu_seconds))
        });
        row("database cpu s /1000 msg", &|s| {
            s.database
                .as_ref()?
                .cpu_seconds_per_1000_messages
                .map(|c| format!("{c:.3}"))
        });
        row("bench cpu %", &|s| {
            s.bench_cpu_percent.map(|c| format!("{c:.1}"))
        });
        row("memory per connection KiB", &|s| {
            s.memory_per_connection_kib.map(|k| format!("{k:.1}"))
        });

        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let columns = self.steps.len();
        let cell_width: Vec<usize> = (0..columns)
            .map(|i| {
                rows.iter()
                    .map(|(_, cells)| cells[i].len())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (name, cells) in &rows {
            let _ = write!(out, "  {name:<width$}");
            for (cell, w) in cells.iter().zip(&cell_width) {
                let _ = write!(out, "  {cell:>w$}");
            }
            out.push('\n');
        }
        for (key, value) in &self.summary {
            let _ = writeln!(out, "  {key}: {value}");
        }
        out
    }
}

fn errors(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "0".to_owned();
    }
    errors
        .iter()
        .map(|(code, n)| format!("{code}×{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_has_a_column_per_step_and_skips_empty_rows() {
        let mut step = Step {
            label: "100/s".into(),
            sent: 10,
            acked: 10,
            ..Step::default()
        };
        let mut latency = crate::metrics::Latency::new();
        latency.record_us(1500);
        step.add_latency("end_to_end", &latency);
        let report = Report {
            scenario: "m3".into(),
            protocol: "im".into(),
            title: "1:1".into(),
            target: "http://127.0.0.1:1".into(),
            spawned: true,
            params: serde_json::json!({}),
            steps: vec![
                step.clone(),
                Step {
                    label: "200/s".into(),
                    ..step
                },
            ],
            summary: BTreeMap::from([("max_rate".to_owned(), serde_json::json!(200))]),
        };
        let table = report.table();
        assert!(
            table.contains("100/s") && table.contains("200/s"),
            "{table}"
        );
        assert!(table.contains("end_to_end ms"), "{table}");
        assert!(!table.contains("server cpu"), "{table}");
        assert!(table.contains("max_rate: 200"), "{table}");
    }
}
