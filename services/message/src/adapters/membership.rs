//! The membership port over the conversation service's gRPC API (`CheckSend`,
//! `ListUserConversations`), found through the registry. Every call carries a deadline
//! (`grpc-timeout`) and is cut off at it here too; an unreachable, slow or overloaded
//! conversation service is [`MembershipError::Unavailable`], and the idempotent
//! `CheckSend` is tried once more before giving up.

use super::wire;
use crate::domain::{ConversationId, SendCheck, UserId};
use crate::ports::{Membership, MembershipError};
use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Conversations asked per `ListUserConversations` page (the service's maximum).
const PAGE_SIZE: u32 = 100;
/// The pause before trying an unavailable conversation service again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

pub struct ConversationMembership {
    clients: Clients,
    deadline: Duration,
}

impl ConversationMembership {
    pub fn new(clients: Clients, deadline: Duration) -> Self {
        Self { clients, deadline }
    }

    /// Runs one RPC within the deadline.
    async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, MembershipError>
    where
        F: FnOnce(ConversationServiceClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        let channel = self
            .clients
            .channel(ServiceName::Conversation)
            .await
            .map_err(|error| MembershipError::Unavailable(error.to_string()))?;
        let mut request = tonic::Request::new(request);
        request.set_timeout(self.deadline);
        let client = ConversationServiceClient::new(channel);
        match tokio::time::timeout(self.deadline, call(client, request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(failure(&status)),
            Err(_) => Err(MembershipError::Unavailable(format!(
                "no answer within {:?}",
                self.deadline
            ))),
        }
    }
}

/// A refusal of the conversation service: overload and outages may pass, anything else
/// is a bug on one side (our ids are checked before asking).
fn failure(status: &Status) -> MembershipError {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Unknown => {
            MembershipError::Unavailable(format!("{:?}: {}", status.code(), status.message()))
        }
        code => MembershipError::Other(anyhow::anyhow!(
            "the conversation service answered {code:?}: {}",
            status.message()
        )),
    }
}

#[async_trait]
impl Membership for ConversationMembership {
    async fn check_send(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Result<SendCheck, MembershipError> {
        let request = pb::CheckSendRequest {
            conversation_id: conversation.as_str().to_owned(),
            user_id: user.as_str().to_owned(),
        };
        let ask = || {
            self.call(request.clone(), |mut client, request| async move {
                client.check_send(request).await
            })
        };
        let reply = match ask().await {
            Err(MembershipError::Unavailable(reason)) => {
                tracing::debug!(reason, "CheckSend failed; trying once more");
                tokio::time::sleep(RETRY_PAUSE).await;
                ask().await?
            }
            other => other?,
        };
        Ok(wire::send_check(&reply))
    }

    async fn conversations_of(
        &self,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<ConversationId>, MembershipError> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let request = pb::ListUserConversationsRequest {
                user_id: user.as_str().to_owned(),
                page: Some(pb::Page {
                    limit: PAGE_SIZE,
                    cursor: cursor.clone(),
                }),
            };
            let reply = self
                .call(request, |mut client, request| async move {
                    client.list_user_conversations(request).await
                })
                .await?;
            for conversation in reply.conversations {
                // The conversation service only hands out ids it accepted.
                match ConversationId::parse(&conversation.id) {
                    Ok(id) => ids.push(id),
                    Err(_) => {
                        tracing::warn!(id = conversation.id, "skipping a malformed conversation id")
                    }
                }
            }
            cursor = reply
                .page_info
                .map(|page| page.next_cursor)
                .unwrap_or_default();
            if cursor.is_empty() || ids.len() >= limit {
                ids.truncate(limit);
                return Ok(ids);
            }
        }
    }
}
