//! Test helpers shared by IM crates.
//!
//! Real backends are tested for real. Under `CI=true`, or `IM_TEST_REQUIRE_BACKENDS=1`
//! (which the project's test command sets), a missing MariaDB or Redis fails the tests
//! that need it, so such a run can never pass without exercising every backend. In a bare
//! `cargo test` elsewhere they are skipped with a note on stderr.
//!
//! Service test harnesses build on [`TestDatabases`] (fresh SQL databases, dropped
//! afterwards), [`run_then_clean_up`] (cleanup even when a scenario panics) and
//! [`on_every_backend!`] (one test per backend for each scenario).

pub mod contract;
mod databases;
mod scenario;
pub mod servers;
mod switchable_bus;

pub use databases::{SqlBackend, TestDatabases};
pub use scenario::run_then_clean_up;
pub use switchable_bus::SwitchableBus;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// MariaDB/MySQL server used by tests, overridable with `IM_TEST_MYSQL_URL`.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";
/// Redis used by tests, overridable with `IM_TEST_REDIS_URL`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Whether every backend is mandatory in this run.
pub fn backends_required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("IM_TEST_REQUIRE_BACKENDS")
}

/// The MySQL server URL (no database), or `None` when unreachable outside CI.
///
/// # Panics
/// Under `CI=true` when the server is unreachable.
pub fn mysql_server() -> Option<String> {
    backend("IM_TEST_MYSQL_URL", DEFAULT_MYSQL_URL, 3306)
}

/// The Redis URL, or `None` when unreachable outside CI.
///
/// # Panics
/// Under `CI=true` when the server is unreachable.
pub fn redis() -> Option<String> {
    backend("IM_TEST_REDIS_URL", DEFAULT_REDIS_URL, 6379)
}

/// A Kafka-protocol broker used by tests, overridable with `IM_TEST_KAFKA_URL`.
pub const DEFAULT_KAFKA_URL: &str = "kafka://127.0.0.1:9092";
/// etcd used by tests, overridable with `IM_TEST_ETCD_URL`.
pub const DEFAULT_ETCD_URL: &str = "etcd://127.0.0.1:2379";

/// The Kafka bus URL (`kafka://host:port`), or `None` when unreachable outside CI.
///
/// # Panics
/// Under `CI=true` when the broker is unreachable.
pub fn kafka() -> Option<String> {
    backend("IM_TEST_KAFKA_URL", DEFAULT_KAFKA_URL, 9092)
}

/// The etcd registry URL (`etcd://host:port`), or `None` when unreachable outside CI.
///
/// # Panics
/// Under `CI=true` when etcd is unreachable.
pub fn etcd() -> Option<String> {
    backend("IM_TEST_ETCD_URL", DEFAULT_ETCD_URL, 2379)
}

/// A name no other test run uses: `prefix_<12 hex digits>`.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn backend(variable: &str, default: &str, default_port: u16) -> Option<String> {
    let url = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    if reachable(&url, default_port) {
        return Some(url);
    }
    assert!(
        !backends_required(),
        "{url} ({variable}) is unreachable, and this run requires every backend (CI=true or IM_TEST_REQUIRE_BACKENDS=1)"
    );
    eprintln!("skipping: {url} ({variable}) is unreachable; set CI=true to make this fatal");
    None
}

fn reachable(url: &str, default_port: u16) -> bool {
    let Some(address) = host_port(url, default_port) else {
        return false;
    };
    let Ok(mut addrs) = address.to_socket_addrs() else {
        return false;
    };
    addrs.any(|addr: SocketAddr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// `scheme://[user[:pass]@]host[:port][/…]` → `host:port`.
fn host_port(url: &str, default_port: u16) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return None;
    }
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host_port.ends_with(']');
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_extraction() {
        assert_eq!(
            host_port("mysql://root@127.0.0.1:3306", 1).as_deref(),
            Some("127.0.0.1:3306")
        );
        assert_eq!(
            host_port("redis://u:p@cache/0", 6379).as_deref(),
            Some("cache:6379")
        );
        assert_eq!(host_port("mysql://", 1), None);
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("im_test"), unique_name("im_test"));
    }
}
