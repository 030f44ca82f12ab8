//! The gateway nodes: listed by the registry (instances `{node_id}/gateway`), each
//! reached at its own Push endpoint over a channel kept per endpoint, with a circuit
//! breaker per node, every push within a deadline. A gateway this process serves is
//! pushed to in process.

use crate::domain::{Device, NodeId, PushItem};
use crate::ports::{GatewayNode, Gateways, PushError, PushOutcome};
use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::push_client::PushClient;
use im_runtime::ServiceName;
use im_runtime::in_process::{InProcess, Transport};
use im_runtime::registry::Registry;
use im_runtime::resilience::{CircuitBreaker, ResilienceConfig, ResilientChannel, Target};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::Code;
use tonic::transport::Endpoint;

/// Channels kept before the cache starts over (gateway nodes come and go).
const MAX_CHANNELS: usize = 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RegistryGateways {
    registry: Arc<dyn Registry>,
    in_process: InProcess,
    timeout: Duration,
    resilience: ResilienceConfig,
    channels: Mutex<HashMap<String, ResilientChannel>>,
}

impl RegistryGateways {
    pub fn new(
        registry: Arc<dyn Registry>,
        in_process: InProcess,
        timeout: Duration,
        resilience: &ResilienceConfig,
    ) -> Self {
        Self {
            registry,
            in_process,
            timeout,
            resilience: resilience.clone(),
            channels: Mutex::default(),
        }
    }

    /// The channel to one node; a node that keeps failing has its circuit opened, so
    /// pushes to it fail at once until it answers a probe again.
    fn channel(&self, endpoint: &str) -> Result<ResilientChannel, PushError> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = channels.get(endpoint) {
            return Ok(channel.clone());
        }
        // Presence may report a bare `host:port`.
        let uri = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("http://{endpoint}")
        };
        let transport = Transport::to(&self.in_process, &uri, || {
            Endpoint::from_shared(uri.clone())
                .map(|endpoint| {
                    endpoint
                        .connect_timeout(CONNECT_TIMEOUT)
                        .tcp_nodelay(true)
                        .connect_lazy()
                })
                .map_err(|error| {
                    PushError::Refused(anyhow::anyhow!(
                        "invalid push endpoint {endpoint:?}: {error}"
                    ))
                })
        })?;
        let node = Target {
            service: ServiceName::Gateway,
            node: Some(endpoint.to_owned()),
        };
        let breaker = CircuitBreaker::new(node, &self.resilience.breaker);
        let channel = ResilientChannel::new(transport, breaker, &self.resilience);
        if channels.len() >= MAX_CHANNELS {
            channels.clear();
        }
        channels.insert(endpoint.to_owned(), channel.clone());
        Ok(channel)
    }
}

/// The node id of a gateway instance registered as `{node_id}/gateway`.
fn node_id(instance_id: &str) -> Option<NodeId> {
    let node = instance_id.strip_suffix(ServiceName::Gateway.as_str())?;
    NodeId::parse(node.strip_suffix('/')?).ok()
}

fn device(device: &Device) -> pb::DeviceRef {
    pb::DeviceRef {
        user_id: device.user_id.as_str().to_owned(),
        session_id: device.session_id.as_str().to_owned(),
        device_id: device.device_id.clone(),
        node_id: device.node_id.as_str().to_owned(),
    }
}

fn item(item: &PushItem) -> pb::PushItem {
    pb::PushItem {
        targets: item.targets.iter().map(device).collect(),
        user_ids: item
            .user_ids
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        exclude_session_ids: item
            .exclude_sessions
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        frame_type: item.frame.frame_type().to_owned(),
        frame_json: item.frame.data_json().to_owned(),
    }
}

#[async_trait]
impl Gateways for RegistryGateways {
    async fn nodes(&self) -> anyhow::Result<Vec<GatewayNode>> {
        let instances = self.registry.resolve(ServiceName::Gateway).await?;
        Ok(instances
            .into_iter()
            .map(|instance| GatewayNode {
                node_id: node_id(&instance.id),
                endpoint: instance.endpoint,
            })
            .collect())
    }

