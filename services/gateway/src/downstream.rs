//! One call to another service, as every gateway client makes it: the channel found
//! through the registry, which brings the deadline, the service's circuit breaker and
//! retries of calls marked idempotent (`im_runtime::resilience`); optionally a deadline
//! shorter than the shared default; and every failure (no instance, transport,
//! timeout, open circuit) reduced to a gRPC status.

use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::ResilientChannel;
use std::time::Duration;
use tonic::Status;

/// Runs one RPC of `service`: `client` wraps the channel, `call` gets that client and a
/// request carrying `deadline` when one is given. A read marks the request with
/// `im_runtime::resilience::idempotent` to be retried.
pub async fn call<Client, Req, Res, F, Fut>(
    clients: &Clients,
    service: ServiceName,
    deadline: Option<Duration>,
    client: fn(ResilientChannel) -> Client,
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
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    call(client(channel), request)
        .await
        .map(tonic::Response::into_inner)
}
