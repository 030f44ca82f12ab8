//! CPU time and memory of the server processes, read from /proc: `utime + stime` of
//! `/proc/<pid>/stat` (clock ticks) and `VmRSS` / `VmHWM` of `/proc/<pid>/status`;
//! and their open files (`/proc/<pid>/fd`) against their limit (`/proc/<pid>/limits`),
//! since every connection holds one.

use anyhow::Context as _;
use serde::Serialize;
use std::time::Duration;

/// The sampled processes (possibly none: then nothing is reported).
#[derive(Debug, Clone)]
pub struct ProcWatch {
    pids: Vec<u32>,
    ticks_per_second: f64,
}

/// The summed state of every watched process at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub cpu_seconds: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// Open file descriptors, when every process's could be counted.
    pub open_files: Option<u64>,
    /// The lowest soft limit on open files among the processes (`None`: unlimited or
    /// unreadable).
    pub open_files_limit: Option<u64>,
}

/// What the server spent over an interval.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    pub pids: Vec<u32>,
    pub cpu_seconds: f64,
    /// CPU seconds per 1,000 messages (acked sends), when any were sent.
    pub cpu_seconds_per_1000_messages: Option<f64>,
    /// CPU time over wall time (100 = one core busy).
    pub cpu_percent: f64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// `VmHWM`: the peak resident size since each process started, summed.
    pub peak_rss_kib: u64,
    /// Open file descriptors at the start and the end, and the soft limit on them.
    pub open_files_before: Option<u64>,
    pub open_files_after: Option<u64>,
    pub open_files_limit: Option<u64>,
}

impl ProcWatch {
    pub fn new(pids: Vec<u32>) -> Self {
        Self {
            pids,
            ticks_per_second: clock_ticks_per_second(),
        }
    }

    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// The current totals, or `None` when no process is watched.
    pub fn sample(&self) -> anyhow::Result<Option<Snapshot>> {
        if self.pids.is_empty() {
            return Ok(None);
        }
        let mut total = Snapshot {
            open_files: Some(0),
            ..Snapshot::default()
        };
        for &pid in &self.pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .with_context(|| format!("read /proc/{pid}/stat"))?;
            let ticks =
                cpu_ticks(&stat).with_context(|| format!("unexpected /proc/{pid}/stat: {stat}"))?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .with_context(|| format!("read /proc/{pid}/status"))?;
            total.cpu_seconds += ticks as f64 / self.ticks_per_second;
            total.rss_kib += status_kib(&status, "VmRSS:").unwrap_or(0);
            total.hwm_kib += status_kib(&status, "VmHWM:").unwrap_or(0);
            total.open_files = total.open_files.zip(open_files(pid)).map(|(a, b)| a + b);
            let limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
                .ok()
                .and_then(|limits| open_files_limit(&limits));
            total.open_files_limit = match (total.open_files_limit, limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(Some(total))
    }

    /// The usage between two samples over `elapsed`, with `messages` acked meanwhile.
    pub fn usage(
        &self,
        before: Snapshot,
        after: Snapshot,
        elapsed: Duration,
        messages: u64,
    ) -> ServerUsage {
        let cpu_seconds = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        let wall = elapsed.as_secs_f64();
        ServerUsage {
            pids: self.pids.clone(),
            cpu_seconds,
            cpu_seconds_per_1000_messages: (messages > 0)
                .then(|| cpu_seconds * 1000.0 / messages as f64),
            cpu_percent: if wall > 0.0 {
                cpu_seconds / wall * 100.0
            } else {
                0.0
            },
            rss_before_kib: before.rss_kib,
            rss_after_kib: after.rss_kib,
            peak_rss_kib: after.hwm_kib,
            open_files_before: before.open_files,
            open_files_after: after.open_files,
            open_files_limit: after.open_files_limit,
        }
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // after the name: state is field 3, utime 14, stime 15
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The entries of `/proc/<pid>/fd`: one per open file descriptor.
fn open_files(pid: u32) -> Option<u64> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(entries.count() as u64)
}

/// The soft limit of the `Max open files` line of `/proc/<pid>/limits`; `None` when
/// unlimited.
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `sysconf(_SC_CLK_TCK)` through `getconf` (this workspace forbids `unsafe`, so no
/// libc call); 100, the Linux value almost everywhere, when that fails.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_past_a_tricky_command_name() {
        let stat = "4242 (im serve) (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    1234 567 0 0 20 0 9 0 100 2000000 3000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_status_sizes() {
        let status = "Name:\tim\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             95880                95880                processes\n\
                      Max open files            1024                 20000                files\n";
        assert_eq!(open_files_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), None);
    }

    #[test]
    fn samples_this_very_process() {
        let watch = ProcWatch::new(vec![std::process::id()]);
        let before = watch.sample().unwrap().unwrap();
        assert!(before.rss_kib > 0 && before.hwm_kib >= before.rss_kib);
        let files: Vec<std::fs::File> = (0..8)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        let after = watch.sample().unwrap().unwrap();
        assert!(
            after.open_files.unwrap() >= before.open_files.unwrap() + 8,
            "{before:?} {after:?}"
        );
        assert!(after.open_files_limit.unwrap() >= after.open_files.unwrap());
        drop(files);
    }
}
