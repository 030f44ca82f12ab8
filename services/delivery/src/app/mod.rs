//! The use cases: delivering frames made from bus events (at least once to live gateway
//! nodes), delivering ephemeral frames for callers (best effort), and forgetting a
//! conversation's members when they change. Generic over [`Ports`].

mod ephemeral;
mod push;
mod recipients;

pub use ephemeral::EphemeralInput;

use crate::domain::{MemberCache, ValidationError};
use crate::ports::Ports;
use crate::settings::Settings;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the conversation does not exist")]
    ConversationNotFound,
    #[error("the members of the conversation cannot be listed now")]
    ConversationUnavailable(#[source] anyhow::Error),
    #[error("the gateway nodes cannot be listed now")]
    RegistryUnavailable(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// How hard a frame is pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Bus events: a failed push to a node that is still registered is retried (within
    /// [`Settings::push_give_up_after`]) before the event counts as delivered.
    AtLeastOnce,
    /// Ephemeral frames: one attempt per node.
    BestEffort,
}

/// What a delivery achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Connections written to, as the gateway nodes report.
    pub delivered: u32,
    /// Presence could not be asked: every gateway node got the recipients' user ids.
    pub fallback: bool,
}

pub struct App<P: Ports> {
    conversations: P::Conversations,
    presence: P::Presence,
    gateways: P::Gateways,
    members: Mutex<MemberCache>,
    /// Push endpoints whose push was given up, until when they get no retries.
    suspects: Mutex<HashMap<String, Instant>>,
    settings: Settings,
}

impl<P: Ports> App<P> {
    pub fn new(
        conversations: P::Conversations,
        presence: P::Presence,
        gateways: P::Gateways,
        settings: Settings,
    ) -> Self {
        Self {
            conversations,
            presence,
            gateways,
            members: Mutex::new(MemberCache::new(
                settings.member_cache_capacity,
                settings.member_cache_ttl,
            )),
            suspects: Mutex::default(),
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its value consistent, so a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
