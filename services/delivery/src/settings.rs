//! The service's tunables and their defaults. [`crate::build`] runs on the defaults until
//! the runtime's configuration grows a `[services.delivery]` section (it belongs to the
//! runtime crate); [`crate::build_with_settings`] takes them explicitly meanwhile.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a conversation's members are reused before being listed again (a
    /// membership event forgets them at once, on every instance).
    pub member_cache_ttl: Duration,
    /// How many conversations' members are kept.
    pub member_cache_capacity: usize,
    /// Deadline of each call to conversation and presence.
    pub lookup_timeout: Duration,
    /// Deadline of each Push to a gateway node.
    pub push_timeout: Duration,
    /// How many gateway nodes are pushed to at once.
    pub push_concurrency: usize,
    /// How long a push of a bus event to a registered node that fails is retried
    /// before it is given up (the clients sync what they missed).
    pub push_give_up_after: Duration,
    /// First pause between retries (doubling up to `max_retry_backoff`), for pushes and
    /// for events whose recipients cannot be looked up.
    pub retry_backoff: Duration,
    pub max_retry_backoff: Duration,
    /// After a push was given up, how long that node gets a single attempt per push
    /// instead of retries, so a dead node does not stall every event.
    pub suspect_for: Duration,
    /// Most bus events handled together (one Push per node carries all their frames).
    pub batch_size: usize,
    /// Most targets plus user ids in one Push request.
    pub max_push_refs: usize,
    /// About the largest Push request, in bytes.
    pub max_push_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            member_cache_ttl: Duration::from_secs(60),
            member_cache_capacity: 10_000,
            lookup_timeout: Duration::from_secs(3),
            push_timeout: Duration::from_secs(3),
            push_concurrency: 16,
            push_give_up_after: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(2),
            suspect_for: Duration::from_secs(10),
            batch_size: 64,
            max_push_refs: 2000,
            max_push_bytes: 1024 * 1024,
        }
    }
}
