//! Operator commands run by `im admin …` against the identity database, outside any
//! running server.

use crate::adapters::password::Argon2Hasher;
use crate::adapters::sql::Migrator;
use crate::app::AppError;
use crate::{NAME, new_app};
use im_runtime::ServiceContext;

/// Creates a user (an administrator with `admin`), migrating the database first.
/// Returns the new user's id and username.
pub async fn create_user(
    ctx: &ServiceContext,
    username: &str,
    password: &str,
    admin: bool,
) -> anyhow::Result<(String, String)> {
    let db = ctx.database::<Migrator>(NAME).await?;
    let app = new_app(ctx, db.clone(), Argon2Hasher::production().await?);
    let created = app.create_user(username, password, admin).await;
    db.close().await?;
    match created {
        Ok(user) => Ok((user.id.as_str().to_owned(), user.username)),
        Err(AppError::UsernameTaken) => {
            anyhow::bail!("the username {username:?} is already taken")
        }
        Err(error) => Err(anyhow::Error::from(error).context("create the user")),
    }
}

/// Adds a new signing key and retires the current ones (they keep verifying until the
/// tokens they signed expire). Running servers sign with the new key within 30 s.
/// Returns the new key id.
pub async fn rotate_keys(ctx: &ServiceContext) -> anyhow::Result<String> {
    let db = ctx.database::<Migrator>(NAME).await?;
    let app = new_app(ctx, db.clone(), Argon2Hasher::production().await?);
    let kid = app.rotate_keys().await;
    db.close().await?;
    kid
}
