//! Test-only entry points (feature `testing`, enabled by this crate's own tests).

use crate::adapters::password::Argon2Hasher;
use im_runtime::{Service, ServiceContext};

/// [`crate::build`] with cheap password hashing, so tests spend their time on behaviour.
pub async fn build(ctx: &ServiceContext) -> anyhow::Result<Service> {
    crate::build_with(ctx, Argon2Hasher::fast().await?).await
}
