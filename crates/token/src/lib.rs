//! Access tokens of IM: compact JWTs signed with Ed25519 (`alg: EdDSA`), their public
//! keys as a JWKS, and the secret helpers (random tokens, hashing, constant-time
//! comparison) that identity and the gateway share.
//!
//! Only `EdDSA` is ever accepted: there is no algorithm negotiation, so `alg: none`,
//! HS256-with-the-public-key and every other algorithm-confusion attack fail at the header.

mod jwk;
mod jwt;
pub mod secret;

pub use jwk::{Jwk, Jwks};
pub use jwt::{Claims, Header, PublicKey, SigningKey, TokenError, Validation, decode_header};
