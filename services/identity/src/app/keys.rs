//! The signing keys in memory: the newest active key signs; every key that may still
//! have signed an unexpired token verifies and is published in the JWKS.

use crate::ports::StoredKey;
use im_token::{PublicKey, SigningKey};

#[derive(Debug, Clone)]
struct RingKey {
    key: SigningKey,
    created_at_ms: i64,
    retired_at_ms: Option<i64>,
}

/// A snapshot of the stored keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyRing {
    keys: Vec<RingKey>,
}

impl KeyRing {
    /// Keys that fail to load are skipped (and logged): one corrupt row must not stop
    /// verification with the others.
    pub fn from_stored(stored: Vec<StoredKey>) -> Self {
        let keys = stored
            .into_iter()
            .filter_map(|stored| {
                match SigningKey::from_secret_bytes(stored.kid.clone(), &stored.secret) {
                    Ok(key) => Some(RingKey {
                        key,
                        created_at_ms: stored.created_at_ms,
                        retired_at_ms: stored.retired_at_ms,
                    }),
                    Err(error) => {
                        tracing::error!(kid = %stored.kid, %error, "unusable signing key skipped");
                        None
                    }
                }
            })
            .collect();
        Self { keys }
    }

    /// The key new tokens are signed with: the newest one not retired. Instances that
    /// raced to create a first key all converge on the same one after a reload.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|k| k.retired_at_ms.is_none())
            .max_by(|a, b| (a.created_at_ms, a.key.kid()).cmp(&(b.created_at_ms, b.key.kid())))
            .map(|k| &k.key)
    }

    /// Public keys that may verify a token at `now_ms`: active ones, and retired ones
    /// whose last tokens (issued at most `access_ttl_ms` before retirement) may live on.
    pub fn published(&self, now_ms: i64, access_ttl_ms: i64) -> Vec<PublicKey> {
        let mut keys: Vec<&RingKey> = self
            .keys
            .iter()
            .filter(|k| {
                k.retired_at_ms
                    .is_none_or(|retired| retired.saturating_add(access_ttl_ms) > now_ms)
            })
            .collect();
        keys.sort_by(|a, b| (b.created_at_ms, b.key.kid()).cmp(&(a.created_at_ms, a.key.kid())));
        keys.into_iter().map(|k| k.key.public_key()).collect()
    }

    pub fn verifier(&self, kid: &str, now_ms: i64, access_ttl_ms: i64) -> Option<PublicKey> {
        self.published(now_ms, access_ttl_ms)
            .into_iter()
            .find(|key| key.kid() == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(kid: &str, created_at_ms: i64, retired_at_ms: Option<i64>) -> StoredKey {
        let key = SigningKey::generate(kid);
        StoredKey {
            kid: kid.into(),
            secret: key.secret_bytes().to_vec(),
            public: key.public_key().to_bytes().to_vec(),
            created_at_ms,
            retired_at_ms,
        }
    }

    #[test]
    fn the_newest_active_key_signs_and_retired_keys_fade_out() {
        let ring = KeyRing::from_stored(vec![
            stored("old", 1, Some(100)),
            stored("current", 50, None),
            stored("twin", 50, None),
            stored("ancient", 0, Some(10)),
        ]);
        assert_eq!(ring.signer().map(SigningKey::kid), Some("twin"));
        let kids = |now| -> Vec<String> {
            ring.published(now, 60)
                .iter()
                .map(|k| k.kid().to_owned())
                .collect()
        };
        assert_eq!(kids(150), ["twin", "current", "old"]);
        assert_eq!(kids(160), ["twin", "current"]);
        assert!(ring.verifier("old", 150, 60).is_some());
        assert!(ring.verifier("ancient", 150, 60).is_none());
    }

    #[test]
    fn a_corrupt_key_is_skipped() {
        let mut bad = stored("bad", 99, None);
        bad.secret.truncate(3);
        let ring = KeyRing::from_stored(vec![bad, stored("good", 1, None)]);
        assert_eq!(ring.signer().map(SigningKey::kid), Some("good"));
        assert_eq!(KeyRing::default().signer().map(SigningKey::kid), None);
    }
}
