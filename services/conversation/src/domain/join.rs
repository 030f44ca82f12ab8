//! Join requests: how users ask to enter a group whose join policy is approval.

use super::{ConversationId, Refusal, RequestId, RequestMessage, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl JoinRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        match text {
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub id: RequestId,
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub message: String,
    pub status: JoinRequestStatus,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<UserId>,
}

impl JoinRequest {
    pub fn new(
        conversation_id: ConversationId,
        user_id: UserId,
        message: RequestMessage,
        now_ms: i64,
    ) -> Self {
        Self {
            id: RequestId::generate(),
            conversation_id,
            user_id,
            message: message.into_string(),
            status: JoinRequestStatus::Pending,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            decided_at_ms: None,
            decided_by: None,
        }
    }

    /// The pending request asked again: it keeps its place and takes the new message.
    pub fn refreshed(mut self, message: RequestMessage, now_ms: i64) -> Self {
        self.message = message.into_string();
        self.updated_at_ms = now_ms;
        self
    }

    pub fn decide(
        &mut self,
        status: JoinRequestStatus,
        by: &UserId,
        now_ms: i64,
    ) -> Result<(), Refusal> {
        if self.status != JoinRequestStatus::Pending {
            return Err(Refusal::RequestNotPending);
        }
        self.status = status;
        self.updated_at_ms = now_ms;
        self.decided_at_ms = Some(now_ms);
        self.decided_by = Some(by.clone());
        Ok(())
    }
}
