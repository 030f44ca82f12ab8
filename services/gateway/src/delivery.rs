//! The gateway's client of delivery, for frames that bypass the message log (typing):
//! every call found through the registry and bounded by a deadline.

use crate::downstream;
use im_contracts::v1::delivery_client::DeliveryClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use std::time::Duration;
use tonic::Status;

/// Ephemeral frames are worthless late: a short deadline.
const DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Delivery {
    clients: Clients,
    deadline: Duration,
}

impl Delivery {
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            deadline: DEADLINE,
        }
    }

    /// Runs one RPC of `Delivery`, bounded like every downstream call.
    pub async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, Status>
    where
        F: FnOnce(DeliveryClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Delivery,
            Some(self.deadline),
            DeliveryClient::new,
            request,
            call,
        )
        .await
    }
}
