//! Logging in, renewing tokens, logging out and managing one's sessions (devices).

use super::{App, AppError, AppResult};
use crate::domain::{
    Account, ClientIp, DeviceId, Password, RefreshTokenRecord, Session, SessionId, User, UserAgent,
    UserId, ValidationError,
};
use crate::ports::{
    FailureCounter, PasswordHasher, Ports, Rotation, SessionRepository, UserRepository,
};
use im_token::secret::{constant_time_eq, random_token, token_hash};

/// Longest username accepted at login before it is refused as input: generous, since
/// a name that cannot exist is simply a failed login, but bounded.
const MAX_LOGIN_NAME_CHARS: usize = 128;
/// Our refresh tokens are 43 characters; anything much longer is not one.
const MAX_REFRESH_TOKEN_CHARS: usize = 128;

/// A login attempt as received.
#[derive(Debug, Clone, Copy)]
pub struct LoginCommand<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub device_id: &'a str,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

/// A refresh-token exchange as received.
#[derive(Debug, Clone, Copy)]
pub struct RefreshCommand<'a> {
    pub refresh_token: &'a str,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

/// What a login or refresh hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in_s: u32,
    pub refresh_token: String,
    pub refresh_expires_in_s: u32,
    pub user: User,
    pub session_id: SessionId,
}

/// The failure counters one login attempt is judged by, with their limits.
struct LoginThrottle {
    counters: Vec<(String, u32)>,
    /// The tight per-account-and-address counter, cleared by a success.
    account_and_ip: String,
}

impl LoginThrottle {
    fn new(username: &str, ip: Option<ClientIp>, limits: &im_runtime::config::LoginLimits) -> Self {
        let account = username.trim().to_lowercase();
        let address = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        let account_and_ip = format!("identity:login-failures:account-ip:{account}|{address}");
        let mut counters = vec![
            (account_and_ip.clone(), limits.per_account_and_ip),
            (
                format!("identity:login-failures:account:{account}"),
                limits.per_account,
            ),
        ];
        // Callers that pass no address do not share one address-wide bucket.
        if ip.is_some() {
            counters.push((
                format!("identity:login-failures:ip:{address}"),
                limits.per_ip,
            ));
        }
        Self {
            counters,
            account_and_ip,
        }
    }
}

