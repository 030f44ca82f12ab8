//! A distributed IM on this machine: every service a separate `im serve --services …`
//! process, two gateways, two message and two delivery instances, on MariaDB, a private
//! Redis, a private Kafka-protocol broker (tansu) and etcd — the layout of
//! docs/OPERATIONS.md, started and broken by the scenarios.

use crate::api::Api;
use crate::process::ImProcess;
use im_testkit::servers::{self, ServerProcess};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The processes of a cluster, by name, with the services each one runs.
const LAYOUT: &[(&str, &str)] = &[
    ("identity", "identity"),
    ("conversation", "conversation"),
    ("message-1", "message"),
    ("message-2", "message"),
    ("presence", "presence"),
    ("delivery-1", "delivery"),
    ("delivery-2", "delivery"),
    ("file", "file,media-signal"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
];

pub struct Cluster {
    /// Keeps the data directories until the cluster is dropped.
    _dir: tempfile::TempDir,
    launcher: Launcher,
    pub broker: ServerProcess,
    pub redis: ServerProcess,
    processes: BTreeMap<&'static str, ImProcess>,
    databases: String,
    mysql: String,
}

/// What a cluster needs from the machine, or `None` (outside CI) when something is missing.
pub struct Machine {
    mysql: String,
    etcd: String,
    tansu: PathBuf,
}

impl Machine {
    pub fn find() -> Option<Self> {
        let mysql = im_testkit::mysql_server()?;
        let etcd = im_testkit::etcd()?;
        let tansu = servers::program("IM_TEST_TANSU", &["tansu", "/var/cache/im/tools/bin/tansu"])?;
        // The private Redis is started per cluster; check its program now.
        servers::program("IM_TEST_REDIS_SERVER", &["redis-server"])?;
        Some(Self { mysql, etcd, tansu })
    }
}

impl Cluster {
    /// Starts a whole cluster; `extra` adds configuration (`IM__…` variables) to every
    /// process.
    pub async fn start(machine: &Machine, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let name = im_testkit::unique_name("imc");
        let redis = servers::redis_server(dir.path()).expect("redis-server");
        let broker = start_broker(&machine.tansu, dir.path());
        let databases = name.clone();
        let mut env: Vec<(String, String)> = vec![
            (
                "IM__DATABASE__URL".into(),
                format!("{}/{databases}_{{service}}", machine.mysql),
            ),
            (
                "IM__KV__URL".into(),
                format!("redis://127.0.0.1:{}", redis.port()),
            ),
            (
                "IM__BUS__URL".into(),
                format!("kafka://127.0.0.1:{}/{name}", broker.port()),
            ),
            (
                "IM__REGISTRY__URL".into(),
                format!("{}/{name}?ttl=3s", machine.etcd),
            ),
            ("IM__SHUTDOWN__GRACE".into(), "5".into()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );

        let launcher = Launcher {
            dir: dir.path().to_owned(),
            env,
        };
        let mut cluster = Self {
            _dir: dir,
            launcher,
            broker,
            redis,
            processes: BTreeMap::new(),
            databases,
            mysql: machine.mysql.clone(),
        };
        cluster.launcher.migrate();
        // Identity first: it creates the signing keys the gateways fetch.
        cluster.start_process("identity");
        let rest: Vec<&'static str> = LAYOUT
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != "identity")
            .collect();
        let launcher = &cluster.launcher;
        let started: Vec<(&'static str, ImProcess)> = std::thread::scope(|scope| {
            let handles: Vec<_> = rest
                .iter()
                .map(|name| scope.spawn(move || (*name, launcher.spawn(name))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        cluster.processes.extend(started);
        cluster.wait_until_connected().await;
        cluster
    }

    /// Starts (or starts again) the process `name` of the layout.
    pub fn start_process(&mut self, name: &'static str) {
        let process = self.launcher.spawn(name);
        self.processes.insert(name, process);
    }

    /// `kill -9`: the process gets no chance to deregister or drain.
    pub fn kill(&mut self, name: &str) {
        let process = self
            .processes
            .remove(name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        Self::keep_logs(name, &process);
        drop(process); // ImProcess kills with SIGKILL on drop
    }

    /// With `IM_TEST_CLUSTER_LOGS=DIR`, every process's log lines end up in
    /// `DIR/<process>.log` (appended, so a killed process's lines stay too).
    fn keep_logs(name: &str, process: &ImProcess) {
        let Some(dir) = std::env::var_os("IM_TEST_CLUSTER_LOGS") else {
            return;
        };
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{name}.log")))
        {
            use std::io::Write as _;
            for line in process.drain_logs() {
                let _ = writeln!(file, "{line}");
            }
        }
    }

    /// The sum of a Prometheus counter's samples whose labels contain `labels`, as
    /// process `name` exports it (0 when absent).
    pub async fn counter(&self, name: &str, metric: &str, labels: &str) -> f64 {
        let url = self.process(name).admin_url("/metrics");
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|line| line.starts_with(metric) && line.contains(labels))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, |sum, sample| sum + sample)
    }

    pub fn process(&self, name: &str) -> &ImProcess {
        &self.processes[name]
    }

    pub fn api(&self, gateway: &str) -> Api {
        Api::new(self.process(gateway))
    }

    pub fn http_base(&self, gateway: &str) -> String {
        self.process(gateway).http_url("")
    }

    /// Waits until both gateways see every service they call (through etcd) as ready.
    async fn wait_until_connected(&self) {
        for gateway in ["gateway-1", "gateway-2"] {
            let url = self.process(gateway).admin_url("/readyz");
            let ok = crate::process::eventually(Duration::from_secs(30), || async {
                match reqwest::get(&url).await {
                    Ok(reply) => reply
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|report| all_checks_ok(&report)),
                    Err(_) => false,
                }
            })
            .await;
            assert!(ok, "{gateway} did not see every service within 30 s");
        }
    }
}

/// How to start the cluster's processes (shared by the threads that start them at once).
struct Launcher {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Launcher {
    fn migrate(&self) {
        let status = self
            .command()
            .args(["migrate", "--services", "all"])
            .status()
            .unwrap();
        assert!(status.success(), "im migrate failed");
    }

    fn command(&self) -> Command {
        let mut command = crate::process::im(&self.dir.join("migrate"));
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    fn spawn(&self, name: &str) -> ImProcess {
        let services = LAYOUT
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, services)| *services)
            .unwrap_or_else(|| panic!("no process {name} in the layout"));
        let data = self.dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        ImProcess::start(&data, |command| {
            command
                .args(["--services", services])
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env("IM__NODE_ID", name);
        })
    }
}

fn all_checks_ok(report: &serde_json::Value) -> bool {
    let mut all = true;
    visit_checks(report, &mut |ok| all &= ok);
    all
}

/// Every `"ok": bool` in a readiness report, wherever it is nested.
fn visit_checks(value: &serde_json::Value, on: &mut impl FnMut(bool)) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(ok) = map.get("ok").and_then(serde_json::Value::as_bool) {
                on(ok);
            }
            map.values().for_each(|v| visit_checks(v, on));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| visit_checks(v, on)),
        _ => {}
    }
}

fn start_broker(tansu: &Path, log_dir: &Path) -> ServerProcess {
    let port = servers::free_port();
    let listener = format!("tcp://127.0.0.1:{port}");
    let args = [
        "broker",
        "--listener-url",
        &listener,
        "--advertised-listener-url",
        &listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    .map(str::to_owned);
    ServerProcess::start("tansu", tansu, &args, port, log_dir)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (name, process) in &self.processes {
            Self::keep_logs(name, process);
        }
        self.processes.clear();
        // Drop this cluster's databases; a failure here must not hide the test's own.
        let databases: Vec<String> = LAYOUT
            .iter()
            .flat_map(|(_, services)| services.split(','))
            .map(|service| format!("{}_{}", self.databases, service.replace('-', "_")))
            .collect();
        let mysql = self.mysql.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else {
                return;
            };
            runtime.block_on(async {
                let Ok(conn) = sea_orm::Database::connect(&mysql).await else {
                    return;
                };
                for database in databases {
                    let _ = sea_orm::ConnectionTrait::execute_unprepared(
                        &conn,
                        &format!("DROP DATABASE IF EXISTS `{database}`"),
                    )
                    .await;
                }
            });
        })
        .join();
    }
}
