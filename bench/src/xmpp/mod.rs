//! An XMPP client for the comparison with ejabberd: plain TCP (no TLS), SASL PLAIN,
//! resource binding, initial presence, XEP-0198 stream management for acks, XEP-0199
//! pings for the idle scenario, and one-to-one chat messages carrying the same
//! [`crate::client::Stamp`] as IM's messages (the bench conversation in `<thread/>`).

mod connection;
pub mod parse;
pub mod sm;
pub mod stanza;

pub use connection::Connection;

/// Where the XMPP server listens, which domain it serves, and how to reach it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `host:port` of the c2s listener.
    pub addr: String,
    pub domain: String,
    /// Where client sockets come from.
    pub dialer: std::sync::Arc<crate::dial::Dialer>,
}
