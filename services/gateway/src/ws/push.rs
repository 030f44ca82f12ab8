//! The internal `Push` gRPC service of this node: delivery (and signaling) hand it
//! frames for the sockets this node holds, and ask it to close revoked sessions.
//!
//! A push never waits on a socket: frames are queued (a full queue cuts the slow client
//! off) and the answer says how many connections took each frame and which targeted
//! devices are not here (any more).

use super::frames;
use super::hub::Hub;
use super::revocation;
use axum::extract::ws::Utf8Bytes;
use im_contracts::v1::push_server::Push;
use im_contracts::v1::{
    CloseSessionsRequest, CloseSessionsResponse, PushItem, PushRequest, PushResponse, PushResult,
};
use im_runtime::errors::status;
use serde_json::Value;
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};

/// The longest frame type accepted.
const MAX_FRAME_TYPE_BYTES: usize = 64;

pub struct PushService {
    hub: Arc<Hub>,
}

impl PushService {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

/// `{"type": frame_type, "data": <frame_json>}`, serialized once for every socket.
/// An empty `frame_json` is `{}`.
fn frame(index: usize, item: &PushItem) -> Result<Utf8Bytes, Status> {
    let invalid = |message: String| status(Code::InvalidArgument, "invalid_frame", message);
    if item.frame_type.is_empty() || item.frame_type.len() > MAX_FRAME_TYPE_BYTES {
        return Err(invalid(format!(
            "items[{index}].frame_type must be 1 to {MAX_FRAME_TYPE_BYTES} bytes"
        )));
    }
    let data = if item.frame_json.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(&item.frame_json)
            .map_err(|error| invalid(format!("items[{index}].frame_json is not JSON: {error}")))?
    };
    Ok(frames::encode(&item.frame_type, None, data))
}

#[tonic::async_trait]
impl Push for PushService {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let items = request.into_inner().items;
        // Every item is checked before any is delivered: a bad request delivers nothing.
        let encoded = items
            .iter()
            .enumerate()
            .map(|(index, item)| frame(index, item))
            .collect::<Result<Vec<_>, _>>()?;
        let results = items
            .iter()
            .zip(&encoded)
            .map(|(item, frame)| {
                let delivered = self.hub.push(
                    &item.targets,
                    &item.user_ids,
                    &item.exclude_session_ids,
                    frame,
                );
                metrics::counter!(super::PUSHED_METRIC).increment(u64::from(delivered.connections));
                PushResult {
                    delivered: delivered.connections,
                    offline: delivered.offline,
                }
            })
            .collect();
        Ok(Response::new(PushResponse { results }))
    }

    async fn close_sessions(
        &self,
        request: Request<CloseSessionsRequest>,
    ) -> Result<Response<CloseSessionsResponse>, Status> {
        let request = request.into_inner();
        let reason = if request.reason.is_empty() {
            revocation::SESSION_REVOKED
        } else {
            &request.reason
        };
        let closed = self.hub.close(
            &request.session_ids,
            &request.user_ids,
            &revocation::revoked(reason),
        );
        Ok(Response::new(CloseSessionsResponse { closed }))
    }
}