    async fn push(&self, endpoint: &str, items: &[PushItem]) -> Result<PushOutcome, PushError> {
        let channel = self.channel(endpoint)?;
        let mut request = tonic::Request::new(pb::PushRequest {
            items: items.iter().map(item).collect(),
        });
        request.set_timeout(self.timeout);
        // The channel cuts the push at the deadline, and fails it at once (UNAVAILABLE)
        // while the node's circuit is open.
        let reply = match PushClient::new(channel).push(request).await {
            Ok(reply) => reply.into_inner(),
            Err(status) => {
                return Err(match status.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Cancelled
                    | Code::Unknown => PushError::Unreachable(status.into()),
                    _ => PushError::Refused(status.into()),
                });
            }
        };
        let mut outcome = PushOutcome::default();
        for result in reply.results {
            outcome.delivered = outcome.delivered.saturating_add(result.delivered);
            outcome.offline = outcome
                .offline
                .saturating_add(u32::try_from(result.offline.len()).unwrap_or(u32::MAX));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_runtime::errors::error_code;
    use im_runtime::in_process::LocalService;
    use im_runtime::registry::StaticRegistry;
    use im_runtime::resilience::{BreakerConfig, CIRCUIT_OPEN};
    use tonic::Status;

    /// Where nothing listens any more.
    async fn dead_endpoint() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    }

    fn code(error: &PushError) -> Option<String> {
        let PushError::Unreachable(error) = error else {
            return None;
        };
        let status = error.downcast_ref::<Status>()?;
        error_code(status).map(str::to_owned)
    }

    #[tokio::test]
    async fn each_node_has_its_own_circuit() {
        let resilience = ResilienceConfig {
            breaker: BreakerConfig {
                consecutive_failures: 2,
                ..BreakerConfig::default()
            },
            ..ResilienceConfig::default()
        };
        let gateways = RegistryGateways::new(
            Arc::new(StaticRegistry::default()),
            InProcess::default(),
            Duration::from_millis(500),
            &resilience,
        );
        let (dead, other) = (dead_endpoint().await, dead_endpoint().await);
        for _ in 0..2 {
            let error = gateways.push(&dead, &[]).await.unwrap_err();
            assert_ne!(code(&error).as_deref(), Some(CIRCUIT_OPEN), "{error:?}");
        }
        let refused = gateways.push(&dead, &[]).await.unwrap_err();
        assert_eq!(code(&refused).as_deref(), Some(CIRCUIT_OPEN), "{refused:?}");
        // Another node is still tried.
        let error = gateways.push(&other, &[]).await.unwrap_err();
        assert_ne!(code(&error).as_deref(), Some(CIRCUIT_OPEN), "{error:?}");
    }

    /// A gateway's Push that reports every frame written to three connections.
    struct ThreeConnections;

    #[async_trait]
    impl pb::push_server::Push for ThreeConnections {
        async fn push(
            &self,
            request: tonic::Request<pb::PushRequest>,
        ) -> Result<tonic::Response<pb::PushResponse>, Status> {
            let results = request
                .into_inner()
                .items
                .iter()
                .map(|_| pb::PushResult {
                    delivered: 3,
                    offline: Vec::new(),
                })
                .collect();
            Ok(tonic::Response::new(pb::PushResponse { results }))
        }

        async fn close_sessions(
            &self,
            _: tonic::Request<pb::CloseSessionsRequest>,
        ) -> Result<tonic::Response<pb::CloseSessionsResponse>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
    }

    #[tokio::test]
    async fn a_gateway_served_here_is_pushed_to_in_process() {
        let endpoint = dead_endpoint().await;
        let in_process = InProcess::default();
        in_process.serve(
            &endpoint,
            LocalService::new(pb::push_server::PushServer::new(ThreeConnections)),
        );
        let gateways = |in_process| {
            RegistryGateways::new(
                Arc::new(StaticRegistry::default()),
                in_process,
                Duration::from_millis(500),
                &ResilienceConfig::default(),
            )
        };
        let frame = PushItem {
            targets: Vec::new(),
            user_ids: Vec::new(),
            exclude_sessions: Vec::new(),
            frame: Arc::new(crate::domain::Frame::new("message", "{}".to_owned())),
        };

        let outcome = gateways(in_process)
            .push(&endpoint, std::slice::from_ref(&frame))
            .await
            .unwrap();
        assert_eq!(outcome.delivered, 3);
        // The same endpoint from elsewhere is dialed, and nothing listens there.
        let dialed = gateways(InProcess::default())
            .push(&endpoint, &[frame])
            .await;
        assert!(
            matches!(dialed, Err(PushError::Unreachable(_))),
            "{dialed:?}"
        );
    }

    #[test]
    fn node_ids_come_from_instance_ids() {
        assert_eq!(node_id("node-a/gateway"), NodeId::parse("node-a").ok());
        assert_eq!(node_id("static:http://10.0.0.5:7100"), None);
        assert_eq!(node_id("node-a/presence"), None);
        assert_eq!(node_id("/gateway"), None);
        assert_eq!(node_id("gateway"), None);
    }
}
