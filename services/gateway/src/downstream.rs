//! One call to another service, as every gateway client makes it: the channel found
//! through the registry, a deadline sent along (`grpc-timeout`) and enforced here too,
//! and every failure (no instance, transport, timeout) reduced to a gRPC status.

use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use std::time::Duration;
use tonic::Status;
use tonic::transport::Channel;

/// Runs one RPC of `service`: `client` wraps the channel, `call` gets that client and a
/// request carrying the deadline.
pub async fn call<Client, Req, Res, F, Fut>(
    clients: &Clients,
    service: ServiceName,
    deadline: Duration,
    client: fn(Channel) -> Client,
    request: Req,
    call: F,
) -> Result<Res, Status>
where
    F: FnOnce(Client, tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    let channel = clients
        .channel(service)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(request);
    request.set_timeout(deadline);
    match tokio::time::timeout(deadline, call(client(channel), request)).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(status),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no answer within {deadline:?}"
        ))),
    }
}
