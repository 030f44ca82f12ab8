//! Presence, asked where users' devices are connected, through the registry and within
//! a deadline (retried, being a lookup); requests are cut to presence's limit of users
//! per call.

use crate::domain::{Device, NodeId, SessionId, UserId};
use crate::ports::{Located, Presence};
use anyhow::Context as _;
use async_trait::async_trait;
use im_contracts::v1 as pb;
use im_contracts::v1::presence_client::PresenceClient;
use im_runtime::ServiceName;
use im_runtime::grpc::Clients;
use im_runtime::resilience::idempotent;
use std::time::Duration;

/// Presence's limit of users per `LocateDevices`.
const MAX_USERS_PER_CALL: usize = 2000;

pub struct GrpcPresence {
    clients: Clients,
    timeout: Duration,
}

impl GrpcPresence {
    pub fn new(clients: Clients, timeout: Duration) -> Self {
        Self { clients, timeout }
    }
}

fn device(device: pb::DeviceRef) -> Option<Device> {
    let parsed = (
        UserId::parse(&device.user_id),
        SessionId::parse(&device.session_id),
        NodeId::parse(&device.node_id),
    );
    let (Ok(user_id), Ok(session_id), Ok(node_id)) = parsed else {
        tracing::warn!(?device, "skipping a malformed device from presence");
        return None;
    };
    Some(Device {
        user_id,
        session_id,
        device_id: device.device_id,
        node_id,
    })
}

#[async_trait]
impl Presence for GrpcPresence {
    async fn locate(&self, users: &[UserId]) -> anyhow::Result<Located> {
        let channel = self.clients.channel(ServiceName::Presence).await?;
        let mut client = PresenceClient::new(channel);
        let mut located = Located::default();
        for chunk in users.chunks(MAX_USERS_PER_CALL) {
            let mut request = idempotent(tonic::Request::new(pb::LocateDevicesRequest {
                user_ids: chunk.iter().map(|user| user.as_str().to_owned()).collect(),
            }));
            request.set_timeout(self.timeout);
            let reply = client
                .locate_devices(request)
                .await
                .context("presence did not locate the devices")?
                .into_inner();
            located
                .devices
                .extend(reply.devices.into_iter().filter_map(device));
            for node in reply.nodes {
                if let Ok(id) = NodeId::parse(&node.node_id) {
                    located.nodes.insert(id, node.push_addr);
                }
            }
        }
        Ok(located)
    }
}
