//! The gateway's client of the message service (send, read cursors, sync): every call
//! found through the registry and bounded by a deadline. Failures are gRPC statuses,
//! mapped once at the edge with [`crate::http::ApiError::from_status`].

use crate::downstream;
use im_contracts::v1::message_service_client::MessageServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use tonic::Status;

#[derive(Clone)]
pub struct Message {
    clients: Clients,
}

impl Message {
    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// Runs one RPC of `MessageService`: `call` gets a client and a request, and the
    /// channel bounds it by the shared deadline (`resilience.deadline_ms`). Mark a read
    /// with `im_runtime::resilience::idempotent` to have it retried.
    pub async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, Status>
    where
        F: FnOnce(MessageServiceClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Message,
            None,
            MessageServiceClient::new,
            request,
            call,
        )
        .await
    }
}
