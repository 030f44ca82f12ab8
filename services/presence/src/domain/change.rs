//! The one rule for changing a user's connections. Every change — a connect, a
//! disconnect, a heartbeat's refresh, the sweeper's pass — first forgets the records
//! that expired, then applies itself, and announces each transition it observes:
//!
//! 1. announced online before, and nothing live once the expired are forgotten: the
//!    user went offline by expiry (last seen: the last confirmation of those devices);
//! 2. then, from what is live to what the change leaves: came online or went offline.
//!
//! Since the announced state is read from the records themselves (online while any is
//! connected, expired or not), a transition is announced exactly once by whichever
//! change observes it, as long as changes to one user are serialized.

use super::{
    Connection, ConnectionKey, DeviceRecord, DeviceStatus, PresenceChanged, UserDevices, UserId,
};

/// What happens to one of the user's connections.
#[derive(Debug, Clone)]
pub enum DeviceOp {
    /// A node reports a connection (again: it is refreshed, keeping when it started).
    Connect { connection: Connection, ttl_ms: i64 },
    /// A node's heartbeat lists the connection: like a connect, except that a
    /// connection disconnected meanwhile (within its ttl) stays disconnected, since the
    /// heartbeat may have been sent before the disconnect.
    Refresh { connection: Connection, ttl_ms: i64 },
    /// A node reports a connection closed; the record stays `keep_ms` as a tombstone.
    Disconnect { key: ConnectionKey, keep_ms: i64 },
    /// Only forget what expired.
    Sweep,
}

/// What a change decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceChange {
    /// The user's records after the change.
    pub after: UserDevices,
    /// Transitions to announce, in order.
    pub events: Vec<PresenceChanged>,
    /// The last seen time to store: set when the user went offline.
    pub last_seen_ms: Option<i64>,
    /// The user had no live connection before and has one now.
    pub came_online: bool,
    /// The user was online as last announced, and has no connection now (whether this
    /// op or an expiry took the last one).
    pub went_offline: bool,
    /// The op's connection was recorded as connected (connect and refresh only).
    pub recorded: bool,
}

pub fn decide(user_id: &UserId, before: &UserDevices, op: DeviceOp, now_ms: i64) -> DeviceChange {
    let announced = before.announced_online();
    let current = before.without_expired(now_ms);
    let live_now = current.announced_online();

    let mut events = Vec::new();
    let mut last_seen_ms = None;
    let event = |online, last_seen_ms| PresenceChanged {
        user_id: user_id.clone(),
        online,
        last_seen_ms,
        occurred_at_ms: now_ms,
    };
    if announced && !live_now {
        let seen = before.last_seen_in_gone(now_ms).unwrap_or(now_ms);
        events.push(event(false, seen));
        last_seen_ms = Some(seen);
    }

    let (after, recorded) = match op {
        DeviceOp::Connect { connection, ttl_ms } => {
            (connected(current.clone(), connection, ttl_ms, now_ms), true)
        }
        DeviceOp::Refresh { connection, ttl_ms } => {
            let disconnected = current
                .get(&connection.key())
                .is_some_and(|r| !r.is_connected());
            if disconnected {
                (current.clone(), false)
            } else {
                (connected(current.clone(), connection, ttl_ms, now_ms), true)
            }
        }
        DeviceOp::Disconnect { key, keep_ms } => match current.get(&key) {
            Some(record) if record.is_connected() => {
                let tombstone = DeviceRecord {
                    status: DeviceStatus::Disconnected { at_ms: now_ms },
                    expires_at_ms: now_ms.saturating_add(keep_ms),
                    ..record.clone()
                };
                (current.clone().with(tombstone), false)
            }
            _ => (current.clone(), false),
        },
        DeviceOp::Sweep => (current.clone(), false),
    };

    let online_after = after.announced_online();
    let came_online = !live_now && online_after;
    if came_online {
        events.push(event(true, now_ms));
    }
    if live_now && !online_after {
        events.push(event(false, now_ms));
        last_seen_ms = Some(now_ms);
    }
    DeviceChange {
        after,
        events,
        last_seen_ms,
        came_online,
        went_offline: announced && !online_after,
        recorded,
    }
}

