//! What this gateway must refuse although a token is valid or no token is needed:
//! revoked sessions, banned users and blocked addresses. Identity's snapshot and its
//! events keep it current (see `denylist_feed`); configured CIDRs never expire.
//!
//! Every session revocation and ban is also announced on a broadcast channel, the
//! revocation feed, so open connections (the WebSocket hub) can be closed at once.

use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::{Ban, GetDenylistResponse, IdentityEvent, IpBlock, RevokedSession};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::sync::broadcast;

/// Revocations buffered for slow feed subscribers before they start lagging.
const FEED_CAPACITY: usize = 1024;

/// Something whose live connections must be closed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One session (logout, session revoked, password change elsewhere).
    Session { session_id: String },
    /// Every session of a user (ban).
    User { user_id: String },
}

pub struct Denylist {
    state: RwLock<State>,
    /// From configuration: refused forever.
    configured: Vec<IpNet>,
    /// How long to remember a revoked session that came without a forget time: by
    /// then every access token of it has expired.
    session_retention: Duration,
    feed: broadcast::Sender<Revocation>,
}

#[derive(Default)]
struct State {
    /// Session id → unix ms after which it may be forgotten.
    sessions: HashMap<String, i64>,
    /// User id → unix ms the ban ends, 0 for never.
    bans: HashMap<String, i64>,
    /// Block id → (network, unix ms the block ends, 0 for never).
    ip_blocks: HashMap<String, (IpNet, i64)>,
}

/// `0` means forever; anything else is a unix ms that must still be ahead.
fn in_force(until_ms: i64, now_ms: i64) -> bool {
    until_ms == 0 || until_ms > now_ms
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An address or a CIDR, as configuration and identity write them.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .ok()
}

impl Denylist {
    pub fn new(configured: Vec<IpNet>, session_retention: Duration) -> Self {
        Self {
            state: RwLock::default(),
            configured,
            session_retention,
            feed: broadcast::channel(FEED_CAPACITY).0,
        }
    }

