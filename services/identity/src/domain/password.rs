//! Passwords: counted in characters, never printed.

use super::ValidationError;
use std::fmt;

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 128;

/// A password in clear text, as typed. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A new password: 8 to 128 characters (not bytes, so every script counts alike).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let chars = text.chars().count();
        if (MIN_CHARS..=MAX_CHARS).contains(&chars) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Password)
        }
    }

    /// A password offered to be checked against a stored hash. Only the upper bound
    /// applies, so a rule tightened later never locks out an older password; anything
    /// longer than a settable password cannot match and is not worth hashing.
    pub fn candidate(text: &str) -> Option<Self> {
        (text.chars().count() <= MAX_CHARS).then(|| Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        // 8 characters, 24 bytes
        assert!(Password::parse("密码密码密码密码").is_ok());
        assert!(Password::parse("密码密码密码密").is_err());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
        assert!(Password::parse("").is_err());
    }

    #[test]
    fn every_length_around_the_bounds() {
        for n in 0..=200 {
            let ok = (MIN_CHARS..=MAX_CHARS).contains(&n);
            assert_eq!(Password::parse(&"x".repeat(n)).is_ok(), ok, "{n}");
            assert_eq!(
                Password::candidate(&"ü".repeat(n)).is_some(),
                n <= MAX_CHARS
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let password = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
