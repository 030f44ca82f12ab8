//! The `im.v1.Presence` gRPC service: decodes requests, calls the use cases, encodes
//! replies; errors map to statuses in [`status`]. Callers are gateway nodes (connect,
//! disconnect, heartbeat), delivery and media-signal (locate, nodes) and the gateway's
//! presence API (status).

mod status;

use super::wire;
use crate::app::{App, AppError, HeartbeatInput};
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::presence_server::Presence;
use status::to_status;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Request, Response, Status};

pub struct PresenceGrpc<P: Ports> {
    app: Arc<App<P>>,
    /// Stops the sweeper when the service goes.
    _stop_on_drop: Arc<DropGuard>,
}

impl<P: Ports> PresenceGrpc<P> {
    /// `stop` is cancelled when this service is dropped.
    pub fn new(app: Arc<App<P>>, stop: CancellationToken) -> Self {
        Self {
            app,
            _stop_on_drop: Arc::new(stop.drop_guard()),
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T, U>(result: Result<T, AppError>, encode: impl FnOnce(T) -> U) -> Reply<U> {
    result
        .map(|value| Response::new(encode(value)))
        .map_err(to_status)
}

#[tonic::async_trait]
impl<P: Ports> Presence for PresenceGrpc<P> {
    async fn connect_device(
        &self,
        request: Request<pb::ConnectDeviceRequest>,
    ) -> Reply<pb::ConnectDeviceResponse> {
        let r = request.into_inner();
        let device = r.device.as_ref().map(wire::device_input);
        let result = self.app.connect_device(device.as_ref(), r.ttl_s).await;
        reply(result, |came_online| pb::ConnectDeviceResponse {
            came_online,
        })
    }

    async fn disconnect_device(
        &self,
        request: Request<pb::DisconnectDeviceRequest>,
    ) -> Reply<pb::DisconnectDeviceResponse> {
        let r = request.into_inner();
        let device = r.device.as_ref().map(wire::device_input);
        let result = self.app.disconnect_device(device.as_ref()).await;
        reply(result, |went_offline| pb::DisconnectDeviceResponse {
            went_offline,
        })
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Reply<pb::HeartbeatResponse> {
        let r = request.into_inner();
        let input = HeartbeatInput {
            node_id: r.node_id,
            push_addr: r.push_addr,
            devices: r.devices.iter().map(wire::device_input).collect(),
            ttl_s: r.ttl_s,
        };
        let result = self.app.heartbeat(&input).await;
        reply(result, |refreshed| pb::HeartbeatResponse { refreshed })
    }

    async fn get_presence(
        &self,
        request: Request<pb::GetPresenceRequest>,
    ) -> Reply<pb::GetPresenceResponse> {
        let r = request.into_inner();
        let result = self.app.get_presence(&r.user_ids).await;
        reply(result, |presences| pb::GetPresenceResponse {
            presences: presences.iter().map(wire::presence).collect(),
        })
    }

    async fn locate_devices(
        &self,
        request: Request<pb::LocateDevicesRequest>,
    ) -> Reply<pb::LocateDevicesResponse> {
        let r = request.into_inner();
        let result = self.app.locate_devices(&r.user_ids).await;
        reply(result, |located| pb::LocateDevicesResponse {
            devices: located.devices.iter().map(wire::device).collect(),
            nodes: located.nodes.iter().map(wire::node).collect(),
        })
    }

    async fn list_nodes(
        &self,
        _request: Request<pb::ListNodesRequest>,
    ) -> Reply<pb::ListNodesResponse> {
        let result = self.app.list_nodes().await;
        reply(result, |nodes| pb::ListNodesResponse {
            nodes: nodes.iter().map(wire::node).collect(),
        })
    }
}
