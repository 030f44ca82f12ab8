//! Users: their names, public profile and the private account behind it.

use super::{ValidationError, has_control, is_opaque_id, new_id};
use std::fmt;

/// A user's id (uuid v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self(new_id())
    }

    /// `None` when `text` cannot be the id of any user.
    pub fn parse(text: &str) -> Option<Self> {
        is_opaque_id(text).then(|| Self(text.to_owned()))
    }

    /// An id read back from storage, which only ever holds ids made by [`UserId::generate`].
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username as typed: 3 to 32 ASCII letters, digits, `_`, `.` or `-`. Usernames are
/// unique regardless of case; [`Username::key`] is the form that uniqueness applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if (3..=Self::MAX_CHARS).contains(&text.len()) && text.bytes().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form: `Alice` and `alice` are the same account.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The name shown to others: 1 to 64 characters once trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let chars = text.chars().count();
        if (1..=64).contains(&chars) && !has_control(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::DisplayName)
        }
    }

    /// Every user has a display name; it starts as the username.
    pub fn from_username(username: &Username) -> Self {
        Self(username.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short text about the user: at most 500 characters; newlines and tabs allowed,
/// other control characters not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
        if text.chars().count() <= 500 && !text.chars().any(bad) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Bio)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of the file service's object used as avatar; empty means no avatar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarFileId(String);

impl AvatarFileId {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
        if text.len() <= 64 && text.bytes().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::AvatarFileId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Role names. Every user implicitly holds [`Role::USER`]; others are stored.
#[derive(Debug)]
pub struct Role;

impl Role {
    pub const USER: &'static str = im_access::IMPLICIT_ROLE;
    pub const ADMIN: &'static str = "admin";

    /// The roles a user holds: `user` first, then the stored ones, sorted, once each.
    pub fn effective(stored: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut extra: Vec<String> = stored.into_iter().filter(|r| r != Self::USER).collect();
        extra.sort();
        extra.dedup();
        let mut roles = vec![Self::USER.to_owned()];
        roles.extend(extra);
        roles
    }
}

/// A user's public profile and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub avatar_file_id: String,
    pub bio: String,
    pub created_at_ms: i64,
    /// Effective roles (see [`Role::effective`]).
    pub roles: Vec<String>,
}

/// A user with what only identity may see.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    /// The argon2 PHC string; empty once the account is deleted.
    pub password_hash: String,
    pub deleted_at_ms: Option<i64>,
}

impl Account {
    /// What a deleted account is called wherever it still appears (old messages…).
    pub const DELETED_DISPLAY_NAME: &'static str = "Deleted user";

    pub fn is_deleted(&self) -> bool {
        self.deleted_at_ms.is_some()
    }
}

/// A user about to be stored.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub password_hash: String,
    pub created_at_ms: i64,
}

/// The profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<DisplayName>,
    pub avatar_file_id: Option<AvatarFileId>,
    pub bio: Option<Bio>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &str = "abcxyzABCXYZ0189_.-";

    #[test]
    fn usernames_accept_exactly_the_allowed_alphabet_and_lengths() {
        for n in 0..=40 {
            let name: String = ALLOWED.chars().cycle().take(n).collect();
            assert_eq!(
                Username::parse(&name).is_ok(),
                (3..=32).contains(&n),
                "{name}"
            );
        }
        for bad in [
            "ab",
            "bob smith",
            "bob@home",
            "名字名字",
            "Zoë_",
            "bob\n",
            "bob\0x",
            "%_%",
            "a'--",
            "ａｂｃ",
            "bob/..",
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(ValidationError::Username),
                "{bad:?}"
            );
        }
        for good in ["bob", "Alice.Smith", "x_y-z", "123", "..."] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn every_single_byte_is_judged_by_the_alphabet() {
        for byte in 0_u8..=127 {
            let c = char::from(byte);
            let name = format!("ab{c}");
            let allowed = c.is_ascii_alphanumeric() || "_.-".contains(c);
            assert_eq!(Username::parse(&name).is_ok(), allowed, "{name:?}");
        }
    }

    #[test]
    fn usernames_are_unique_without_regard_to_case() {
        let a = Username::parse("Alice").unwrap();
        let b = Username::parse("aLICE").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "Alice", "kept as typed");
    }

    #[test]
    fn display_names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(DisplayName::parse("  Bob  ").unwrap().as_str(), "Bob");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse(&"名".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"名".repeat(65)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(DisplayName::parse("two\nlines").is_err());
        assert!(DisplayName::parse("Zoë 🚀 O'Brien").is_ok());
    }

    #[test]
    fn bios_allow_newlines_but_not_other_controls() {
        assert!(Bio::parse("").is_ok());
        assert!(Bio::parse("line one\nline two\tend").is_ok());
        assert!(Bio::parse("bell\u{7}").is_err());
        assert!(Bio::parse(&"é".repeat(500)).is_ok());
        assert!(Bio::parse(&"é".repeat(501)).is_err());
    }

    #[test]
    fn avatar_ids_are_short_and_plain() {
        assert_eq!(AvatarFileId::parse("").unwrap().as_str(), "");
        assert!(AvatarFileId::parse("0193a-b_C").is_ok());
        assert!(AvatarFileId::parse(&"a".repeat(64)).is_ok());
        assert!(AvatarFileId::parse(&"a".repeat(65)).is_err());
        for bad in ["../etc/passwd", "a b", "x'; DROP TABLE users;--", "é"] {
            assert!(AvatarFileId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_opaque_but_bounded() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(id.as_str()), Some(id));
        assert!(UserId::parse("").is_none());
        assert!(UserId::parse(&"a".repeat(65)).is_none());
        assert!(UserId::parse("1 OR 1=1").is_none());
    }

    #[test]
    fn everyone_is_a_user_and_roles_are_listed_once() {
        assert_eq!(Role::effective(Vec::new()), ["user"]);
        let stored = ["admin", "user", "admin", "auditor"].map(String::from);
        assert_eq!(Role::effective(stored), ["user", "admin", "auditor"]);
    }
}
