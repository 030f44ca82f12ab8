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

/// How long a client should wait before retrying when a service's database is down.
const DATABASE_RETRY_AFTER_S: u64 = 2;

/// The status for a failure no rule anticipated, in `service`: an unreachable database
/// is an outage (Unavailable `unavailable` with a retry hint), anything else a bug
/// (Internal `internal`). Details go to the log only, never to the caller.
pub fn unexpected(service: &str, error: &anyhow::Error) -> Status {
    let database_down = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sea_orm::DbErr>(),
            Some(sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_))
        )
    });
    if database_down {
        tracing::warn!(
            service,
            error = format!("{error:#}"),
            "database unavailable"
        );
        let message = format!("the {service} service is temporarily unavailable");
        return with_retry_after(
            status(Code::Unavailable, "unavailable", message),
            DATABASE_RETRY_AFTER_S,
        );
    }
    tracing::error!(service, error = format!("{error:#}"), "request failed");
    status(Code::Internal, "internal", "internal error")
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

    #[test]
    fn unexpected_failures_hide_details_and_tell_outages_from_bugs() {
        let down = anyhow::Error::new(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "refused".into(),
        )))
        .context("load the user");
        let status = unexpected("identity", &down);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(error_code(&status), Some("unavailable"));
        assert!(retry_after(&status).is_some());
        assert!(!status.message().contains("refused"));

        let bug = unexpected("identity", &anyhow::anyhow!("secret detail"));
        assert_eq!(bug.code(), Code::Internal);
        assert_eq!(error_code(&bug), Some("internal"));
        assert!(!bug.message().contains("secret"));
    }
}
