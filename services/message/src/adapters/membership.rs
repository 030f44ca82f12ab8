//! The membership port over the conversation service's gRPC API (`CheckSend`,
//! `ListUserConversations`), found through the registry. Every call carries a deadline
//! (`grpc-timeout`) which the channel enforces; both calls are reads, marked idempotent
//! so the channel retries them; an unreachable, slow, overloaded or circuit-broken
//! conversation service is [`MembershipError::Unavailable`].

use super::wire;
use crate::domain::{ConversationId, SendCheck, UserId};
use crate::ports::{Membership, MembershipError};
use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::{ResilientChannel, idempotent};
use std::time::Duration;
use tonic::{Code, Status};

/// Conversations asked per `ListUserConversations` page (the service's maximum).
const PAGE_SIZE: u32 = 100;

pub struct ConversationMembership {
    clients: Clients,
    deadline: Duration,
}

impl ConversationMembership {
    pub fn new(clients: Clients, deadline: Duration) -> Self {
        Self { clients, deadline }
    }

    /// Runs one read within the deadline, retried by the channel when the service is
    /// unavailable.
    async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, MembershipError>
    where
        F: FnOnce(ConversationServiceClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        let channel = self
            .clients
            .channel(ServiceName::Conversation)
            .await
            .map_err(|error| MembershipError::Unavailable(error.to_string()))?;
        let mut request = idempotent(tonic::Request::new(request));
        request.set_timeout(self.deadline);
        let client = ConversationServiceClient::new(channel);
        match call(client, request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(failure(&status)),
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
        let reply = self
            .call(request, |mut client, request| async move {
                client.check_send(request).await
            })
            .await?;
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
