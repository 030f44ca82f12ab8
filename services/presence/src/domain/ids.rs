//! Identifiers, all opaque here: users and sessions come from identity, devices from
//! clients, nodes and push addresses from gateway configuration. Each is bounded
//! printable ASCII (no spaces), so it can be part of a storage key.

use super::ValidationError;
use std::fmt;

/// The longest id accepted.
const MAX_ID_LEN: usize = 128;
/// The longest push address accepted.
const MAX_ADDR_LEN: usize = 256;

fn is_printable(text: &str, max: usize) -> bool {
    text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $error:ident, empty = $empty:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                if (!text.is_empty() || $empty) && is_printable(text, $max) {
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
    UserId, UserId, empty = false, max = MAX_ID_LEN
);
id_type!(
    /// A login session, as identity names it: one per login, possibly several sockets.
    SessionId, SessionId, empty = false, max = MAX_ID_LEN
);
id_type!(
    /// The client's name for its device; may be empty (clients need not send one).
    DeviceId, DeviceId, empty = true, max = MAX_ID_LEN
);
id_type!(
    /// A gateway node (its configured `node_id`).
    NodeId, NodeId, empty = false, max = MAX_ID_LEN
);
id_type!(
    /// Where a gateway node's gRPC Push endpoint listens.
    PushAddr, PushAddr, empty = false, max = MAX_ADDR_LEN
);

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
        assert_eq!(SessionId::parse(""), Err(ValidationError::SessionId));
        assert_eq!(NodeId::parse("a b"), Err(ValidationError::NodeId));
        assert!(DeviceId::parse("").is_ok(), "a device id is optional");
        assert_eq!(DeviceId::parse("a b"), Err(ValidationError::DeviceId));
        assert!(PushAddr::parse("http://10.0.0.5:7100").is_ok());
        assert_eq!(PushAddr::parse(""), Err(ValidationError::PushAddr));
    }
}