    /// The revocation feed: every revoked session and banned user from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.feed.subscribe()
    }

    pub fn is_session_revoked(&self, session_id: &str) -> bool {
        let now = now_ms();
        self.read()
            .sessions
            .get(session_id)
            .is_some_and(|&forget_after| forget_after > now)
    }

    pub fn is_user_banned(&self, user_id: &str) -> bool {
        let now = now_ms();
        self.read()
            .bans
            .get(user_id)
            .is_some_and(|&until| in_force(until, now))
    }

    pub fn is_ip_blocked(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.configured.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        let now = now_ms();
        self.read()
            .ip_blocks
            .values()
            .any(|(net, until)| in_force(*until, now) && net.contains(&ip))
    }

    /// Applies one event from identity.
    pub fn apply(&self, event: &IdentityEvent) {
        match &event.kind {
            Some(Kind::SessionRevoked(session)) => self.revoke_session(session),
            Some(Kind::UserBanned(ban)) => self.ban(ban),
            Some(Kind::UserUnbanned(unbanned)) => self.unban(&unbanned.user_id),
            Some(Kind::IpBlocked(block)) => self.block_ip(block),
            Some(Kind::IpUnblocked(unblocked)) => self.unblock_ip(&unblocked.id),
            // Not about the denylist: the access feed reloads the rules.
            Some(Kind::AccessChanged(_)) => {}
            None => tracing::debug!(id = %event.id, "identity event of an unknown kind"),
        }
    }

    pub fn revoke_session(&self, session: &RevokedSession) {
        let now = now_ms();
        let forget_after = if session.forget_after_ms > 0 {
            session.forget_after_ms
        } else {
            now + i64::try_from(self.session_retention.as_millis()).unwrap_or(i64::MAX / 2)
        };
        if forget_after <= now {
            return;
        }
        self.write()
            .sessions
            .insert(session.session_id.clone(), forget_after);
        self.announce(Revocation::Session {
            session_id: session.session_id.clone(),
        });
    }

    pub fn ban(&self, ban: &Ban) {
        if !in_force(ban.until_ms, now_ms()) {
            return;
        }
        self.write().bans.insert(ban.user_id.clone(), ban.until_ms);
        self.announce(Revocation::User {
            user_id: ban.user_id.clone(),
        });
    }

    pub fn unban(&self, user_id: &str) {
        self.write().bans.remove(user_id);
    }

    pub fn block_ip(&self, block: &IpBlock) {
        let Some(net) = parse_network(&block.cidr) else {
            tracing::warn!(id = %block.id, cidr = %block.cidr, "ignoring unreadable IP block");
            return;
        };
        if in_force(block.until_ms, now_ms()) {
            self.write()
                .ip_blocks
                .insert(block.id.clone(), (net, block.until_ms));
        }
    }

    pub fn unblock_ip(&self, id: &str) {
        self.write().ip_blocks.remove(id);
    }

    /// Adopts identity's snapshot: bans and IP blocks are replaced (the snapshot is
    /// authoritative), revoked sessions are added (a revocation is never undone).
    /// Newly learnt revocations and bans are announced, as events would have been.
    pub fn load(&self, snapshot: &GetDenylistResponse) {
        let now = now_ms();
        let known_bans: Vec<String> = {
            let mut state = self.write();
            let known = state.bans.keys().cloned().collect();
            state.bans.clear();
            state.ip_blocks.clear();
            known
        };
        for ban in &snapshot.bans {
            if !in_force(ban.until_ms, now) {
                continue;
            }
            if known_bans.contains(&ban.user_id) {
                self.write().bans.insert(ban.user_id.clone(), ban.until_ms);
            } else {
                self.ban(ban);
            }
        }
        for block in &snapshot.ip_blocks {
            self.block_ip(block);
        }
        for session in &snapshot.revoked_sessions {
            if !self.read().sessions.contains_key(&session.session_id) {
                self.revoke_session(session);
            }
        }
        self.prune();
    }

    /// Forgets what no longer has any effect.
    pub fn prune(&self) {
        let now = now_ms();
        let mut state = self.write();
        state.sessions.retain(|_, forget_after| *forget_after > now);
        state.bans.retain(|_, until| in_force(*until, now));
        state
            .ip_blocks
            .retain(|_, (_, until)| in_force(*until, now));
    }

    fn announce(&self, revocation: Revocation) {
        // No subscriber is fine: nothing is connected that would need closing.
        let _ = self.feed.send(revocation);
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denylist() -> Denylist {
        Denylist::new(
            vec![parse_network("203.0.113.0/24").unwrap()],
            Duration::from_secs(900),
        )
    }

    fn event(kind: Kind) -> IdentityEvent {
        IdentityEvent {
            id: "e1".into(),
            occurred_at_ms: now_ms(),
            kind: Some(kind),
        }
    }

    #[test]
    fn configured_networks_are_always_blocked() {
        let list = denylist();
        assert!(list.is_ip_blocked("203.0.113.9".parse().unwrap()));
        assert!(list.is_ip_blocked("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!list.is_ip_blocked("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn events_block_and_unblock() {
        let list = denylist();
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        list.apply(&event(Kind::IpBlocked(IpBlock {
            id: "b1".into(),
            cidr: "2001:db8::/32".into(),
            ..IpBlock::default()
        })));
        assert!(list.is_ip_blocked(ip));
        list.apply(&event(Kind::IpUnblocked(im_contracts::v1::IpUnblocked {
            id: "b1".into(),
        })));
        assert!(!list.is_ip_blocked(ip));
    }

    #[test]
    fn expired_entries_are_ignored() {
        let list = denylist();
        let past = now_ms() - 1000;
        list.ban(&Ban {
            user_id: "u1".into(),
            until_ms: past,
            ..Ban::default()
        });
        list.block_ip(&IpBlock {
            id: "b".into(),
            cidr: "192.0.2.1".into(),
            until_ms: past,
            ..IpBlock::default()
        });
        list.revoke_session(&RevokedSession {
            session_id: "s1".into(),
            user_id: "u1".into(),
            forget_after_ms: past,
        });
        assert!(!list.is_user_banned("u1"));
        assert!(!list.is_ip_blocked("192.0.2.1".parse().unwrap()));
        assert!(!list.is_session_revoked("s1"));
    }

    #[test]
    fn a_ban_without_end_lasts_until_lifted() {
        let list = denylist();
        list.apply(&event(Kind::UserBanned(Ban {
            user_id: "u1".into(),
            ..Ban::default()
        })));
        assert!(list.is_user_banned("u1"));
        list.apply(&event(Kind::UserUnbanned(im_contracts::v1::UserUnbanned {
            user_id: "u1".into(),
        })));
        assert!(!list.is_user_banned("u1"));
    }

    #[test]
    fn the_feed_announces_revocations_and_bans() {
        let list = denylist();
        let mut feed = list.subscribe();
        list.apply(&event(Kind::SessionRevoked(RevokedSession {
            session_id: "s1".into(),
            user_id: "u1".into(),
            forget_after_ms: 0,
        })));
        list.apply(&event(Kind::UserBanned(Ban {
            user_id: "u2".into(),
            ..Ban::default()
        })));
        assert!(list.is_session_revoked("s1"));
        assert_eq!(
            feed.try_recv().unwrap(),
            Revocation::Session {
                session_id: "s1".into()
            }
        );
        assert_eq!(
            feed.try_recv().unwrap(),
            Revocation::User {
                user_id: "u2".into()
            }
        );
    }

    #[test]
    fn a_snapshot_replaces_bans_and_announces_only_news() {
        let list = denylist();
        list.ban(&Ban {
            user_id: "old".into(),
            ..Ban::default()
        });
        list.ban(&Ban {
            user_id: "kept".into(),
            ..Ban::default()
        });
        let mut feed = list.subscribe();
        list.load(&GetDenylistResponse {
            bans: vec![
                Ban {
                    user_id: "kept".into(),
                    ..Ban::default()
                },
                Ban {
                    user_id: "new".into(),
                    ..Ban::default()
                },
            ],
            ip_blocks: vec![],
            revoked_sessions: vec![RevokedSession {
                session_id: "s9".into(),
                user_id: "u9".into(),
                forget_after_ms: now_ms() + 60_000,
            }],
        });
        assert!(!list.is_user_banned("old"));
        assert!(list.is_user_banned("kept") && list.is_user_banned("new"));
        assert!(list.is_session_revoked("s9"));
        let announced: Vec<Revocation> = std::iter::from_fn(|| feed.try_recv().ok()).collect();
        assert_eq!(
            announced,
            vec![
                Revocation::User {
                    user_id: "new".into()
                },
                Revocation::Session {
                    session_id: "s9".into()
                }
            ]
        );
    }
}
