//! Identifiers, all opaque here: users and sessions come from identity, conversations from
//! the conversation service, nodes from gateway configuration. Each is 1 to 128
//! printable ASCII characters (no spaces), as the services that make them promise.

use super::ValidationError;
use std::fmt;

/// The longest id accepted.
const MAX_ID_LEN: usize = 128;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                if !text.is_empty()
                    && text.len() <= MAX_ID_LEN
                    && text.bytes().all(|b| b.is_ascii_graphic())
                {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(ValidationError::$error)
                }
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
    /// A user, as identity names it.
    UserId, UserId
);
id_type!(
    /// A login session, as identity names it; one per login, possibly several sockets.
    SessionId, SessionId
);
id_type!(
    /// A direct conversation or a group.
    ConversationId, ConversationId
);
id_type!(
    /// A gateway node (its configured `node_id`).
    NodeId, NodeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_ascii() {
        assert!(UserId::parse("0190a1b2-user").is_ok());
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        for bad in ["", " ", "a b", "zoë", &"u".repeat(129)] {
            assert_eq!(UserId::parse(bad), Err(ValidationError::UserId), "{bad:?}");
        }
        assert_eq!(
            ConversationId::parse("c 1"),
            Err(ValidationError::ConversationId)
        );
        assert_eq!(SessionId::parse(""), Err(ValidationError::SessionId));
        assert_eq!(NodeId::parse("n\t"), Err(ValidationError::NodeId));
    }
}
