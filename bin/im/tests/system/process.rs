//! Starting `im` as a child process and reading back where it listens from its JSON logs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const IM: &str = env!("CARGO_BIN_EXE_im");

/// A running `im serve`; killed on drop if the test did not stop it.
pub struct ImProcess {
    child: Child,
    pub http: Option<SocketAddr>,
    pub admin: SocketAddr,
    pub grpc: HashMap<String, SocketAddr>,
    logs: mpsc::Receiver<String>,
}

/// `im` with a data directory and no inherited `IM__` configuration.
pub fn im(data_dir: &Path) -> Command {
    let mut command = Command::new(IM);
    for (key, _) in std::env::vars() {
        if key.starts_with("IM__") {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("IM_LOG", "info");
    command
}

impl ImProcess {
    /// Runs `im serve` on random ports and waits until it says it is up.
    pub fn start(data_dir: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = im(data_dir);
        command.args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ]);
        configure(&mut command);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut grpc = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match logs.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => panic!("im did not come up within 60 s: {:?}", child.try_wait()),
            };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            match event["message"].as_str() {
                Some("serving gRPC") => {
                    let service = event["service"].as_str().unwrap().to_owned();
                    grpc.insert(
                        service,
                        event["grpc_addr"].as_str().unwrap().parse().unwrap(),
                    );
                }
                Some("im is up") => {
                    let http = event["http_addr"].as_str().unwrap();
                    let process = Self {
                        child,
                        http: (!http.is_empty()).then(|| http.parse().unwrap()),
                        admin: event["admin_addr"].as_str().unwrap().parse().unwrap(),
                        grpc,
                        logs,
                    };
                    process.wait_ready(deadline);
                    return process;
                }
                _ => {}
            }
        }
    }

    /// Like a load balancer, waits for `/readyz` to answer 200 before sending traffic.
    fn wait_ready(&self, deadline: Instant) {
        loop {
            if http_status(self.admin, "/readyz") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "im at {} did not become ready",
                self.admin
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The log lines printed since the last call (everything, the first time).
    #[allow(dead_code)] // the cluster suite's
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    pub fn http_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.http.expect("this process runs the gateway")
        )
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Sends SIGTERM and waits for the exit status, returning the log lines it printed.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "im did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.logs.try_iter().collect())
    }
}

/// The status of a blocking `GET path` (plain HTTP/1.1), without an async runtime.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Drop for ImProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The gRPC health status of `service` at `addr`, or -1 when the call fails.
pub async fn grpc_health(addr: SocketAddr, service: &str) -> i32 {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    client.check(request).await.unwrap().into_inner().status
}

/// Polls until `probe` holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
