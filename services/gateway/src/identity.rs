//! The gateway's client of identity (its `Identity` and `AccessControl` services):
//! every call found through the registry and bounded by a deadline, its failures
//! reduced to one [`IdentityError`].

use crate::downstream;
use crate::http::ApiError;
use im_contracts::v1::access_control_client::AccessControlClient;
use im_contracts::v1::identity_client::IdentityClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use std::fmt;
use tonic::Status;

/// A failed identity call, as a gRPC status (transport failures and timeouts included).
#[derive(Debug, Clone)]
pub struct IdentityError(pub Status);

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "identity: {:?}: {}", self.0.code(), self.0.message())
    }
}

impl std::error::Error for IdentityError {}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        ApiError::from_status(ServiceName::Identity, &error.0)
    }
}

#[derive(Clone)]
pub struct Identity {
    clients: Clients,
}

impl Identity {
    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// Runs one RPC of the `Identity` service: `call` gets a client and a request, and
    /// the channel bounds it by the shared deadline (`resilience.deadline_ms`). Mark a
    /// read with `im_runtime::resilience::idempotent` to have it retried.
    pub async fn call<Req, Res, F, Fut>(&self, request: Req, call: F) -> Result<Res, IdentityError>
    where
        F: FnOnce(IdentityClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        self.run(IdentityClient::new, request, call).await
    }

    /// Runs one RPC of identity's `AccessControl` service, like [`Self::call`].
    pub async fn access<Req, Res, F, Fut>(
        &self,
        request: Req,
        call: F,
    ) -> Result<Res, IdentityError>
    where
        F: FnOnce(AccessControlClient<ResilientChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        self.run(AccessControlClient::new, request, call).await
    }

    async fn run<Client, Req, Res, F, Fut>(
        &self,
        client: fn(ResilientChannel) -> Client,
        request: Req,
        call: F,
    ) -> Result<Res, IdentityError>
    where
        F: FnOnce(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
    {
        downstream::call(
            &self.clients,
            ServiceName::Identity,
            None,
            client,
            request,
            call,
        )
        .await
        .map_err(IdentityError)
    }
}
