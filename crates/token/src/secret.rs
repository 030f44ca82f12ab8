//! Secrets that are not signatures: opaque random tokens, their stored hashes, and
//! comparisons that take the same time whatever the inputs share.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes from the operating system.
///
/// # Panics
/// When the operating system has no randomness to give, which no caller can recover from.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0_u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

/// A fresh opaque token: 256 random bits, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

/// What is stored instead of a token: its SHA-256, hex. A database leak then yields no
/// usable token, and lookups by hash stay indexable.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equality whose running time does not depend on where the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_unique() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn hashes_are_stable_and_do_not_reveal_the_token() {
        let token = random_token();
        assert_eq!(token_hash(&token), token_hash(&token));
        assert_eq!(token_hash(&token).len(), 64);
        assert!(!token_hash(&token).contains(&token));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samf"));
        assert!(!constant_time_eq(b"short", b"longer"));
        assert!(constant_time_eq(b"", b""));
    }
}
