//! In-process kv: a map of values and hashes behind a mutex, with lazy expiry.

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
    value: Value,
    expires_at: Option<Instant>,
}

/// What a key holds. A hash always has at least one field: removing the last removes
/// the key, as in Redis.
enum Value {
    Bytes(Vec<u8>),
    Hash(HashMap<String, Vec<u8>>),
}

impl Entry {
    fn bytes(value: &[u8], expires_at: Option<Instant>) -> Self {
        Self {
            value: Value::Bytes(value.to_vec()),
            expires_at,
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

fn wrong_type(key: &str) -> KvError {
    KvError::WrongType {
        key: key.to_owned(),
    }
}

impl State {
    fn live_mut(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !e.live(now)) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// The live hash at `key`; `None` when absent, an error when `key` holds a value.
    fn hash_mut(
        &mut self,
        key: &str,
        now: Instant,
    ) -> Result<Option<&mut HashMap<String, Vec<u8>>>, KvError> {
        match self.live_mut(key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Hash(fields),
                ..
            }) => Ok(Some(fields)),
            Some(_) => Err(wrong_type(key)),
        }
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
        self.with_state(|state, now| match state.live_mut(key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Bytes(value),
                ..
            }) => Ok(Some(value.clone())),
            Some(_) => Err(wrong_type(key)),
        })
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        self.with_state(|state, now| {
            let entry = Entry::bytes(value, ttl.map(|ttl| now + ttl));
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
            let entry = Entry::bytes(value, Some(now + ttl));
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
                None => state
                    .entries
                    .entry(key.to_owned())
                    .or_insert(Entry::bytes(b"0", None)),
            };
            let Value::Bytes(value) = &mut entry.value else {
                return Err(wrong_type(key));
            };
            let current: i64 = std::str::from_utf8(value)
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
            *value = next.to_string().into_bytes();
            if entry.expires_at.is_none() {
                entry.expires_at = ttl.map(|ttl| now + ttl);
            }
            state.wrote(now);
            Ok(next)
        })
    }

    async fn hash_set(&self, key: &str, field: &str, value: &[u8]) -> Result<(), KvError> {
        self.with_state(|state, now| {
            match state.hash_mut(key, now)? {
                Some(fields) => {
                    fields.insert(field.to_owned(), value.to_vec());
                }
                None => {
                    let fields = HashMap::from([(field.to_owned(), value.to_vec())]);
                    let entry = Entry {
                        value: Value::Hash(fields),
                        expires_at: None,
                    };
                    state.entries.insert(key.to_owned(), entry);
                }
            }
            state.wrote(now);
            Ok(())
        })
    }

    async fn hash_get(&self, key: &str, field: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with_state(|state, now| {
            Ok(state
                .hash_mut(key, now)?
                .and_then(|fields| fields.get(field).cloned()))
        })
    }

    async fn hash_delete(&self, key: &str, field: &str) -> Result<bool, KvError> {
        self.with_state(|state, now| {
            let Some(fields) = state.hash_mut(key, now)? else {
                return Ok(false);
            };
            let existed = fields.remove(field).is_some();
            if fields.is_empty() {
                state.entries.remove(key);
            }
            Ok(existed)
        })
    }

    async fn hash_get_all(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.with_state(|state, now| {
            Ok(state.hash_mut(key, now)?.map_or_else(Vec::new, |fields| {
                fields
                    .iter()
                    .map(|(field, value)| (field.clone(), value.clone()))
                    .collect()
            }))
        })
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        Ok(
            self.with_state(|state, now| match state.live_mut(key, now) {
                Some(entry) => {
                    entry.expires_at = Some(now + ttl);
                    true
                }
                None => false,
            }),
        )
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }
}