/// `devices` with `connection` recorded as connected and confirmed now.
fn connected(
    devices: UserDevices,
    connection: Connection,
    ttl_ms: i64,
    now_ms: i64,
) -> UserDevices {
    let connected_at_ms = devices
        .get(&connection.key())
        .filter(|r| r.is_connected())
        .map_or(now_ms, |r| r.connected_at_ms);
    devices.with(DeviceRecord {
        connection,
        connected_at_ms,
        last_heartbeat_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(ttl_ms),
        status: DeviceStatus::Connected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeviceId, NodeId, SessionId};

    const TTL: i64 = 1_000;

    fn user() -> UserId {
        UserId::parse("alice").unwrap()
    }

    fn connection(session: &str, node: &str) -> Connection {
        Connection {
            user_id: user(),
            session_id: SessionId::parse(session).unwrap(),
            device_id: DeviceId::parse("phone").unwrap(),
            node_id: NodeId::parse(node).unwrap(),
        }
    }

    fn connect(before: &UserDevices, session: &str, now_ms: i64) -> DeviceChange {
        let op = DeviceOp::Connect {
            connection: connection(session, "n1"),
            ttl_ms: TTL,
        };
        decide(&user(), before, op, now_ms)
    }

    fn disconnect(before: &UserDevices, session: &str, now_ms: i64) -> DeviceChange {
        let op = DeviceOp::Disconnect {
            key: connection(session, "n1").key(),
            keep_ms: TTL,
        };
        decide(&user(), before, op, now_ms)
    }

    fn transitions(change: &DeviceChange) -> Vec<(bool, i64)> {
        change
            .events
            .iter()
            .map(|e| (e.online, e.last_seen_ms))
            .collect()
    }

    #[test]
    fn the_first_device_brings_the_user_online_and_the_last_takes_them_offline() {
        let first = connect(&UserDevices::default(), "s1", 100);
        assert!(first.came_online && first.recorded);
        assert_eq!(transitions(&first), [(true, 100)]);

        let second = connect(&first.after, "s2", 200);
        assert!(!second.came_online);
        assert!(second.events.is_empty());

        let one_left = disconnect(&second.after, "s1", 300);
        assert!(!one_left.went_offline);
        assert!(one_left.events.is_empty());
        assert_eq!(one_left.after.live(300).count(), 1);

        let gone = disconnect(&one_left.after, "s2", 400);
        assert!(gone.went_offline);
        assert_eq!(transitions(&gone), [(false, 400)]);
        assert_eq!(gone.last_seen_ms, Some(400));

        let again = disconnect(&gone.after, "s2", 450);
        assert!(!again.went_offline && again.events.is_empty(), "idempotent");
    }

    #[test]
    fn a_connect_again_keeps_when_the_connection_started() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let again = connect(&first.after, "s1", 600);
        assert!(again.events.is_empty());
        let record = again.after.get(&connection("s1", "n1").key()).unwrap();
        assert_eq!(
            (
                record.connected_at_ms,
                record.last_heartbeat_ms,
                record.expires_at_ms
            ),
            (100, 600, 600 + TTL)
        );
    }

    #[test]
    fn a_late_heartbeat_does_not_bring_back_a_disconnected_device() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let gone = disconnect(&first.after, "s1", 200);
        let refresh = |devices: &UserDevices, now_ms| {
            let op = DeviceOp::Refresh {
                connection: connection("s1", "n1"),
                ttl_ms: TTL,
            };
            decide(&user(), devices, op, now_ms)
        };
        let late = refresh(&gone.after, 300);
        assert!(!late.recorded && late.events.is_empty());
        assert_eq!(late.after.live(300).count(), 0);

        // once the tombstone expired, a heartbeat listing the device records it again
        let much_later = refresh(&late.after, 200 + TTL + 1);
        assert!(much_later.recorded && much_later.came_online);
    }

    #[test]
    fn expiry_is_announced_once_with_the_last_confirmation_as_last_seen() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let swept = decide(&user(), &first.after, DeviceOp::Sweep, 100 + TTL + 5);
        assert!(swept.went_offline);
        assert_eq!(transitions(&swept), [(false, 100)]);
        assert_eq!(swept.last_seen_ms, Some(100));
        assert!(swept.after.records().is_empty());

        let again = decide(&user(), &swept.after, DeviceOp::Sweep, 100 + TTL + 10);
        assert!(again.events.is_empty());
    }

    #[test]
    fn an_expired_device_does_not_hide_a_live_one() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let second = connect(&first.after, "s2", 900);
        let swept = decide(&user(), &second.after, DeviceOp::Sweep, 100 + TTL + 5);
        assert!(swept.events.is_empty());
        assert_eq!(swept.after.records().len(), 1);
    }

    #[test]
    fn coming_back_after_an_unannounced_expiry_announces_both_transitions() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let back = connect(&first.after, "s2", 100 + TTL + 50);
        assert!(back.came_online);
        assert_eq!(transitions(&back), [(false, 100), (true, 100 + TTL + 50)]);
    }

    #[test]
    fn disconnecting_an_expired_device_announces_its_expiry_only() {
        let first = connect(&UserDevices::default(), "s1", 100);
        let late = disconnect(&first.after, "s1", 100 + TTL + 50);
        assert!(late.went_offline);
        assert_eq!(transitions(&late), [(false, 100)]);
    }

    #[test]
    fn presence_reads_live_devices_and_last_seen() {
        let nobody = UserDevices::default().presence(&user(), 100, None);
        assert_eq!((nobody.online, nobody.last_seen_ms), (false, 0));

        let first = connect(&UserDevices::default(), "s1", 100);
        let online = first.after.presence(&user(), 150, Some(50));
        assert_eq!((online.online, online.last_seen_ms), (true, 100));
        assert_eq!(online.devices, [connection("s1", "n1")]);

        // expired but not yet swept: offline, seen at its last confirmation
        let expired = first.after.presence(&user(), 100 + TTL, Some(50));
        assert_eq!((expired.online, expired.last_seen_ms), (false, 100));
        assert!(expired.devices.is_empty());
    }
}
