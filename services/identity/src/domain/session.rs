//! Sessions: one per logged-in device, each with a chain of single-use refresh tokens.

use super::{UserId, ValidationError, has_control, is_opaque_id, new_id, truncate_chars};
use std::fmt;
use std::net::IpAddr;

/// A session's id (uuid v7 text); it is the `sid` claim of its access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(new_id())
    }

    /// `None` when `text` cannot be the id of any session.
    pub fn parse(text: &str) -> Option<Self> {
        is_opaque_id(text).then(|| Self(text.to_owned()))
    }

    /// An id read back from storage, which only ever holds ids made by [`SessionId::generate`].
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's name for its device: at most 128 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    pub const MAX_CHARS: usize = 128;

    /// `Ok(None)` for an empty id: the server then picks one.
    pub fn parse(text: &str) -> Result<Option<Self>, ValidationError> {
        let text = text.trim();
        if text.chars().count() > Self::MAX_CHARS || has_control(text) {
            return Err(ValidationError::DeviceId);
        }
        Ok((!text.is_empty()).then(|| Self(text.to_owned())))
    }

    /// A random device id for clients that do not name their devices.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `User-Agent` a session was opened with: informative only, so it is cleaned and
/// cut to 256 characters instead of being refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent(String);

impl UserAgent {
    pub const MAX_CHARS: usize = 256;

    pub fn new(text: &str) -> Self {
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        Self(truncate_chars(clean.trim(), Self::MAX_CHARS).to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client's address as the gateway saw it, in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// `Ok(None)` when no address was given (an internal caller).
    pub fn parse(text: &str) -> Result<Option<Self>, ValidationError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() > 64 {
            return Err(ValidationError::ClientIp);
        }
        let ip: IpAddr = text.parse().map_err(|_| ValidationError::ClientIp)?;
        // An IPv4 client seen through an IPv6 socket is the same client.
        Ok(Some(Self(ip.to_canonical())))
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One logged-in device of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: String,
    pub user_agent: String,
    pub client_ip: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl Session {
    /// Neither revoked nor expired.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms > now_ms
    }
}

/// A refresh token as stored: only its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub session_id: SessionId,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set when the token was exchanged; a second use is a theft signal.
    pub used_at_ms: Option<i64>,
}

/// A session revoked before its access tokens run out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSession {
    pub session_id: SessionId,
    pub user_id: UserId,
    /// After this time no access token of the session can still be valid.
    pub forget_after_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_optional_and_bounded() {
        assert_eq!(DeviceId::parse("").unwrap(), None);
        assert_eq!(DeviceId::parse("  ").unwrap(), None);
        assert_eq!(
            DeviceId::parse(" phone ").unwrap().unwrap().as_str(),
            "phone"
        );
        assert!(DeviceId::parse(&"d".repeat(128)).unwrap().is_some());
        assert_eq!(
            DeviceId::parse(&"d".repeat(129)),
            Err(ValidationError::DeviceId)
        );
        assert!(DeviceId::parse("a\u{0}b").is_err());
        assert_ne!(DeviceId::generate(), DeviceId::generate());
    }

    #[test]
    fn user_agents_are_cleaned_and_cut_on_character_boundaries() {
        for n in [0, 1, 255, 256, 257, 5000] {
            let agent = UserAgent::new(&"é".repeat(n));
            assert_eq!(agent.as_str().chars().count(), n.min(256));
        }
        assert_eq!(
            UserAgent::new("Mozilla\r\n/5.0\u{0}").as_str(),
            "Mozilla/5.0"
        );
    }

    #[test]
    fn client_addresses_are_canonical() {
        assert_eq!(ClientIp::parse("").unwrap(), None);
        assert_eq!(
            ClientIp::parse("::ffff:10.0.0.1")
                .unwrap()
                .unwrap()
                .to_string(),
            "10.0.0.1"
        );
        assert_eq!(
            ClientIp::parse("2001:DB8::1").unwrap().unwrap().to_string(),
            "2001:db8::1"
        );
        for bad in ["localhost", "10.0.0.1/8", "1.2.3.4; DROP", "300.1.1.1"] {
            assert_eq!(
                ClientIp::parse(bad),
                Err(ValidationError::ClientIp),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_session_is_live_until_revoked_or_expired() {
        let mut session = Session {
            id: SessionId::generate(),
            user_id: UserId::generate(),
            device_id: "d".into(),
            user_agent: String::new(),
            client_ip: String::new(),
            created_at_ms: 0,
            last_used_at_ms: 0,
            expires_at_ms: 100,
            revoked_at_ms: None,
        };
        assert!(session.is_live(99));
        assert!(!session.is_live(100));
        session.revoked_at_ms = Some(50);
        assert!(!session.is_live(60));
    }
}
