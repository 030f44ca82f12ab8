//! Authorization with Casbin: which signed-in user may call which route.
//!
//! Rules (policies, role assignments, role inheritance) are stored by identity and
//! shared through `im-access` (the model, validation, pattern translation). Each gateway
//! loads them whole into its own enforcer ([`AccessRules`] is the Casbin adapter),
//! reloads on identity's `AccessChanged` events and every 30 s, and refuses every
//! non-public request until the first load succeeded (fail closed).

mod authorizer;
mod feed;
mod regex_cache;
mod rules;

pub use authorizer::{Authorizer, DENIED_METRIC, Decision, DenyReason};
pub use feed::AccessFeed;
pub use rules::{AccessRules, effect_text};
