//! The live connections of this node: which sockets each session holds, which sessions
//! each user has, and whose presence each socket watches. Frames reach sockets through
//! here (the Push RPC, presence changes), and so do closes (revocations, the node
//! stopping).
//!
//! A session is reported to presence once per node, however many sockets it holds: when
//! its first socket registers and when its last one leaves.

use super::outbound::{Close, Outbound, Pushed};
use super::presence_report::DeviceReports;
use axum::extract::ws::Utf8Bytes;
use im_contracts::v1::DeviceRef;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub type ConnectionId = u64;

/// Who holds a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user_id: String,
    pub session_id: String,
    /// As the client named its device; may be empty.
    pub device_id: String,
}

struct Entry {
    holder: Holder,
    outbound: Outbound,
    /// Users whose presence changes this connection receives.
    watching: Vec<String>,
}

#[derive(Default)]
struct Registry {
    connections: HashMap<ConnectionId, Entry>,
    /// Session id → its connections here, oldest first.
    sessions: HashMap<String, Vec<ConnectionId>>,
    /// User id → their sessions with a connection here.
    users: HashMap<String, HashSet<String>>,
    /// Watched user id → the connections watching them.
    watchers: HashMap<String, HashSet<ConnectionId>>,
    /// Set once every connection was closed: those registering later are closed alike.
    closed: Option<Close>,
}

/// The outcome of one pushed frame.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Connections the frame was queued for.
    pub connections: u32,
    /// The targeted sessions no connection here took the frame for.
    pub offline: Vec<DeviceRef>,
}

pub struct Hub {
    node_id: String,
    registry: RwLock<Registry>,
    next_id: AtomicU64,
    reports: DeviceReports,
}

