//! What the run measured: latency histograms and the ledger of who received what.

mod latency;
mod ledger;

pub use latency::{Latency, Percentiles};
pub use ledger::{Acked, Arrival, Inbox, Rules, Tally, reconcile, tally};
