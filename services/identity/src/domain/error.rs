//! Why an input was refused. Each variant is a 400 at the edge, never a 500.

/// An input that breaks a rule of the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("a username is 3 to 32 characters of ASCII letters, digits, '_', '.' or '-'")]
    Username,
    #[error("a password is 8 to 128 characters")]
    Password,
    #[error("a display name is 1 to 64 characters without control characters")]
    DisplayName,
    #[error("a bio is at most 500 characters without control characters other than newlines")]
    Bio,
    #[error("an avatar file id is at most 64 characters of ASCII letters, digits, '_' or '-'")]
    AvatarFileId,
    #[error("a device id is at most 128 characters without control characters")]
    DeviceId,
    #[error("the client address is not an IP address")]
    ClientIp,
    #[error("a reason is at most 200 characters without control characters")]
    Reason,
    #[error("not an IP address or CIDR range")]
    Cidr,
    #[error("'until' must be 0 (forever) or a time in the future")]
    Until,
    #[error("an actor id is at most 128 characters without control characters")]
    ActorId,
    /// The rule's own explanation: which part is wrong and why.
    #[error(transparent)]
    Policy(im_access::RuleError),
    #[error("a role is 1 to 32 characters of lowercase letters, digits, '_' or '-'")]
    Role,
    #[error("every user holds the role 'user' implicitly; it cannot be assigned or removed")]
    ImplicitRole,
}
