//! What keeps the edge standing under floods: rate limits ([`quotas`], applied to
//! requests by [`middleware`], to WebSocket frames by `ws::rate_limit`) and load
//! shedding ([`shedding`]).
//!
//! Rate limits are per client address before login and per user after, with tighter
//! quotas on costly routes; they answer 429 `rate_limited` with `Retry-After` and are
//! shared between gateways through Redis when the kv is Redis (each node counting on
//! its own while Redis is down). Load shedding answers 503 `overloaded` once too many
//! requests are in flight.

mod middleware;
mod quotas;
mod shedding;

pub use middleware::throttle;
pub use quotas::{Caller, EdgeLimits, Scope};
pub use shedding::{InFlight, shed_load};

/// Counter: requests and frames refused by a rate limit, by `scope` (`ip`, `user`,
/// `login`, `register`, `refresh`, `message_send`, `upload`, `ws_frame`).
pub const RATE_LIMITED_METRIC: &str = "im_rate_limited_total";
/// Counter: requests answered 503 `overloaded` because too many were in flight.
pub const OVERLOADED_METRIC: &str = "im_gateway_overloaded_total";
