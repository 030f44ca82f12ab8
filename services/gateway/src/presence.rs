//! The gateway's client of presence (device connections, heartbeats, online status):
//! every call found through the registry and bounded by a short deadline, since nothing
//! the gateway does may wait long on presence (DESIGN.md section 6).

use crate::downstream;
use im_contracts::v1::presence_client::PresenceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use std::time::Duration;
use tonic::Status;

/// How long any call to presence may take, end to end.
const DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Presence {
    clients: Clients,
    deadline: Duration,
}

impl Presence {
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            deadline: DEADLINE,
        }
    }

    /// Runs one RPC of `Presence`, bounded like every downstream call.
    pub async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, Status>
    where
        F: FnOnce(PresenceClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Presence,
            Some(self.deadline),
            PresenceClient::new,
            request,
            call,
        )
        .await
    }
}
