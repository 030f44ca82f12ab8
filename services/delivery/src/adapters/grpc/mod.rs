//! The `im.v1.Delivery` gRPC service: decodes requests, calls the use cases, encodes
//! replies; errors map to statuses in [`status`]. Callers are the gateway (typing) and,
//! later, media-signal (call signaling).

mod status;

use crate::app::{App, EphemeralInput};
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::delivery_server::Delivery;
use status::to_status;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Request, Response, Status};

pub struct DeliveryGrpc<P: Ports> {
    app: Arc<App<P>>,
    /// Stops the consumers when the service goes.
    _stop_on_drop: Arc<DropGuard>,
}

impl<P: Ports> DeliveryGrpc<P> {
    /// `stop` is cancelled when this service (and every clone the server holds) is
    /// dropped.
    pub fn new(app: Arc<App<P>>, stop: CancellationToken) -> Self {
        Self {
            app,
            _stop_on_drop: Arc::new(stop.drop_guard()),
        }
    }
}

#[tonic::async_trait]
impl<P: Ports> Delivery for DeliveryGrpc<P> {
    async fn deliver_ephemeral(
        &self,
        request: Request<pb::DeliverEphemeralRequest>,
    ) -> Result<Response<pb::DeliverEphemeralResponse>, Status> {
        let r = request.into_inner();
        let input = EphemeralInput {
            recipient_ids: r.recipient_ids,
            conversation_id: r.conversation_id,
            sender_id: r.sender_id,
            exclude_session_id: r.exclude_session_id,
            event_type: r.event_type,
            payload_json: r.payload_json,
        };
        let report = self
            .app
            .deliver_ephemeral(&input)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeliverEphemeralResponse {
            accepted: report.delivered,
            fallback: report.fallback,
        }))
    }
}
