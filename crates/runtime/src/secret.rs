//! Values that must never be printed: in logs, `Debug` output or `im config print`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

const REDACTED: &str = "[redacted]";

/// A secret value. `Debug` and `Serialize` print `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

/// A connection URL that may carry credentials (`mysql://user:pass@host/db`).
/// Printing it shows everything but the password, which is what an operator needs to
/// debug a misconfiguration without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `[redacted]`. Done on the text, not by a
    /// URL parser, so templates such as `im_{service}` print exactly as written.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        // Userinfo ends at the last '@' before the query: passwords may hold unescaped
        // '@', ':' or '/', and connection URLs do not put '@' in their paths.
        let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
        let Some(at) = rest[..query_start].rfind('@') else {
            return self.0.clone();
        };
        let (userinfo, host_and_tail) = (&rest[..at], &rest[at + 1..]);
        match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:{REDACTED}@{host_and_tail}"),
            None => self.0.clone(),
        }
    }

    /// The scheme, e.g. `sqlite`, `mysql`, `redis`, `memory`.
    pub fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(scheme, _)| scheme)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_redacted_everywhere() {
        let url = SecretUrl::new("mysql://im:hunter2@db.internal:3306/im_identity");
        for shown in [
            format!("{url}"),
            format!("{url:?}"),
            serde_json::to_string(&url).unwrap(),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("db.internal"), "{shown}");
        }
        assert_eq!(
            url.expose(),
            "mysql://im:hunter2@db.internal:3306/im_identity"
        );
    }

    #[test]
    fn redaction_keeps_templates_and_odd_passwords_hidden() {
        let url = SecretUrl::new("mysql://root:p@ss:w/rd@127.0.0.1:3306/im_{service}");
        assert_eq!(
            url.redacted(),
            "mysql://root:[redacted]@127.0.0.1:3306/im_{service}"
        );
        assert_eq!(
            SecretUrl::new("redis://:only-pass@cache").redacted(),
            "redis://:[redacted]@cache"
        );
    }

    #[test]
    fn urls_without_password_print_as_is() {
        assert_eq!(
            SecretUrl::new("redis://127.0.0.1:6379").redacted(),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(SecretUrl::new("memory://").scheme(), "memory");
    }

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("turn-shared-secret".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
        assert_eq!(secret.expose(), "turn-shared-secret");
    }
}
