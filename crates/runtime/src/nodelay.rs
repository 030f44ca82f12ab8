//! TCP_NODELAY on the database connections, which sqlx opens without it.
//! (Redis connections get it through redis-rs's own setting, `kv::redis::client`.)
//!
//! sqlx 0.9.0 opens its TCP connections with Nagle's algorithm on (earlier versions
//! switched it off; transact-rs/sqlx#4335). With it on, the last part of a statement
//! larger than one TCP segment, or a statement sent right after one that gets no reply
//! (sqlx closing a prepared statement it evicted), waits for the server's delayed ACK:
//! up to 40 ms on Linux, on round trips that otherwise take well under a millisecond.
//! A batch of sends makes several such round trips.
//!
//! sqlx offers no hook to its socket, so after each new connection [`set_on_sockets_to`]
//! finds this process's TCP sockets connected to the database port and sets the option
//! through a duplicate of each descriptor, taken with `pidfd_getfd` from our own
//! process: the option belongs to the socket, which the duplicate shares. Remove this
//! once sqlx sets the option again.

use std::io;

/// Sets TCP_NODELAY on every TCP socket of this process connected to `port` that does
/// not have it yet; returns how many it set.
#[cfg(target_os = "linux")]
pub fn set_on_sockets_to(port: u16) -> io::Result<usize> {
    let mut set = 0;
    for socket in sockets_to(port)? {
        if !rustix::net::sockopt::tcp_nodelay(&socket)? {
            rustix::net::sockopt::set_tcp_nodelay(&socket, true)?;
            set += 1;
        }
    }
    Ok(set)
}

/// Whether each TCP socket of this process connected to `port` has TCP_NODELAY.
#[cfg(target_os = "linux")]
pub fn states_of_sockets_to(port: u16) -> io::Result<Vec<bool>> {
    sockets_to(port)?
        .iter()
        .map(|socket| Ok(rustix::net::sockopt::tcp_nodelay(socket)?))
        .collect()
}

/// Duplicates of this process's descriptors of TCP sockets whose peer port is `port`.
/// The kernel's socket tables say which sockets (by inode) those are, so only their
/// descriptors are duplicated, however many other sockets the process holds.
#[cfg(target_os = "linux")]
fn sockets_to(port: u16) -> io::Result<Vec<rustix::fd::OwnedFd>> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => inodes.extend(inodes_with_peer_port(&text, port)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {} // no IPv6
            Err(error) => return Err(error),
        }
    }
    let mut sockets = Vec::new();
    if inodes.is_empty() {
        return Ok(sockets);
    }
    let me = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        // A descriptor closed meanwhile is skipped; one reused meanwhile is judged by
        // the socket its duplicate holds.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let inode = target
            .to_str()
            .and_then(|t| t.strip_prefix("socket:["))
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse::<u64>().ok());
        if !inode.is_some_and(|inode| inodes.contains(&inode)) {
            continue;
        }
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(socket) = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let peer = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(|addr| std::net::SocketAddr::try_from(addr).ok());
        if peer.is_some_and(|peer| peer.port() == port) {
            sockets.push(socket);
        }
    }
    Ok(sockets)
}

/// The inodes of the sockets in a `/proc/net/tcp` table whose remote port is `port`.
/// Each line: `sl local_address rem_address st … uid timeout inode …`, addresses as
/// `HEXIP:HEXPORT`.
#[cfg(any(target_os = "linux", test))]
fn inodes_with_peer_port(table: &str, port: u16) -> impl Iterator<Item = u64> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (_, remote_port) = fields.get(2)?.rsplit_once(':')?;
        (u16::from_str_radix(remote_port, 16).ok()? == port)
            .then(|| fields.get(9)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_inodes_of_a_peer_port_from_the_socket_table() {
        let table = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 20871 1
   1: 0100007F:9C40 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000     0        0 41234 1
   2: 0100007F:9C41 0100007F:18EB 01 00000000:00000000 00:00000000 00000000     0        0 41240 1
";
        let found: Vec<u64> = inodes_with_peer_port(table, 3306).collect();
        assert_eq!(
            found,
            [41234],
            "the listener's own port 3306 is local, not remote"
        );
    }
}

/// Elsewhere Nagle's algorithm stays as sqlx leaves it.
#[cfg(not(target_os = "linux"))]
pub fn set_on_sockets_to(_port: u16) -> io::Result<usize> {
    Ok(0)
}
