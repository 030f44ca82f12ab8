//! Password hashing with argon2id, on the blocking thread pool (each hash takes tens of
//! milliseconds of CPU and, in production, 19 MiB of memory by design). At most one hash
//! per core runs at a time: a login storm queues instead of holding one of those buffers
//! per login in flight, for no extra throughput.

use crate::domain::Password;
use crate::ports::PasswordHasher;
use anyhow::{Context as _, anyhow};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// A hash of a random password, checked when there is no user so that an unknown
    /// username costs the same time as a wrong password.
    dummy_hash: String,
    /// One per hash that may run at once.
    permits: Arc<Semaphore>,
}

impl Argon2Hasher {
    /// The argon2 crate's defaults (m = 19456 KiB, t = 2, p = 1), OWASP's recommendation.
    pub async fn production() -> anyhow::Result<Self> {
        Self::with_params(Params::default()).await
    }

    /// Cheap parameters so tests do not spend seconds hashing. Never for production.
    #[cfg(feature = "testing")]
    pub async fn fast() -> anyhow::Result<Self> {
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).map_err(|e| anyhow!("{e}"))?;
        Self::with_params(params).await
    }

    async fn with_params(params: Params) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_limit(params, cores).await
    }

    async fn with_limit(params: Params, at_once: usize) -> anyhow::Result<Self> {
        let random = Password::candidate(&im_token::secret::random_token())
            .context("a random token is a valid password")?;
        let for_dummy = params.clone();
        let dummy_hash =
            tokio::task::spawn_blocking(move || hash_with(&for_dummy, &random)).await??;
        Ok(Self {
            params,
            dummy_hash,
            permits: Arc::new(Semaphore::new(at_once)),
        })
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit goes with the
    /// work, so a caller that gives up does not free it while the hash still runs.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self.permits.clone().acquire_owned().await?;
        let done = tokio::task::spawn_blocking(move || {
            let done = work();
            drop(permit);
            done
        });
        Ok(done.await?)
    }
}

fn hash_with(params: &Params, password: &Password) -> anyhow::Result<String> {
    let salt_bytes = im_token::secret::random_bytes();
    let salt = SaltString::encode_b64(&salt_bytes[..16]).map_err(|e| anyhow!("salt: {e}"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow!("hash a password: {e}"))
}

/// Checks `password` against a PHC string; the parameters come from the string, so
/// hashes made with older parameters keep working.
fn verify_with(password: &Password, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "a stored password hash is unreadable");
            false
        }
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || hash_with(&params, &password)).await?
    }

    async fn verify(&self, password: &Password, hash: Option<&str>) -> anyhow::Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.clone();
        let matches = self.run(move || verify_with(&password, &hash)).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).unwrap();
        let hasher = Argon2Hasher::with_params(params).await.unwrap();
        let password = Password::parse("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hasher.verify(&password, Some(&hash)).await.unwrap());
        let wrong = Password::parse("correct horsf").unwrap();
        assert!(!hasher.verify(&wrong, Some(&hash)).await.unwrap());
        assert!(!hasher.verify(&password, None).await.unwrap());
        assert!(!hasher.verify(&password, Some("garbage")).await.unwrap());
        assert_ne!(hash, hasher.hash(&password).await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn hashes_wait_for_a_free_permit() {
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).unwrap();
        let hasher = Argon2Hasher::with_limit(params, 1).await.unwrap();
        let password = Password::parse("correct horse").unwrap();
        let busy = hasher.permits.clone().acquire_owned().await.unwrap();
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            hasher.hash(&password),
        );
        assert!(waiting.await.is_err(), "hashed while no permit was free");

        drop(busy);
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, Some(&hash)).await.unwrap());
        assert_eq!(hasher.permits.available_permits(), 1, "permits come back");
    }

    #[test]
    fn production_parameters_are_the_recommended_ones() {
        let params = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }
}
