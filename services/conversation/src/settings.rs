//! The service's tunables and their defaults. [`crate::build`] runs on the defaults until
//! the runtime's configuration grows a `[services.conversation]` section (it belongs to
//! the runtime crate); [`crate::build_with_settings`] takes them explicitly meanwhile.

use crate::domain::DirectPolicy;
use im_runtime::outbox::RelaySettings;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Who may start a direct conversation with whom (friends only by default).
    pub direct_policy: DirectPolicy,
    /// The most members a group may have.
    pub member_limit: u32,
    /// Membership log entries kept for `WatchMembership` replay; a watcher further behind
    /// starts with RESET.
    pub membership_log_retention: u64,
    /// How often the membership log is pruned to its retention.
    pub maintenance_interval: Duration,
    /// How often a `WatchMembership` stream looks for changes made by other instances
    /// (changes made by this one wake it at once).
    pub watch_poll_interval: Duration,
    pub outbox: RelaySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            direct_policy: DirectPolicy::FriendsOnly,
            member_limit: 2_000,
            membership_log_retention: 100_000,
            maintenance_interval: Duration::from_secs(60),
            watch_poll_interval: Duration::from_secs(1),
            outbox: RelaySettings::default(),
        }
    }
}
