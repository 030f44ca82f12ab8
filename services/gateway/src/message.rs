//! The gateway's client of the message service (send, read cursors, sync): every call
//! found through the registry and bounded by a deadline. Failures are gRPC statuses,
//! mapped once at the edge with [`crate::http::ApiError::from_status`].

use crate::downstream;
use im_contracts::v1::message_service_client::MessageServiceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use std::time::Duration;
use tonic::Status;
use tonic::transport::Channel;

/// How long any call to the message service may take, end to end.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Message {
    clients: Clients,
    deadline: Duration,
}

impl Message {
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            deadline: DEADLINE,
        }
    }

    /// Runs one RPC of `MessageService`: `call` gets a client and a request carrying the
    /// deadline (`grpc-timeout`), and the whole exchange is cut off at that deadline here
    /// too.
    pub async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, Status>
    where
        F: FnOnce(MessageServiceClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Message,
            self.deadline,
            MessageServiceClient::new,
            request,
            call,
        )
        .await
    }
}
