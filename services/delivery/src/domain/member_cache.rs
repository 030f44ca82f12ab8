//! Members per conversation, kept for a while so a busy group is not listed for every
//! message. Bounded: past its capacity the expired, then the least recently used entries
//! go. A membership change forgets the conversation's entry; a lookup that was already
//! running when some entry was forgotten is used but not kept, so it cannot put back a
//! list older than the change.

use super::{ConversationId, Member};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct MemberCache {
    entries: HashMap<ConversationId, Entry>,
    capacity: usize,
    ttl: Duration,
    /// Bumped by every [`MemberCache::forget`].
    epoch: u64,
    /// Counts uses, to find the least recently used entries.
    uses: u64,
}

struct Entry {
    members: Arc<[Member]>,
    fetched_at: Instant,
    used: u64,
}

/// Taken before a lookup, handed back with its result: whether anything was forgotten
/// meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl MemberCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
            ttl,
            epoch: 0,
            uses: 0,
        }
    }

    /// The members, unless unknown or older than the ttl.
    pub fn get(&mut self, conversation: &ConversationId, now: Instant) -> Option<Arc<[Member]>> {
        let ttl = self.ttl;
        let entry = self.entries.get_mut(conversation)?;
        if now.saturating_duration_since(entry.fetched_at) >= ttl {
            self.entries.remove(conversation);
            return None;
        }
        self.uses += 1;
        entry.used = self.uses;
        Some(entry.members.clone())
    }

    /// To take before looking the members up.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch)
    }

    /// Keeps what a lookup found, unless something was forgotten since its ticket.
    /// Returns whether it was kept.
    pub fn insert(
        &mut self,
        conversation: ConversationId,
        members: Arc<[Member]>,
        ticket: Ticket,
        now: Instant,
    ) -> bool {
        if ticket.0 != self.epoch || self.capacity == 0 {
            return false;
        }
        if !self.entries.contains_key(&conversation) {
            self.make_room(now);
        }
        self.uses += 1;
        self.entries.insert(
            conversation,
            Entry {
                members,
                fetched_at: now,
                used: self.uses,
            },
        );
        true
    }

    /// Drops the conversation's members after a membership change.
    pub fn forget(&mut self, conversation: &ConversationId) {
        self.entries.remove(conversation);
        self.epoch += 1;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Frees at least one slot when full: expired entries first, then the least
    /// recently used eighth (so a full cache does not sort on every insert).
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.capacity {
            return;
        }
        let ttl = self.ttl;
        self.entries
            .retain(|_, entry| now.saturating_duration_since(entry.fetched_at) < ttl);
        if self.entries.len() < self.capacity {
            return;
        }
        let mut by_use: Vec<(u64, ConversationId)> = self
            .entries
            .iter()
            .map(|(id, entry)| (entry.used, id.clone()))
            .collect();
        by_use.sort_unstable();
        let evict = (self.capacity / 8).max(1);
        for (_, id) in by_use.into_iter().take(evict) {
            self.entries.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, UserId};

    fn id(text: &str) -> ConversationId {
        ConversationId::parse(text).unwrap()
    }

    fn members(users: &[&str]) -> Arc<[Member]> {
        users
            .iter()
            .map(|user| Member {
                user_id: UserId::parse(user).unwrap(),
                role: Role::Member,
            })
            .collect()
    }

    #[test]
    fn entries_live_for_the_ttl() {
        let mut cache = MemberCache::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(cache.insert(id("c1"), members(&["a"]), cache.ticket(), t0));
        assert_eq!(
            cache
                .get(&id("c1"), t0 + Duration::from_secs(59))
                .unwrap()
                .len(),
            1
        );
        assert!(cache.get(&id("c1"), t0 + Duration::from_secs(60)).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn forgetting_drops_the_entry_and_stale_lookups() {
        let mut cache = MemberCache::new(10, Duration::from_secs(60));
        let now = Instant::now();
        cache.insert(id("c1"), members(&["a"]), cache.ticket(), now);
        let before_change = cache.ticket();
        cache.forget(&id("c1"));
        assert!(cache.get(&id("c1"), now).is_none());
        // A lookup that started before the change must not put the old list back.
        assert!(!cache.insert(id("c1"), members(&["a"]), before_change, now));
        assert!(cache.get(&id("c1"), now).is_none());
        assert!(cache.insert(id("c1"), members(&["a", "b"]), cache.ticket(), now));
        assert_eq!(cache.get(&id("c1"), now).unwrap().len(), 2);
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used() {
        let mut cache = MemberCache::new(8, Duration::from_secs(60));
        let now = Instant::now();
        for n in 0..8 {
            cache.insert(id(&format!("c{n}")), members(&["a"]), cache.ticket(), now);
        }
        // c0 is used again, so c1 is now the least recently used.
        assert!(cache.get(&id("c0"), now).is_some());
        cache.insert(id("c8"), members(&["a"]), cache.ticket(), now);
        assert_eq!(cache.len(), 8);
        assert!(cache.get(&id("c1"), now).is_none());
        assert!(cache.get(&id("c0"), now).is_some());
        assert!(cache.get(&id("c8"), now).is_some());
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let mut cache = MemberCache::new(0, Duration::from_secs(60));
        assert!(!cache.insert(id("c1"), members(&["a"]), cache.ticket(), Instant::now()));
    }
}
