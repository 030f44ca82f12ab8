//! A client of IM's public API: REST for setup and M5, WebSocket for the hot path.

mod api;
mod backoff;
mod stamp;
mod ws;

pub use api::{Api, SendOutcome, Tokens};
pub use backoff::Backoff;
pub use stamp::Stamp;
pub(crate) use ws::{CLOSE_LIMIT, finish_reader, pings, tick};
pub use ws::{Connection, Live, send_frame};
