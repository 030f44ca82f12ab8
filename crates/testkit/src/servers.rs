//! Private backend servers that a test starts, stops and restarts itself (a Redis for an
//! outage scenario, a broker to pause), on free loopback ports, killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests).
///
/// # Panics
/// When the machine has no free port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Finds an executable: `$variable` if set, else the first of `candidates` that exists
/// (absolute paths) or is on `PATH`. Outside CI a missing program returns `None` with a
/// note (the test skips); under CI it panics.
///
/// # Panics
/// Under `CI=true` (or `IM_TEST_REQUIRE_BACKENDS=1`) when the program is missing.
pub fn program(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = std::env::var_os(variable)
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .or_else(|| candidates.iter().find_map(|name| locate(name)));
    if found.is_none() {
        assert!(
            !crate::backends_required(),
            "{candidates:?} not found (set {variable}), and this run requires every backend"
        );
        eprintln!("skipping: {candidates:?} not found (set {variable})");
    }
    found
}

fn locate(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A server process that is killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    command: Vec<String>,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `program args…` and waits until `port` accepts connections.
    ///
    /// # Panics
    /// When the program cannot start or does not open its port within 20 s.
    pub fn start(name: &str, program: &Path, args: &[String], port: u16, log_dir: &Path) -> Self {
        let mut command = vec![program.display().to_string()];
        command.extend(args.iter().cloned());
        let mut server = Self {
            name: name.to_owned(),
            command,
            port,
            child: None,
            log: log_dir.join(format!("{name}.log")),
        };
        server.spawn();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the process at once (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same command again on the same port.
    ///
    /// # Panics
    /// As [`ServerProcess::start`].
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// The process's output so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4_000);
        text.get(start..).unwrap_or(&text).to_owned()
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg(signal)
                .arg(child.id().to_string())
                .status();
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("a log file for the server");
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name));
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not open port {} within 20 s:\n{}",
                self.name,
                self.port,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.resume();
        self.kill();
    }
}

/// A private, memory-only Redis on a free port, or `None` when `redis-server` is missing
/// outside CI.
///
/// # Panics
/// Under CI when `redis-server` is missing, or when it does not start.
pub fn redis_server(log_dir: &Path) -> Option<ServerProcess> {
    let program = program("IM_TEST_REDIS_SERVER", &["redis-server"])?;
    let port = free_port();
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .map(str::to_owned);
    Some(ServerProcess::start(
        "redis", &program, &args, port, log_dir,
    ))
}
