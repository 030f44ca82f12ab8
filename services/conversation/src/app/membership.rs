//! The membership feed behind `WatchMembership`, and keeping its log to retention.

use super::{App, AppResult};
use crate::domain::MembershipEntry;
use crate::ports::{Ports, Store};
use tokio::sync::Notify;

/// What a watcher at some version gets next.
#[derive(Debug, Clone, Default)]
pub struct MembershipFeed {
    /// The watcher's version is no longer in the log (or is ahead of it): it must drop
    /// its cache; the entries continue after this version.
    pub reset_to: Option<u64>,
    pub entries: Vec<MembershipEntry>,
}

impl<P: Ports> App<P> {
    /// Up to `limit` membership changes after version `after`. `after` 0 means "from the
    /// oldest retained" without a reset (a watcher with an empty cache).
    pub async fn membership_since(&self, after: u64, limit: u64) -> AppResult<MembershipFeed> {
        let mut from = after;
        let mut reset_to = None;
        loop {
            let page = self.store.membership_log(from, limit).await?;
            if from > page.current {
                return Ok(MembershipFeed {
                    reset_to: Some(page.current),
                    entries: Vec::new(),
                });
            }
            // `pruned_through` is read after the entries: if it passed `from`, the
            // entries may have a hole, so read again from the retained start.
            if page.pruned_through <= from {
                return Ok(MembershipFeed {
                    reset_to,
                    entries: page.entries,
                });
            }
            if after != 0 {
                reset_to = Some(page.pruned_through);
            }
            from = page.pruned_through;
        }
    }

    /// Woken after every local commit that changed membership. Other instances' changes
    /// are found by polling.
    pub fn membership_changed(&self) -> &Notify {
        &self.membership_changed
    }

    /// Drops membership log entries beyond the retention.
    pub async fn prune_membership_log(&self) -> AppResult<()> {
        let pruned_through = self
            .store
            .prune_membership_log(self.settings.membership_log_retention)
            .await?;
        tracing::debug!(pruned_through, "membership log pruned");
        Ok(())
    }
}
