//! The wire contracts between IM services: Rust types and tonic clients/servers generated
//! from `proto/im/v1/*.proto`, the single source of truth.

/// Version 1 of the internal contracts (`package im.v1`).
pub mod v1 {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    tonic::include_proto!("im.v1");
}
