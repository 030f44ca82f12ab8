//! What `CheckSend` reads (the conversation, the member, a block between a pair),
//! remembered for the membership version it was read at. Every change to any of it
//! appends to the membership log in the same transaction and so moves the version, and
//! each check reads the current version first: an answer from here is as fresh as one
//! read from the tables, at one read instead of three. Time-dependent parts (a mute
//! that runs out) are decided at each check, never remembered.

use crate::domain::{Conversation, ConversationId, Member, UserId};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Entries kept before the cache starts over.
const CAPACITY: usize = 100_000;

/// The stored facts one send check decides on.
#[derive(Debug, Clone, Default)]
pub struct SendFacts {
    /// The conversation, unless unknown or dissolved.
    pub conversation: Option<Conversation>,
    /// The user's membership in it.
    pub member: Option<Member>,
    /// Direct conversations: one of the pair blocks the other.
    pub blocked: bool,
}

/// Facts read at one membership version; a newer version empties it.
#[derive(Default)]
pub struct SendFactsCache {
    inner: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    version: u64,
    facts: HashMap<(ConversationId, UserId), SendFacts>,
}

impl SendFactsCache {
    /// The facts for `key` as of `version`, the current membership version.
    pub fn get(&self, key: &(ConversationId, UserId), version: u64) -> Option<SendFacts> {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if version > cached.version {
            cached.facts.clear();
            cached.version = version;
        }
        if version == cached.version {
            cached.facts.get(key).cloned()
        } else {
            // a check that read the version before a newer one was seen
            None
        }
    }

    /// Remembers facts read after reading `version`, unless the cache has since moved
    /// to another version.
    pub fn put(&self, key: (ConversationId, UserId), version: u64, facts: SendFacts) {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.version != version {
            return;
        }
        if cached.facts.len() >= CAPACITY {
            cached.facts.clear();
        }
        cached.facts.insert(key, facts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str, u: &str) -> (ConversationId, UserId) {
        (ConversationId::parse(c).unwrap(), UserId::parse(u).unwrap())
    }

    fn blocked() -> SendFacts {
        SendFacts {
            blocked: true,
            ..SendFacts::default()
        }
    }

    #[test]
    fn answers_only_at_the_version_it_was_filled_at() {
        let cache = SendFactsCache::default();
        let k = key("c_1", "u_1");
        assert!(cache.get(&k, 7).is_none());
        cache.put(k.clone(), 7, blocked());
        assert!(cache.get(&k, 7).is_some_and(|f| f.blocked));
        // a change anywhere moves the version: everything read before is forgotten
        assert!(cache.get(&k, 8).is_none());
        assert!(
            cache.get(&k, 7).is_none(),
            "an old version does not bring it back"
        );
        cache.put(k.clone(), 7, blocked());
        assert!(
            cache.get(&k, 8).is_none(),
            "nor is anything read at it kept"
        );
    }

    #[test]
    fn facts_read_before_a_change_are_not_kept_after_it() {
        let cache = SendFactsCache::default();
        let k = key("c_1", "u_1");
        assert!(cache.get(&k, 3).is_none());
        // another check saw version 4 while this one was still reading at 3
        assert!(cache.get(&key("c_2", "u_2"), 4).is_none());
        cache.put(k.clone(), 3, blocked());
        assert!(cache.get(&k, 4).is_none());
    }
}
