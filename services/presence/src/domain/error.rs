//! Malformed input: a 400 at the edge, never a 500.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("a user id is 1 to 128 printable ASCII characters")]
    UserId,
    #[error("a session id is 1 to 128 printable ASCII characters")]
    SessionId,
    #[error("a device id is at most 128 printable ASCII characters")]
    DeviceId,
    #[error("a node id is 1 to 128 printable ASCII characters")]
    NodeId,
    #[error("a push address is 1 to 256 printable ASCII characters")]
    PushAddr,
    #[error("the device is missing")]
    MissingDevice,
    #[error("a heartbeat lists only devices of the node sending it")]
    NodeMismatch,
    #[error("a ttl is at most {max_s} seconds")]
    Ttl { max_s: u32 },
    #[error("at most {max} users may be named at once")]
    TooManyUsers { max: usize },
    #[error("at most {max} devices may be listed in one heartbeat")]
    TooManyDevices { max: usize },
}
