//! Errors across service boundaries. A gRPC status carries, besides its code, a stable
//! snake_case error code and an optional retry hint in metadata, so the edge can answer
//! API.md's `{"error":{"code","message"}}` (and `Retry-After`) without guessing.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// Metadata key of the snake_case error code (`username_taken`, `invalid_credentials` …).
pub const CODE_KEY: &str = "im-error-code";
/// Metadata key of the seconds after which a retry may succeed (429 / 503).
pub const RETRY_AFTER_KEY: &str = "im-retry-after";

/// A status with a machine-readable error code.
pub fn status(code: Code, error_code: &str, message: impl Into<String>) -> Status {
    let mut status = Status::new(code, message);
    if let Ok(value) = MetadataValue::try_from(error_code) {
        status.metadata_mut().insert(CODE_KEY, value);
    }
    status
}

/// Adds a retry hint to a status.
pub fn with_retry_after(mut status: Status, seconds: u64) -> Status {
    status
        .metadata_mut()
        .insert(RETRY_AFTER_KEY, MetadataValue::from(seconds));
    status
}

/// The error code a service attached, if any.
pub fn error_code(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(CODE_KEY)
        .and_then(|value| value.to_str().ok())
}

/// The retry hint a service attached, if any.
pub fn retry_after(status: &Status) -> Option<u64> {
    status
        .metadata()
        .get(RETRY_AFTER_KEY)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_hints_round_trip() {
        let status = with_retry_after(
            status(Code::ResourceExhausted, "too_many_attempts", "slow down"),
            30,
        );
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(error_code(&status), Some("too_many_attempts"));
        assert_eq!(retry_after(&status), Some(30));
        assert_eq!(error_code(&Status::internal("x")), None);
    }
}
