//! The wire contracts between IM services: Rust types and tonic clients/servers generated
//! from `proto/im/v1/*.proto`, the single source of truth.

/// Version 1 of the internal contracts (`package im.v1`).
pub mod v1 {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    tonic::include_proto!("im.v1");
}

/// Bus topics: part of the contract like the protos. Payloads are protobuf messages.
pub mod topics {
    /// `v1::IdentityEvent`, keyed by user id (`ip-blocks` for IP entries, `access` for
    /// policy and role changes).
    pub const IDENTITY_EVENTS: &str = "im.identity.events";
    /// `v1::MessageEvent`, keyed by conversation id.
    pub const MESSAGE_EVENTS: &str = "im.message.events";
    /// `v1::ConversationEvent`, keyed by conversation id (the smaller user id of the
    /// pair for contact-level events).
    pub const CONVERSATION_EVENTS: &str = "im.conversation.events";
    /// `v1::PresenceChanged`, keyed by user id.
    pub const PRESENCE_EVENTS: &str = "im.presence.events";
}

pub mod views;
