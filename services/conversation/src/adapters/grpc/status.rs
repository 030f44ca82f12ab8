//! The one mapping from use-case errors to gRPC statuses with stable snake_case codes.

use crate::app::AppError;
use crate::domain::{Refusal, ValidationError};
use im_runtime::errors::{status, with_retry_after};
use tonic::{Code, Status};

/// Seconds a caller should wait when the database is unreachable or too contended.
const RETRY_AFTER_S: u64 = 1;

fn validation_code(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::UserId => "invalid_user_id",
        ValidationError::ConversationId => "invalid_conversation_id",
        ValidationError::RequestId => "invalid_request_id",
        ValidationError::GroupName => "invalid_name",
        ValidationError::Remark => "invalid_remark",
        ValidationError::RequestMessage => "invalid_message",
        ValidationError::Announcement => "invalid_announcement",
        ValidationError::AvatarFileId => "invalid_avatar_file_id",
        ValidationError::MutedUntil => "invalid_muted_until",
        ValidationError::Role => "invalid_role",
        ValidationError::Direction => "invalid_direction",
        ValidationError::Policy => "invalid_policy",
        ValidationError::TooManyUsers { .. } => "too_many_users",
        ValidationError::SelfTarget => "cannot_target_self",
    }
}

fn refusal(error: &Refusal) -> (Code, &'static str) {
    match error {
        Refusal::CannotBefriendSelf => (Code::InvalidArgument, "cannot_befriend_self"),
        Refusal::Blocked => (Code::PermissionDenied, "blocked"),
        Refusal::AlreadyContacts => (Code::AlreadyExists, "already_contacts"),
        Refusal::NotContacts => (Code::PermissionDenied, "not_contacts"),
        Refusal::RequestNotPending => (Code::FailedPrecondition, "request_not_pending"),
        Refusal::NotAGroup => (Code::FailedPrecondition, "not_a_group"),
        Refusal::InsufficientRole => (Code::PermissionDenied, "insufficient_role"),
        Refusal::OwnerMustTransfer => (Code::FailedPrecondition, "owner_must_transfer"),
        Refusal::MemberLimit { .. } => (Code::FailedPrecondition, "member_limit"),
        Refusal::InviteOnly => (Code::PermissionDenied, "invite_only"),
        Refusal::AlreadyMember => (Code::AlreadyExists, "already_member"),
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
        AppError::MemberNotFound => status(Code::NotFound, "member_not_found", message),
        AppError::FriendRequestNotFound => {
            status(Code::NotFound, "friend_request_not_found", message)
        }
        AppError::JoinRequestNotFound => status(Code::NotFound, "join_request_not_found", message),
        AppError::ContactNotFound => status(Code::NotFound, "contact_not_found", message),
        AppError::BlockNotFound => status(Code::NotFound, "block_not_found", message),
        AppError::InvalidCursor => status(Code::InvalidArgument, "invalid_cursor", message),
        AppError::Contention | AppError::Raced => {
            with_retry_after(status(Code::Aborted, "contention", message), RETRY_AFTER_S)
        }
        AppError::Unexpected(error) => im_runtime::errors::unexpected("conversation", &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_runtime::errors::error_code;

    #[test]
    fn bad_input_is_never_internal() {
        for invalid in [
            ValidationError::UserId,
            ValidationError::GroupName,
            ValidationError::TooManyUsers { max: 3 },
            ValidationError::SelfTarget,
        ] {
            let status = to_status(invalid.into());
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(error_code(&status).is_some());
        }
        let status = to_status(Refusal::CannotBefriendSelf.into());
        assert_eq!(status.code(), Code::InvalidArgument);
    }

    #[test]
    fn unexpected_details_stay_inside() {
        let bug = to_status(AppError::Unexpected(anyhow::anyhow!("secret detail")));
        assert_eq!(bug.code(), Code::Internal);
        assert!(!bug.message().contains("secret"));
    }
}
