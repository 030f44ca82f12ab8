//! The one mapping from use-case errors to gRPC statuses with stable snake_case codes.

use crate::app::AppError;
use crate::domain::ValidationError;
use im_runtime::errors::{status, with_retry_after};
use tonic::{Code, Status};

/// Seconds a caller should wait when a dependency is down.
const UNAVAILABLE_RETRY_S: u64 = 1;

fn validation_code(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::UserId => "invalid_user_id",
        ValidationError::SessionId => "invalid_session_id",
        ValidationError::ConversationId => "invalid_conversation_id",
        ValidationError::NodeId => "invalid_node_id",
        ValidationError::EventType => "invalid_event_type",
        ValidationError::Payload => "invalid_payload",
        ValidationError::PayloadTooLarge { .. } => "payload_too_large",
        ValidationError::TooManyRecipients { .. } => "too_many_recipients",
        ValidationError::NoRecipients => "missing_recipients",
    }
}

pub fn to_status(error: AppError) -> Status {
    let message = error.to_string();
    match error {
        AppError::Invalid(invalid) => {
            status(Code::InvalidArgument, validation_code(&invalid), message)
        }
        AppError::ConversationNotFound => status(Code::NotFound, "conversation_not_found", message),
        AppError::ConversationUnavailable(cause) => {
            tracing::warn!(error = format!("{cause:#}"), "cannot list members");
            with_retry_after(
                status(Code::Unavailable, "conversation_unavailable", message),
                UNAVAILABLE_RETRY_S,
            )
        }
        AppError::RegistryUnavailable(cause) => {
            tracing::warn!(error = format!("{cause:#}"), "cannot list gateway nodes");
            with_retry_after(
                status(Code::Unavailable, "unavailable", message),
                UNAVAILABLE_RETRY_S,
            )
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
            ValidationError::EventType,
            ValidationError::PayloadTooLarge { max: 1 },
            ValidationError::TooManyRecipients { max: 1 },
            ValidationError::NoRecipients,
        ] {
            let status = to_status(invalid.into());
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(error_code(&status).is_some());
        }
    }

    #[test]
    fn outages_ask_to_retry_and_hide_details() {
        let down = to_status(AppError::ConversationUnavailable(anyhow::anyhow!("secret")));
        assert_eq!(down.code(), Code::Unavailable);
        assert_eq!(error_code(&down), Some("conversation_unavailable"));
        assert_eq!(retry_after(&down), Some(UNAVAILABLE_RETRY_S));
        assert!(!down.message().contains("secret"));
    }
}