fn seconds(ms: i64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

impl<P: Ports> App<P> {
    /// Checks credentials and opens a session. Refused before any password check when
    /// too many recent failures name the account or the address (a limit of 0 is off);
    /// a ban is revealed only to someone who knows the password.
    pub async fn login(&self, command: LoginCommand<'_>) -> AppResult<TokenPair> {
        let client_ip = ClientIp::parse(command.client_ip)?;
        let device_id = DeviceId::parse(command.device_id)?.unwrap_or_else(DeviceId::generate);
        let user_agent = UserAgent::new(command.user_agent);
        if command.username.chars().count() > MAX_LOGIN_NAME_CHARS {
            return Err(ValidationError::Username.into());
        }
        let password = Password::candidate(command.password).ok_or(ValidationError::Password)?;

        let throttle = LoginThrottle::new(command.username, client_ip, &self.settings.login_limits);
        self.check_throttle(&throttle).await?;

        let account = match crate::domain::Username::parse(command.username) {
            Ok(username) => self.store.account_by_username(&username.key()).await?,
            Err(_) => None,
        }
        .filter(|account| !account.is_deleted());
        let hash = account
            .as_ref()
            .map(|account| account.password_hash.as_str())
            .filter(|hash| !hash.is_empty());
        let matches = self.hasher.verify(&password, hash).await?;
        let Some(account) = account.filter(|_| matches) else {
            self.record_failure(&throttle).await;
            return Err(AppError::InvalidCredentials);
        };
        if let Err(error) = self.counter.reset(&throttle.account_and_ip).await {
            tracing::warn!(%error, "cannot clear login failures");
        }
        if self.active_ban(&account.user.id).await?.is_some() {
            return Err(AppError::UserBanned);
        }
        self.open_session(account, device_id, user_agent, client_ip)
            .await
    }

    async fn check_throttle(&self, throttle: &LoginThrottle) -> AppResult<()> {
        for (key, limit) in &throttle.counters {
            if *limit == 0 {
                continue;
            }
            match self.counter.failures(key).await {
                Ok(failures) if failures >= u64::from(*limit) => {
                    let retry_after_s = self.settings.login_limits.window.as_secs().max(1);
                    return Err(AppError::TooManyAttempts { retry_after_s });
                }
                Ok(_) => {}
                // The kv store being down must not stop logins (DESIGN.md section 6):
                // throttling is a defence in depth behind the edge's rate limits.
                Err(error) => tracing::warn!(%error, "login throttle unavailable"),
            }
        }
        Ok(())
    }

    async fn record_failure(&self, throttle: &LoginThrottle) {
        let window = self.settings.login_limits.window;
        for (key, _) in &throttle.counters {
            if let Err(error) = self.counter.record_failure(key, window).await {
                tracing::warn!(%error, "cannot count a login failure");
            }
        }
    }

    async fn open_session(
        &self,
        account: Account,
        device_id: DeviceId,
        user_agent: UserAgent,
        client_ip: Option<ClientIp>,
    ) -> AppResult<TokenPair> {
        let now = self.now_ms();
        let expires_at_ms = now.saturating_add(self.settings.refresh_ttl_ms());
        let session = Session {
            id: SessionId::generate(),
            user_id: account.user.id.clone(),
            device_id: device_id.as_str().to_owned(),
            user_agent: user_agent.as_str().to_owned(),
            client_ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            created_at_ms: now,
            last_used_at_ms: now,
            expires_at_ms,
            revoked_at_ms: None,
        };
        let refresh_token = random_token();
        let record = RefreshTokenRecord {
            token_hash: token_hash(&refresh_token),
            session_id: session.id.clone(),
            created_at_ms: now,
            expires_at_ms,
            used_at_ms: None,
        };
        self.store.create_session(&session, &record).await?;
        self.token_pair(account.user, session.id, refresh_token)
    }

    fn token_pair(
        &self,
        user: User,
        session_id: SessionId,
        refresh_token: String,
    ) -> AppResult<TokenPair> {
        let access_token = self.sign_access_token(&user, &session_id)?;
        Ok(TokenPair {
            access_token,
            expires_in_s: seconds(self.settings.access_ttl_ms()),
            refresh_token,
            refresh_expires_in_s: seconds(self.settings.refresh_ttl_ms()),
            user,
            session_id,
        })
    }

    /// Exchanges a refresh token for a new pair in the same session. A token is good
    /// once: presenting it again means it was stolen (or raced), so the whole session
    /// is revoked (OAuth 2.0 Security BCP, refresh token rotation).
    pub async fn refresh(&self, command: RefreshCommand<'_>) -> AppResult<TokenPair> {
        let client_ip = ClientIp::parse(command.client_ip)?;
        let user_agent = UserAgent::new(command.user_agent);
        if command.refresh_token.is_empty() || command.refresh_token.len() > MAX_REFRESH_TOKEN_CHARS
        {
            return Err(AppError::InvalidRefreshToken);
        }
        let hash = token_hash(command.refresh_token);
        let now = self.now_ms();
        let record = self
            .store
            .refresh_token(&hash)
            .await?
            .filter(|record| constant_time_eq(record.token_hash.as_bytes(), hash.as_bytes()))
            .filter(|record| record.expires_at_ms > now)
            .ok_or(AppError::InvalidRefreshToken)?;
        if record.used_at_ms.is_some() {
            return Err(self.refresh_token_reused(&record.session_id).await);
        }
        let session = self
            .store
            .session(&record.session_id)
            .await?
            .filter(|session| session.is_live(now))
            .ok_or(AppError::InvalidRefreshToken)?;
        let account = self
            .store
            .account_by_id(&session.user_id)
            .await?
            .filter(|account| !account.is_deleted())
            .ok_or(AppError::InvalidRefreshToken)?;
        if self.active_ban(&session.user_id).await?.is_some() {
            return Err(AppError::InvalidRefreshToken);
        }

        let refresh_token = random_token();
        let next = RefreshTokenRecord {
            token_hash: token_hash(&refresh_token),
            session_id: session.id.clone(),
            created_at_ms: now,
            expires_at_ms: now.saturating_add(self.settings.refresh_ttl_ms()),
            used_at_ms: None,
        };
        let client_ip = client_ip.map(|ip| ip.to_string());
        let user_agent = Some(user_agent.as_str()).filter(|agent| !agent.is_empty());
        match self
            .store
            .rotate_refresh_token(&hash, &next, client_ip.as_deref(), user_agent)
            .await?
        {
            Rotation::Rotated => self.token_pair(account.user, session.id, refresh_token),
            Rotation::AlreadyUsed => Err(self.refresh_token_reused(&session.id).await),
        }
    }

    async fn refresh_token_reused(&self, session_id: &SessionId) -> AppError {
        let now = self.now_ms();
        let outcome = async {
            let Some(session) = self.store.session(session_id).await? else {
                return Ok(());
            };
            tracing::warn!(session_id = %session_id, user_id = %session.user_id, "refresh token reused; revoking the session");
            if self
                .store
                .revoke_session(session_id, "refresh_token_reused", now)
                .await?
            {
                self.announce_revoked(&session.user_id, vec![session_id.clone()], now)
                    .await;
            }
            anyhow::Ok(())
        }
        .await;
        match outcome {
            Ok(()) => AppError::RefreshTokenReused,
            Err(error) => AppError::Unexpected(error),
        }
    }

    /// Ends the caller's session: its access and refresh tokens stop working.
    pub async fn logout(&self, user_id: &str, session_id: &str) -> AppResult<()> {
        self.revoke_own_session(user_id, session_id, "logout").await
    }

    /// Ends one of the caller's sessions (a device). Someone else's session is
    /// answered as not found, so session ids cannot be probed.
    pub async fn revoke_session(&self, user_id: &str, session_id: &str) -> AppResult<()> {
        self.revoke_own_session(user_id, session_id, "revoked")
            .await
    }

    async fn revoke_own_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: &str,
    ) -> AppResult<()> {
        let user_id = UserId::parse(user_id).ok_or(AppError::SessionNotFound)?;
        let session_id = SessionId::parse(session_id).ok_or(AppError::SessionNotFound)?;
        self.store
            .session(&session_id)
            .await?
            .filter(|session| session.user_id == user_id)
            .ok_or(AppError::SessionNotFound)?;
        let now = self.now_ms();
        // Revoking twice is harmless and announced once.
        if self.store.revoke_session(&session_id, reason, now).await? {
            self.announce_revoked(&user_id, vec![session_id], now).await;
        }
        Ok(())
    }

    /// The user's live sessions, most recently used first, each with whether it is
    /// `current_session_id`.
    pub async fn list_sessions(
        &self,
        user_id: &str,
        current_session_id: &str,
    ) -> AppResult<Vec<(Session, bool)>> {
        let Some(user_id) = UserId::parse(user_id) else {
            return Ok(Vec::new());
        };
        let sessions = self.store.live_sessions(&user_id, self.now_ms()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| {
                let current = session.id.as_str() == current_session_id;
                (session, current)
            })
            .collect())
    }
}
