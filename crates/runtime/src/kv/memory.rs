//! In-process kv: a map behind a mutex, with lazy expiry.

use super::{Kv, KvError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Expired entries are swept after this many writes, so memory stays bounded by live keys.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
pub struct MemoryKv {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    writes: u64,
}

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl State {
    fn live_mut(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !e.live(now)) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.entries.retain(|_, entry| entry.live(now));
        }
    }
}

impl MemoryKv {
    fn with_state<T>(&self, f: impl FnOnce(&mut State, Instant) -> T) -> T {
        // A panic while holding the lock cannot leave a half-written entry behind
        // (every mutation is a single map operation), so a poisoned lock is safe to reuse.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state, Instant::now())
    }
}

#[async_trait]
impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with_state(|state, now| state.live_mut(key, now).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        self.with_state(|state, now| {
            let entry = Entry {
                value: value.to_vec(),
                expires_at: ttl.map(|ttl| now + ttl),
            };
            state.entries.insert(key.to_owned(), entry);
            state.wrote(now);
        });
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        Ok(self.with_state(|state, now| {
            if state.live_mut(key, now).is_some() {
                return false;
            }
            let entry = Entry {
                value: value.to_vec(),
                expires_at: Some(now + ttl),
            };
            state.entries.insert(key.to_owned(), entry);
            state.wrote(now);
            true
        }))
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.with_state(|state, now| {
            let existed = state.live_mut(key, now).is_some();
            state.entries.remove(key);
            existed
        }))
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        self.with_state(|state, now| {
            let entry = match state.live_mut(key, now) {
                Some(entry) => entry,
                None => state.entries.entry(key.to_owned()).or_insert(Entry {
                    value: b"0".to_vec(),
                    expires_at: None,
                }),
            };
            let current: i64 = std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| KvError::NotAnInteger {
                    key: key.to_owned(),
                })?;
            let next = current
                .checked_add(by)
                .ok_or_else(|| KvError::NotAnInteger {
                    key: key.to_owned(),
                })?;
            entry.value = next.to_string().into_bytes();
            if entry.expires_at.is_none() {
                entry.expires_at = ttl.map(|ttl| now + ttl);
            }
            state.wrote(now);
            Ok(next)
        })
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }
}
