//! The one mapping from use-case errors to gRPC statuses with stable snake_case codes.

use crate::app::AppError;
use crate::domain::{Refusal, ValidationError};
use im_runtime::errors::{status, with_retry_after};
use tonic::{Code, Status};

/// Seconds a caller should wait when a dependency is unreachable or too contended.
const RETRY_AFTER_S: u64 = 1;

fn validation_code(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::UserId | ValidationError::ReservedUserId => "invalid_user_id",
        ValidationError::ConversationId => "invalid_conversation_id",
        ValidationError::MessageId => "invalid_message_id",
        ValidationError::ClientMsgId => "invalid_client_msg_id",
        ValidationError::MessageType => "invalid_type",
        ValidationError::TypeNotAllowed => "type_not_allowed",
        ValidationError::BodyTooLarge(_) => "body_too_large",
        ValidationError::InvalidBody(_) => "invalid_body",
        ValidationError::TooManyMentions { .. } => "too_many_mentions",
        ValidationError::SeqRange => "invalid_seq_range",
        ValidationError::Direction => "invalid_direction",
        ValidationError::SeqAhead { .. } => "seq_out_of_range",
        ValidationError::TooManyConversations { .. } => "too_many_conversations",
    }
}

fn refusal(error: &Refusal) -> (Code, &'static str) {
    match error {
        Refusal::Muted => (Code::PermissionDenied, "muted"),
        Refusal::Blocked => (Code::PermissionDenied, "blocked"),
        Refusal::NotAllowed => (Code::PermissionDenied, "not_allowed"),
        Refusal::WindowPassed => (Code::FailedPrecondition, "window_passed"),
        Refusal::NotEditable => (Code::FailedPrecondition, "not_editable"),
        Refusal::Recalled => (Code::FailedPrecondition, "message_recalled"),
    }
}

pub fn to_status(error: AppError) -> Status {
    let message = error.to_string();
    match error {
        AppError::Invalid(invalid) => {
            status(Code::InvalidArgument, validation_code(&invalid), message)
        }
        AppError::Refused(refused) => {
            let (code, error_code) = refusal(&refused);
            status(code, error_code, message)
        }
        AppError::ConversationNotFound => status(Code::NotFound, "conversation_not_found", message),
        AppError::MessageNotFound => status(Code::NotFound, "message_not_found", message),
        AppError::ReplyNotFound => status(Code::NotFound, "reply_not_found", message),
        AppError::ConversationUnavailable => with_retry_after(
            status(Code::Unavailable, "conversation_unavailable", message),
            RETRY_AFTER_S,
        ),
        AppError::Contention | AppError::Raced => {
            with_retry_after(status(Code::Aborted, "contention", message), RETRY_AFTER_S)
        }
        AppError::Unexpected(error) => im_runtime::errors::unexpected("message", &error),
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
            ValidationError::TypeNotAllowed,
            ValidationError::BodyTooLarge("x"),
            ValidationError::InvalidBody("x".into()),
            ValidationError::SeqAhead { seq: 2, max_seq: 1 },
        ] {
            let status = to_status(invalid.into());
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(error_code(&status).is_some());
        }
    }

    #[test]
    fn an_unreachable_conversation_service_asks_for_a_retry() {
        let status = to_status(AppError::ConversationUnavailable);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(error_code(&status), Some("conversation_unavailable"));
        assert_eq!(retry_after(&status), Some(RETRY_AFTER_S));
    }

    #[test]
    fn unexpected_details_stay_inside() {
        let bug = to_status(AppError::Unexpected(anyhow::anyhow!("secret detail")));
        assert_eq!(bug.code(), Code::Internal);
        assert!(!bug.message().contains("secret"));
    }
}
