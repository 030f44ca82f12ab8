//! Identifiers. User ids come from identity and are opaque here; conversation and
//! request ids are made by this service. All of them are bounded printable ASCII, so
//! they sort the same in Rust and in the database's binary collation.

use super::{ValidationError, new_id};
use std::fmt;

/// The longest id accepted anywhere.
pub const MAX_ID_LEN: usize = 128;

fn is_id(text: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                if is_id(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(ValidationError::$error)
                }
            }

            /// An id read back from storage, which only holds parsed or generated ids.
            pub fn from_stored(text: String) -> Self {
                Self(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A user, as identity names it (the gateway passes authenticated ids).
    UserId,
    UserId
);
id_type!(
    /// A direct conversation or a group (uuid v7 text).
    ConversationId,
    ConversationId
);
id_type!(
    /// A friend request or a join request (uuid v7 text).
    RequestId,
    RequestId
);

impl ConversationId {
    pub fn generate() -> Self {
        Self(new_id())
    }
}

impl RequestId {
    pub fn generate() -> Self {
        Self(new_id())
    }
}

/// Two different users in a canonical order, so `(a, b)` and `(b, a)` are one pair: the
/// key of their contact relation, their blocks and their one direct conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPair {
    low: UserId,
    high: UserId,
}

impl UserPair {
    /// `None` when both are the same user.
    pub fn new(a: &UserId, b: &UserId) -> Option<Self> {
        match a.cmp(b) {
            std::cmp::Ordering::Less => Some(Self {
                low: a.clone(),
                high: b.clone(),
            }),
            std::cmp::Ordering::Greater => Some(Self {
                low: b.clone(),
                high: a.clone(),
            }),
            std::cmp::Ordering::Equal => None,
        }
    }

    pub fn low(&self) -> &UserId {
        &self.low
    }

    pub fn high(&self) -> &UserId {
        &self.high
    }

    /// The member of the pair that is not `user`.
    pub fn other(&self, user: &UserId) -> &UserId {
        if *user == self.low {
            &self.high
        } else {
            &self.low
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_ascii() {
        assert!(UserId::parse("0190a1b2-user").is_ok());
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        for bad in ["", " ", "a b", "tab\t", "zoë", &"u".repeat(129)] {
            assert_eq!(UserId::parse(bad), Err(ValidationError::UserId), "{bad:?}");
        }
        assert_eq!(
            ConversationId::parse(""),
            Err(ValidationError::ConversationId)
        );
    }

    #[test]
    fn a_pair_is_unordered_and_needs_two_users() {
        let a = UserId::parse("alice").unwrap();
        let b = UserId::parse("bob").unwrap();
        let ab = UserPair::new(&a, &b).unwrap();
        assert_eq!(ab, UserPair::new(&b, &a).unwrap());
        assert_eq!((ab.low(), ab.high()), (&a, &b));
        assert_eq!(ab.other(&a), &b);
        assert_eq!(ab.other(&b), &a);
        assert!(UserPair::new(&a, &a).is_none());
    }
}
