//! The service's tunables and their defaults. [`crate::build`] runs on the defaults until
//! the runtime's configuration grows a `[services.message]` section (it belongs to the
//! runtime crate); [`crate::build_with`] takes them explicitly meanwhile.

use im_runtime::outbox::RelaySettings;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long after sending its sender may recall a message (group owners and admins
    /// may at any time).
    pub recall_window: Duration,
    /// How long after sending its sender may edit a text message.
    pub edit_window: Duration,
    /// How long one call to the conversation service may take.
    pub conversation_deadline: Duration,
    /// The most conversations of one user a sync looks at.
    pub sync_conversation_limit: usize,
    /// The most sends stored in one transaction (group commit).
    pub send_batch: usize,
    /// How many batches of sends may be stored at once.
    pub send_writers: usize,
    pub outbox: RelaySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recall_window: Duration::from_secs(2 * 60),
            edit_window: Duration::from_secs(24 * 60 * 60),
            conversation_deadline: Duration::from_secs(2),
            sync_conversation_limit: 10_000,
            send_batch: 256,
            send_writers: 2,
            outbox: RelaySettings::default(),
        }
    }
}
