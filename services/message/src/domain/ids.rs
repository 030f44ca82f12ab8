//! Identifiers. User and conversation ids come from other services and are opaque here;
//! message ids are made by this service, client message ids by the sender's device. All
//! of them are bounded printable ASCII, so they sort the same in Rust and in the
//! database's binary collation.

use super::ValidationError;
use std::fmt;

/// The longest user or conversation id accepted.
pub const MAX_ID_LEN: usize = 128;
/// The longest message or client message id accepted.
pub const MAX_MESSAGE_ID_LEN: usize = 64;

/// The sender of server-made messages.
pub const SYSTEM_SENDER: &str = "system";

fn is_id(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $error:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                if is_id(text, $max) {
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
    UserId,
    MAX_ID_LEN
);
id_type!(
    /// A direct conversation or a group, as the conversation service names it.
    ConversationId,
    ConversationId,
    MAX_ID_LEN
);
id_type!(
    /// A stored message (uuid v7 text).
    MessageId,
    MessageId,
    MAX_MESSAGE_ID_LEN
);
id_type!(
    /// The sender device's own id for a message, which makes a retried send idempotent.
    ClientMsgId,
    ClientMsgId,
    MAX_MESSAGE_ID_LEN
);

impl MessageId {
    /// A fresh time-ordered id (uuid v7).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

impl UserId {
    /// The sender of server-made messages.
    pub fn system() -> Self {
        Self(SYSTEM_SENDER.to_owned())
    }

    /// A user who acts through the API: any user id but the reserved `system`.
    pub fn parse_person(text: &str) -> Result<Self, ValidationError> {
        if text == SYSTEM_SENDER {
            return Err(ValidationError::ReservedUserId);
        }
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_ascii() {
        assert!(UserId::parse("0190a1b2-user").is_ok());
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        assert!(ClientMsgId::parse(&"c".repeat(64)).is_ok());
        for bad in ["", " ", "a b", "tab\t", "zoë", &"u".repeat(129)] {
            assert_eq!(UserId::parse(bad), Err(ValidationError::UserId), "{bad:?}");
        }
        assert_eq!(
            ClientMsgId::parse(&"c".repeat(65)),
            Err(ValidationError::ClientMsgId)
        );
        assert_eq!(MessageId::parse(""), Err(ValidationError::MessageId));
        assert_eq!(
            UserId::parse_person("system"),
            Err(ValidationError::ReservedUserId)
        );
        assert!(UserId::parse_person("systems").is_ok());
        assert!(MessageId::parse(MessageId::generate().as_str()).is_ok());
    }
}
