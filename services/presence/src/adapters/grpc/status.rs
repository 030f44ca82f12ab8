//! The one mapping from use-case errors to gRPC statuses with stable snake_case codes.

use crate::app::AppError;
use crate::domain::ValidationError;
use im_runtime::errors::{status, with_retry_after};
use tonic::{Code, Status};

/// Seconds a caller should wait when the kv store is unreachable. Meanwhile delivery
/// pushes to every gateway node and presence shows as unknown (DESIGN §6).
const UNAVAILABLE_RETRY_S: u64 = 2;

fn validation_code(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::UserId => "invalid_user_id",
        ValidationError::SessionId => "invalid_session_id",
        ValidationError::DeviceId => "invalid_device_id",
        ValidationError::NodeId => "invalid_node_id",
        ValidationError::PushAddr => "invalid_push_addr",
        ValidationError::MissingDevice => "missing_device",
        ValidationError::NodeMismatch => "node_mismatch",
        ValidationError::Ttl { .. } => "invalid_ttl",
        ValidationError::TooManyUsers { .. } => "too_many_users",
        ValidationError::TooManyDevices { .. } => "too_many_devices",
    }
}

pub fn to_status(error: AppError) -> Status {
    let message = error.to_string();
    match error {
        AppError::Invalid(invalid) => {
            status(Code::InvalidArgument, validation_code(&invalid), message)
        }
        AppError::Unavailable(cause) => {
            tracing::warn!(error = format!("{cause:#}"), "presence store unavailable");
            with_retry_after(
                status(Code::Unavailable, "unavailable", message),
                UNAVAILABLE_RETRY_S,
            )
        }
        AppError::Unexpected(error) => {
            tracing::error!(error = format!("{error:#}"), "presence request failed");
            status(Code::Internal, "internal", "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_runtime::errors::{error_code, retry_after};

    #[test]
    fn bad_input_is_never_internal() {
        for invalid in [
            ValidationError::UserId,
            ValidationError::NodeMismatch,
            ValidationError::TooManyUsers { max: 3 },
        ] {
            let status = to_status(invalid.into());
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(error_code(&status).is_some());
        }
    }

    #[test]
    fn an_unreachable_store_asks_to_retry_and_hides_details() {
        let down = to_status(AppError::Unavailable(anyhow::anyhow!("secret host")));
        assert_eq!(down.code(), Code::Unavailable);
        assert_eq!(retry_after(&down), Some(UNAVAILABLE_RETRY_S));
        assert!(!down.message().contains("secret"));
        let bug = to_status(AppError::Unexpected(anyhow::anyhow!("secret detail")));
        assert_eq!(bug.code(), Code::Internal);
        assert!(!bug.message().contains("secret"));
    }
}