impl Hub {
    pub fn new(node_id: String, reports: DeviceReports) -> Self {
        Self {
            node_id,
            registry: RwLock::default(),
            next_id: AtomicU64::new(1),
            reports,
        }
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The queue of reports to presence, in the order this node saw the changes.
    pub fn reports(&self) -> &DeviceReports {
        &self.reports
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The device `holder` is, as presence knows it.
    pub fn device(&self, holder: &Holder) -> DeviceRef {
        DeviceRef {
            user_id: holder.user_id.clone(),
            session_id: holder.session_id.clone(),
            device_id: holder.device_id.clone(),
            node_id: self.node_id.clone(),
        }
    }

    /// Adds a connection; true when it is the first of its session, which the caller
    /// then announces to presence (awaited, before serving the socket's frames). After
    /// [`Self::close_all`], the connection is closed as the others were.
    pub fn register(&self, holder: Holder, outbound: Outbound) -> (ConnectionId, bool) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut registry = self.write();
        // Under the lock: a connection registers either before `close_all` looks, or
        // after it left its close here.
        if let Some(close) = &registry.closed {
            outbound.close(close.clone());
        }
        let sockets = registry
            .sessions
            .entry(holder.session_id.clone())
            .or_default();
        sockets.push(id);
        let first = sockets.len() == 1;
        registry
            .users
            .entry(holder.user_id.clone())
            .or_default()
            .insert(holder.session_id.clone());
        registry.connections.insert(
            id,
            Entry {
                holder,
                outbound,
                watching: Vec::new(),
            },
        );
        metrics::gauge!(super::CONNECTIONS_METRIC).set(registry.connections.len() as f64);
        (id, first)
    }

    /// Removes a connection; the last of its session is reported to presence.
    pub fn unregister(&self, id: ConnectionId) {
        let mut registry = self.write();
        let Some(entry) = registry.connections.remove(&id) else {
            return;
        };
        unwatch(&mut registry, id, &entry.watching);
        let session = &entry.holder.session_id;
        let session_left = match registry.sessions.get_mut(session) {
            Some(sockets) => {
                sockets.retain(|socket| *socket != id);
                sockets.is_empty()
            }
            None => false,
        };
        if session_left {
            registry.sessions.remove(session);
            if let Some(sessions) = registry.users.get_mut(&entry.holder.user_id) {
                sessions.remove(session);
                if sessions.is_empty() {
                    registry.users.remove(&entry.holder.user_id);
                }
            }
            self.reports.disconnected(self.device(&entry.holder));
        }
        metrics::gauge!(super::CONNECTIONS_METRIC).set(registry.connections.len() as f64);
    }

    /// Queues `frame` for the connections of the `targets`' sessions and of every
    /// session of `user_ids`, except `excluded` sessions; each connection once.
    pub fn push(
        &self,
        targets: &[DeviceRef],
        user_ids: &[String],
        excluded: &[String],
        frame: &Utf8Bytes,
    ) -> Delivered {
        let excluded: HashSet<&str> = excluded.iter().map(String::as_str).collect();
        let mut chosen: HashMap<ConnectionId, Outbound> = HashMap::new();
        // Per targeted device: the connections that stand for it.
        let mut targeted: Vec<(&DeviceRef, Vec<ConnectionId>)> = Vec::new();
        {
            let registry = self.read();
            let mut take = |registry: &Registry, session: &str| -> Vec<ConnectionId> {
                let sockets = registry.sessions.get(session).cloned().unwrap_or_default();
                for socket in &sockets {
                    if let Some(entry) = registry.connections.get(socket) {
                        chosen
                            .entry(*socket)
                            .or_insert_with(|| entry.outbound.clone());
                    }
                }
                sockets
            };
            for target in targets {
                if excluded.contains(target.session_id.as_str()) {
                    continue;
                }
                let sockets = take(&registry, &target.session_id);
                targeted.push((target, sockets));
            }
            for user in user_ids {
                let sessions: Vec<String> = registry
                    .users
                    .get(user)
                    .map(|sessions| sessions.iter().cloned().collect())
                    .unwrap_or_default();
                for session in sessions {
                    if !excluded.contains(session.as_str()) {
                        take(&registry, &session);
                    }
                }
            }
        }
        let queued: HashSet<ConnectionId> = chosen
            .into_iter()
            .filter(|(_, outbound)| outbound.push(frame.clone()) == Pushed::Queued)
            .map(|(id, _)| id)
            .collect();
        Delivered {
            connections: u32::try_from(queued.len()).unwrap_or(u32::MAX),
            offline: targeted
                .into_iter()
                .filter(|(_, sockets)| !sockets.iter().any(|socket| queued.contains(socket)))
                .map(|(target, _)| target.clone())
                .collect(),
        }
    }

    /// Closes every connection of `session_ids` and of every session of `user_ids` with
    /// `close`; how many were open.
    pub fn close(&self, session_ids: &[String], user_ids: &[String], close: &Close) -> u32 {
        let outbounds: Vec<Outbound> = {
            let registry = self.read();
            let sessions = user_ids
                .iter()
                .filter_map(|user| registry.users.get(user))
                .flatten()
                .chain(session_ids);
            let sockets: HashSet<ConnectionId> = sessions
                .filter_map(|session| registry.sessions.get(session))
                .flatten()
                .copied()
                .collect();
            sockets
                .iter()
                .filter_map(|socket| registry.connections.get(socket))
                .map(|entry| entry.outbound.clone())
                .collect()
        };
        close_each(&outbounds, close)
    }

    /// Closes the connections whose holder `refused` picks (a revocation check after
    /// revocations were missed); how many.
    pub fn close_where(&self, refused: impl Fn(&Holder) -> bool, close: &Close) -> u32 {
        let outbounds: Vec<Outbound> = self
            .read()
            .connections
            .values()
            .filter(|entry| refused(&entry.holder))
            .map(|entry| entry.outbound.clone())
            .collect();
        close_each(&outbounds, close)
    }

    /// Closes every connection with `close`, and every one registered from now on (the
    /// node is stopping); how many were open.
    pub fn close_all(&self, close: &Close) -> u32 {
        let outbounds: Vec<Outbound> = {
            let mut registry = self.write();
            registry.closed = Some(close.clone());
            registry
                .connections
                .values()
                .map(|entry| entry.outbound.clone())
                .collect()
        };
        close_each(&outbounds, close)
    }

    /// Makes `user_ids` the users whose presence changes connection `id` receives.
    pub fn watch(&self, id: ConnectionId, user_ids: Vec<String>) {
        let mut registry = self.write();
        let Some(entry) = registry.connections.get_mut(&id) else {
            return;
        };
        let before = std::mem::replace(&mut entry.watching, user_ids.clone());
        unwatch(&mut registry, id, &before);
        for user in user_ids {
            registry.watchers.entry(user).or_default().insert(id);
        }
    }

    /// Queues `frame` for every connection watching `user_id`; how many took it.
    pub fn presence_changed(&self, user_id: &str, frame: &Utf8Bytes) -> usize {
        let outbounds: Vec<Outbound> = {
            let registry = self.read();
            registry
                .watchers
                .get(user_id)
                .into_iter()
                .flatten()
                .filter_map(|socket| registry.connections.get(socket))
                .map(|entry| entry.outbound.clone())
                .collect()
        };
        outbounds
            .iter()
            .filter(|outbound| outbound.push(frame.clone()) == Pushed::Queued)
            .count()
    }

    /// One device per session connected here, for the presence heartbeat.
    pub fn devices(&self) -> Vec<DeviceRef> {
        let registry = self.read();
        registry
            .sessions
            .values()
            .filter_map(|sockets| sockets.first())
            .filter_map(|socket| registry.connections.get(socket))
            .map(|entry| self.device(&entry.holder))
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.read().connections.len()
    }
}

fn unwatch(registry: &mut Registry, id: ConnectionId, users: &[String]) {
    for user in users {
        if let Some(watchers) = registry.watchers.get_mut(user) {
            watchers.remove(&id);
            if watchers.is_empty() {
                registry.watchers.remove(user);
            }
        }
    }
}

/// Closes each of `outbounds` with `close`; how many were open.
fn close_each(outbounds: &[Outbound], close: &Close) -> u32 {
    let closed = outbounds
        .iter()
        .filter(|outbound| outbound.close(close.clone()))
        .count();
    u32::try_from(closed).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::outbound::{self, Next, Queued, code};
    use super::super::presence_report::DeviceChange;
    use super::*;
    use tokio::sync::mpsc;

    fn hub() -> (
        Hub,
        mpsc::Receiver<super::super::presence_report::QueuedChange>,
    ) {
        let (reports, changes) = DeviceReports::channel();
        (Hub::new("n1".into(), reports), changes)
    }

    fn holder(user: &str, session: &str) -> Holder {
        Holder {
            user_id: user.into(),
            session_id: session.into(),
            device_id: String::new(),
        }
    }

    fn connect(hub: &Hub, user: &str, session: &str) -> (ConnectionId, Queued) {
        let (outbound, queued) = outbound::channel();
        (hub.register(holder(user, session), outbound).0, queued)
    }

    fn device(user: &str, session: &str) -> DeviceRef {
        DeviceRef {
            user_id: user.into(),
            session_id: session.into(),
            device_id: String::new(),
            node_id: "n1".into(),
        }
    }

    #[tokio::test]
    async fn frames_reach_targets_and_users_once_minus_excluded_sessions() {
        let (hub, _changes) = hub();
        let (_, a1) = connect(&hub, "a", "a-s1");
        let (_, a2) = connect(&hub, "a", "a-s2");
        let (_, b1) = connect(&hub, "b", "b-s1");
        let frame = Utf8Bytes::from("f");

        let delivered = hub.push(
            &[device("a", "a-s1"), device("c", "c-s1")],
            &["a".into()],
            &["a-s2".into()],
            &frame,
        );
        assert_eq!(delivered.connections, 1);
        assert_eq!(delivered.offline, vec![device("c", "c-s1")]);
        assert_eq!(a1.try_next(), Some(Next::Frame(frame)));
        assert_eq!(a1.try_next(), None, "once, though targeted twice");
        assert_eq!(a2.try_next(), None, "excluded");
        assert_eq!(b1.try_next(), None, "not targeted");
    }

    #[tokio::test]
    async fn sessions_are_reported_on_first_and_last_connection() {
        let (hub, mut changes) = hub();
        let (outbound, _q1) = outbound::channel();
        let (first, is_first) = hub.register(holder("a", "s1"), outbound);
        let (outbound, _q2) = outbound::channel();
        let (second, is_second_first) = hub.register(holder("a", "s1"), outbound);
        assert!(
            is_first && !is_second_first,
            "only the session's first socket announces"
        );
        assert!(
            changes.try_recv().is_err(),
            "connects are announced by the connection"
        );
        assert_eq!(hub.devices(), vec![device("a", "s1")]);
        hub.unregister(first);
        assert!(changes.try_recv().is_err());
        hub.unregister(second);
        assert_eq!(
            changes.try_recv().unwrap().0,
            DeviceChange::Disconnected(device("a", "s1"))
        );
        assert!(hub.devices().is_empty());
        assert_eq!(hub.connections(), 0);
    }

    #[tokio::test]
    async fn closing_users_and_sessions_closes_their_connections() {
        let (hub, _changes) = hub();
        let (_, a) = connect(&hub, "a", "a-s1");
        let (_, b) = connect(&hub, "b", "b-s1");
        let (_, c) = connect(&hub, "c", "c-s1");
        let close = Close::new(code::REVOKED, "revoked");
        assert_eq!(hub.close(&["b-s1".into()], &["a".into()], &close), 2);
        assert!(a.close().is_some());
        assert!(b.close().is_some());
        assert!(c.close().is_none());
        assert_eq!(
            hub.close(&["b-s1".into()], &[], &close),
            0,
            "already closing"
        );
    }

    #[tokio::test]
    async fn closing_all_closes_every_connection_and_those_registering_later() {
        let (hub, _changes) = hub();
        let (_, a) = connect(&hub, "a", "a-s1");
        let (_, b) = connect(&hub, "b", "b-s1");
        let (_, revoked) = connect(&hub, "c", "c-s1");
        let revocation = Close::new(code::REVOKED, "revoked");
        assert_eq!(hub.close(&["c-s1".into()], &[], &revocation), 1);
        let restart = Close::new(code::SERVICE_RESTART, "server restarting");

        assert_eq!(
            hub.close_all(&restart),
            2,
            "the revoked one was closing already"
        );
        assert_eq!(a.close(), Some(restart.clone()));
        assert_eq!(b.close(), Some(restart.clone()));
        assert_eq!(revoked.close(), Some(revocation), "the first close wins");
        let (_, late) = connect(&hub, "d", "d-s1");
        assert_eq!(
            late.close(),
            Some(restart),
            "a connection registering after is closed too"
        );
    }

    #[tokio::test]
    async fn presence_changes_reach_the_current_watchers_only() {
        let (hub, _changes) = hub();
        let (watcher, queued) = connect(&hub, "a", "s1");
        hub.watch(watcher, vec!["x".into(), "y".into()]);
        hub.watch(watcher, vec!["y".into()]);
        assert_eq!(hub.presence_changed("x", &"px".into()), 0);
        assert_eq!(hub.presence_changed("y", &"py".into()), 1);
        assert_eq!(queued.try_next(), Some(Next::Frame("py".into())));
        hub.unregister(watcher);
        assert_eq!(hub.presence_changed("y", &"py".into()), 0);
    }
}
