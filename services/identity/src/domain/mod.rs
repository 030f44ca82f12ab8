//! The identity domain: value objects that only ever hold valid values ("parse, don't
//! validate"), the records the service keeps about users, sessions, keys, moderation and
//! access control, and the events it announces. Pure: no I/O, no async, no storage or
//! wire types.

mod access;
mod error;
mod event;
mod moderation;
mod password;
mod session;
mod user;

pub use access::{AssignableRole, Policy, RoleAssignment, RoleLink};
pub use error::ValidationError;
pub use event::IdentityEvent;
pub use moderation::{ActorId, Ban, Cidr, IpBlock, Reason, Until};
pub use password::Password;
pub use session::{
    ClientIp, DeviceId, RefreshTokenRecord, RevokedSession, Session, SessionId, UserAgent,
};
pub use user::{
    Account, AvatarFileId, Bio, DisplayName, NewUser, ProfileUpdate, Role, User, UserId, Username,
};

/// Characters that never belong in a single-line human text (names, reasons, devices).
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// `text` cut to at most `max` characters, on a character boundary.
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// An opaque id: 1..=64 ASCII letters, digits, `-` or `_`. Ids come from us (uuid v7),
/// so anything else cannot name a stored record.
fn is_opaque_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh time-ordered id (uuid v7), so rows inserted together stay near each other.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
