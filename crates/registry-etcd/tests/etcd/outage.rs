//! etcd going away under running processes: each keeps resolving from what it last knew,
//! writes fail instead of hanging, and everything resumes when etcd returns. These tests
//! start a private etcd (the `etcd` binary, or `IM_TEST_ETCD_SERVER`) they can kill.

use crate::{PROPAGATION, TTL, eventually, handle, ids, instance, scoped};
use im_runtime::ServiceName::{File, Presence};
use im_runtime::registry::Registry;
use im_testkit::servers::{ServerProcess, free_port, program};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Reconnection backs off up to ~7.5 s, then the view is read again and the watch resumes.
const RECOVERY: Duration = Duration::from_secs(20);
/// A write to an unreachable etcd must fail within this, not hang.
const WRITE_GIVES_UP: Duration = Duration::from_secs(10);

/// A single-member etcd on free loopback ports, killed when dropped.
struct PrivateEtcd {
    server: ServerProcess,
    url: String,
    _dir: TempDir,
}

impl PrivateEtcd {
    /// `None` (with a note) when the etcd binary is missing outside CI.
    async fn start() -> Option<Self> {
        let program = program("IM_TEST_ETCD_SERVER", &["etcd"])?;
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let (client_url, peer_url) = (
            format!("http://127.0.0.1:{client}"),
            format!("http://127.0.0.1:{peer}"),
        );
        let data = dir.path().join("data").display().to_string();
        let args = [
            "--name",
            "test",
            "--data-dir",
            &data,
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--initial-cluster",
            &format!("test={peer_url}"),
        ]
        .map(str::to_owned);
        let started = Instant::now();
        let server = tokio::task::block_in_place(|| {
            ServerProcess::start("etcd", &program, &args, client, dir.path())
        });
        let etcd = Self {
            server,
            url: format!("etcd://127.0.0.1:{client}"),
            _dir: dir,
        };
        etcd.wait_until_serving(started).await;
        Some(etcd)
    }

    fn kill(&mut self) {
        self.server.kill();
    }

    /// Starts it again on the same ports and data.
    async fn restart(&mut self) {
        let started = Instant::now();
        tokio::task::block_in_place(|| self.server.restart());
        self.wait_until_serving(started).await;
    }

    fn pause(&self) {
        self.server.pause();
    }

    fn resume(&self) {
        self.server.resume();
    }

    /// An open port is not yet a leader: waits for a read to succeed.
    async fn wait_until_serving(&self, started: Instant) {
        let member = format!("127.0.0.1:{}", self.server.port());
        let read = || async {
            let attempt = async {
                let mut client = etcd_client::Client::connect([member.as_str()], None).await?;
                client.get("ready", None).await
            };
            matches!(
                tokio::time::timeout(Duration::from_secs(1), attempt).await,
                Ok(Ok(_))
            )
        };
        eventually(
            Duration::from_secs(20),
            "the private etcd serves reads",
            read,
        )
        .await;
        eprintln!("private etcd serving {:?} after start", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_keeps_the_last_view_while_etcd_is_down() {
    let Some(mut etcd) = PrivateEtcd::start().await else {
        return;
    };
    let url = scoped(&etcd.url, "/im");
    let (owner, observer) = (handle(&url).await, handle(&url).await);
    owner
        .register(instance(Presence, "node-1", 7001))
        .await
        .unwrap();
    eventually(PROPAGATION, "the observer sees the instance", || async {
        ids(&observer, Presence).await == ["node-1/presence"]
    })
    .await;

    etcd.kill();
    // Longer than the TTL: the last view is served, never an empty one.
    let outage = Instant::now();
    while outage.elapsed() < TTL * 2 {
        assert_eq!(ids(&observer, Presence).await, ["node-1/presence"]);
        assert_eq!(ids(&owner, Presence).await, ["node-1/presence"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = instance(File, "node-1", 7002);
    let refused = tokio::time::timeout(WRITE_GIVES_UP, owner.register(file.clone()))
        .await
        .expect("a registration fails instead of hanging while etcd is down");
    assert!(refused.is_err());

    etcd.restart().await;
    eventually(RECOVERY, "registering works again", || async {
        owner.register(file.clone()).await.is_ok()
    })
    .await;
    eventually(RECOVERY, "the observer follows etcd again", || async {
        ids(&observer, File).await == ["node-1/file"]
            && ids(&observer, Presence).await == ["node-1/presence"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_etcd_blocks_neither_resolve_nor_register() {
    let Some(etcd) = PrivateEtcd::start().await else {
        return;
    };
    let url = scoped(&etcd.url, "/im");
    let (owner, observer) = (handle(&url).await, handle(&url).await);
    owner
        .register(instance(Presence, "node-1", 7001))
        .await
        .unwrap();
    eventually(PROPAGATION, "the observer sees the instance", || async {
        ids(&observer, Presence).await == ["node-1/presence"]
    })
    .await;

    // Like a network partition: connections stay open, nothing answers.
    etcd.pause();
    assert_eq!(ids(&observer, Presence).await, ["node-1/presence"]);
    let file = instance(File, "node-1", 7002);
    let refused = tokio::time::timeout(WRITE_GIVES_UP, owner.register(file.clone()))
        .await
        .expect("a registration gives up instead of hanging on a silent etcd");
    assert!(refused.is_err());
    assert_eq!(ids(&observer, Presence).await, ["node-1/presence"]);

    // Paused longer than the TTL, etcd may expire the owner's lease when it wakes up;
    // the owner then registers its instances again.
    etcd.resume();
    eventually(RECOVERY, "registering works again", || async {
        owner.register(file.clone()).await.is_ok()
    })
    .await;
    eventually(RECOVERY, "the observer sees both instances", || async {
        ids(&observer, File).await == ["node-1/file"]
            && ids(&observer, Presence).await == ["node-1/presence"]
    })
    .await;
}
