//! The gateway's client of the conversation service (contacts, friend requests, blocks,
//! conversations, members): every call found through the registry and bounded by a
//! deadline, its failures reduced to one [`ConversationError`].

use crate::downstream;
use crate::http::ApiError;
use im_contracts::v1::conversation_service_client::ConversationServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use std::fmt;
use tonic::Status;

/// A failed conversation call, as a gRPC status (transport failures and timeouts included).
#[derive(Debug, Clone)]
pub struct ConversationError(pub Status);

impl fmt::Display for ConversationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conversation: {:?}: {}", self.0.code(), self.0.message())
    }
}

impl std::error::Error for ConversationError {}

impl From<ConversationError> for ApiError {
    fn from(error: ConversationError) -> Self {
        ApiError::from_status(ServiceName::Conversation, &error.0)
    }
}

#[derive(Clone)]
pub struct Conversation {
    clients: Clients,
}

impl Conversation {
    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// Runs one RPC of `ConversationService`: `call` gets a client and a request, and the
    /// channel bounds it by the shared deadline (`resilience.deadline_ms`). Mark a read
    /// with `im_runtime::resilience::idempotent` to have it retried.
    pub async fn call<Req, Res, F, Fut>(
        &self,
        request: Req,
        call: F,
    ) -> Result<Res, ConversationError>
    where
        F: FnOnce(ConversationServiceClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Conversation,
            None,
            ConversationServiceClient::new,
            request,
            call,
        )
        .await
        .map_err(ConversationError)
    }
}
