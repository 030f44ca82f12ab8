//! Accounts: registration, profiles, search, password changes and deletion.

use super::{App, AppError, AppResult, PageRequest, Paged};
use crate::domain::{
    AvatarFileId, Bio, DisplayName, NewUser, Password, ProfileUpdate, Role, SessionId, User,
    UserId, Username,
};
use crate::ports::{PasswordHasher, Ports, SessionRepository, StoreError, UserRepository};

/// Most users one `GetUsers` may ask for.
const MAX_IDS: usize = 100;

impl<P: Ports> App<P> {
    /// Creates a user. `display_name` empty means the username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: &str,
    ) -> AppResult<User> {
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        let display_name = if display_name.trim().is_empty() {
            DisplayName::from_username(&username)
        } else {
            DisplayName::parse(display_name)?
        };
        // Cheap early answer for the common case; the unique key settles races.
        if self
            .store
            .account_by_username(&username.key())
            .await?
            .is_some()
        {
            return Err(AppError::UsernameTaken);
        }
        let user = NewUser {
            id: UserId::generate(),
            username,
            display_name,
            password_hash: self.hasher.hash(&password).await?,
            created_at_ms: self.now_ms(),
        };
        match self.store.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => return Err(AppError::UsernameTaken),
            Err(StoreError::Other(error)) => return Err(error.into()),
        }
        Ok(User {
            id: user.id,
            username: user.username.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            avatar_file_id: String::new(),
            bio: String::new(),
            created_at_ms: user.created_at_ms,
            roles: Role::effective(Vec::new()),
        })
    }

    /// Registers a user, optionally as an administrator (the `im admin` bootstrap).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        admin: bool,
    ) -> AppResult<User> {
        let mut user = self.register(username, password, "").await?;
        if admin {
            self.store.add_role(&user.id, Role::ADMIN).await?;
            user.roles = Role::effective([Role::ADMIN.to_owned()]);
        }
        Ok(user)
    }

    /// A live user's public profile.
    pub async fn get_user(&self, user_id: &str) -> AppResult<User> {
        Ok(self.live_account(user_id).await?.user)
    }

    /// The live users among `user_ids`, in the order asked; unknown ids are left out.
    pub async fn get_users(&self, user_ids: &[String]) -> AppResult<Vec<User>> {
        if user_ids.len() > MAX_IDS {
            return Err(AppError::TooManyIds { max: MAX_IDS });
        }
        let mut ids: Vec<UserId> = user_ids.iter().filter_map(|id| UserId::parse(id)).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut users = self.store.users_by_ids(&ids).await?;
        users.sort_by_key(|user| user_ids.iter().position(|id| id == user.id.as_str()));
        Ok(users)
    }

    /// Live users whose username starts with `prefix`, ignoring case, in username order.
    /// An empty prefix lists everyone.
    pub async fn search_users(&self, prefix: &str, page: &PageRequest) -> AppResult<Paged<User>> {
        let keyset = page.keyset()?;
        let prefix = prefix.trim().to_lowercase();
        if prefix.chars().count() > Username::MAX_CHARS {
            // Longer than any username: nothing can match.
            return Ok(Paged {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let rows = self
            .store
            .search_users(&prefix, keyset.after.as_deref(), keyset.limit + 1)
            .await?;
        Ok(Paged::from_rows(rows, &keyset, |user| {
            user.username.to_ascii_lowercase()
        }))
    }

    /// Changes the fields that are given; an empty avatar id removes the avatar.
    pub async fn update_profile(
        &self,
        user_id: &str,
        display_name: Option<&str>,
        avatar_file_id: Option<&str>,
        bio: Option<&str>,
    ) -> AppResult<User> {
        let update = ProfileUpdate {
            display_name: display_name.map(DisplayName::parse).transpose()?,
            avatar_file_id: avatar_file_id.map(AvatarFileId::parse).transpose()?,
            bio: bio.map(Bio::parse).transpose()?,
        };
        let account = self.live_account(user_id).await?;
        if !self
            .store
            .update_profile(&account.user.id, &update, self.now_ms())
            .await?
        {
            return Err(AppError::UserNotFound);
        }
        self.get_user(user_id).await
    }

    /// Replaces the password after checking the old one, then revokes every other
    /// session of the user. Returns how many were revoked.
    pub async fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
        current_session_id: &str,
    ) -> AppResult<u32> {
        let account = self.live_account(user_id).await?;
        let old = Password::candidate(old_password).ok_or(AppError::WrongPassword)?;
        if !self
            .hasher
            .verify(&old, Some(&account.password_hash))
            .await?
        {
            return Err(AppError::WrongPassword);
        }
        let new = Password::parse(new_password)?;
        let hash = self.hasher.hash(&new).await?;
        let now = self.now_ms();
        let user_id = account.user.id;
        self.store.set_password_hash(&user_id, &hash, now).await?;
        let keep = SessionId::parse(current_session_id);
        let revoked = self
            .store
            .revoke_user_sessions(&user_id, keep.as_ref(), "password_changed", now)
            .await?;
        let count = u32::try_from(revoked.len()).unwrap_or(u32::MAX);
        self.announce_revoked(&user_id, revoked, now).await;
        Ok(count)
    }

    /// Deletes an account after checking its password.
    ///
    /// The deletion is soft: the row stays with its password hash wiped, its profile
    /// blanked ("Deleted user"), its roles removed and every session revoked. The
    /// username stays **reserved** (its case-folded unique key is kept), so nobody can
    /// register the same name later and pass for the old account in conversations,
    /// contact lists or history that still show it.
    pub async fn delete_user(&self, user_id: &str, password: &str) -> AppResult<()> {
        let account = self.live_account(user_id).await?;
        let password = Password::candidate(password).ok_or(AppError::WrongPassword)?;
        if !self
            .hasher
            .verify(&password, Some(&account.password_hash))
            .await?
        {
            return Err(AppError::WrongPassword);
        }
        let now = self.now_ms();
        let user_id = account.user.id;
        let revoked = self.store.delete_user(&user_id, now).await?;
        tracing::info!(user_id = %user_id, "account deleted");
        self.announce_revoked(&user_id, revoked, now).await;
        Ok(())
    }
}
