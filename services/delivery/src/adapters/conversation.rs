//! The conversation service, asked for members as a trusted internal caller (empty
//! viewer), through the registry and within a deadline (retried, being a read).

use crate::domain::{ConversationId, Member, Role, UserId};
use crate::ports::{Conversations, LookupError, MemberPage};
use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::idempotent;
use std::time::Duration;
use tonic::Code;

/// The conversation service's largest page.
const PAGE_LIMIT: u32 = 100;

pub struct GrpcConversations {
    clients: Clients,
    timeout: Duration,
}

impl GrpcConversations {
    pub fn new(clients: Clients, timeout: Duration) -> Self {
        Self { clients, timeout }
    }
}

fn member(member: &pb::Member) -> Option<Member> {
    let Ok(user_id) = UserId::parse(&member.user_id) else {
        tracing::warn!(
            user_id = member.user_id,
            "skipping a member with a malformed id"
        );
        return None;
    };
    let role = match member.role() {
        pb::MemberRole::Owner => Role::Owner,
        pb::MemberRole::Admin => Role::Admin,
        pb::MemberRole::Member | pb::MemberRole::Unspecified => Role::Member,
    };
    Some(Member { user_id, role })
}

#[async_trait]
impl Conversations for GrpcConversations {
    async fn list_members(
        &self,
        conversation: &ConversationId,
        cursor: &str,
    ) -> Result<MemberPage, LookupError> {
        let channel = self
            .clients
            .channel(ServiceName::Conversation)
            .await
            .map_err(|error| LookupError::Unavailable(error.into()))?;
        let mut request = idempotent(tonic::Request::new(pb::ListMembersRequest {
            conversation_id: conversation.as_str().to_owned(),
            viewer_id: String::new(),
            page: Some(pb::Page {
                limit: PAGE_LIMIT,
                cursor: cursor.to_owned(),
            }),
        }));
        request.set_timeout(self.timeout);
        let mut client = ConversationServiceClient::new(channel);
        let reply = match client.list_members(request).await {
            Ok(reply) => reply.into_inner(),
            Err(status) => {
                return Err(match status.code() {
                    Code::NotFound => LookupError::NotFound,
                    Code::InvalidArgument => {
                        tracing::warn!(
                            conversation = %conversation,
                            message = status.message(),
                            "the conversation service refused to list members"
                        );
                        LookupError::NotFound
                    }
                    // Unreachable, too slow (the deadline) or its circuit open.
                    _ => LookupError::Unavailable(status.into()),
                });
            }
        };
        Ok(MemberPage {
            members: reply.members.iter().filter_map(member).collect(),
            next_cursor: reply
                .page_info
                .map(|page| page.next_cursor)
                .unwrap_or_default(),
        })
    }
}
