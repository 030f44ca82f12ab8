//! Stand-ins for the services WebSocket frames call: message, presence and delivery, on
//! one real tonic server on a loopback port. Each records what it was asked and answers
//! with just enough for the gateway's cases; `c-missing` is a conversation the caller is
//! not in, `m-missing` a message nobody can see, `m-late` one past its recall and edit
//! window.

use crate::fake_conversation::T0;
use crate::fake_identity::RunningFake;
use im_contracts::v1::delivery_server::{Delivery, DeliveryServer};
use im_contracts::v1::message_service_server::{MessageService, MessageServiceServer};
use im_contracts::v1::presence_server::{Presence, PresenceServer};
use im_contracts::v1::*;
use im_runtime::errors::status;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

/// Every conversation of the fake holds messages 1 to this seq.
pub const MAX_SEQ: u64 = 5;
/// Messages per conversation in one Sync page, so that a sync takes several pages.
const SYNC_PAGE: u64 = 2;

#[derive(Default)]
pub struct LiveState {
    calls: Mutex<Vec<(&'static str, Vec<u8>)>>,
    sent: Mutex<Vec<Message>>,
}

impl LiveState {
    fn record(&self, rpc: &'static str, request: &impl prost::Message) {
        self.calls
            .lock()
            .unwrap()
            .push((rpc, request.encode_to_vec()));
    }

    /// The requests `rpc` received, in order.
    pub fn seen<T: prost::Message + Default>(&self, rpc: &str) -> Vec<T> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| *name == rpc)
            .map(|(_, bytes)| T::decode(bytes.as_slice()).unwrap())
            .collect()
    }
}

fn not_a_member(conversation_id: &str) -> Result<(), Status> {
    if conversation_id == "c-missing" {
        return Err(status(
            Code::NotFound,
            "conversation_not_found",
            "no such conversation",
        ));
    }
    Ok(())
}

fn message_refusal(message_id: &str) -> Result<(), Status> {
    match message_id {
        "m-missing" => Err(status(
            Code::NotFound,
            "message_not_found",
            "no such message",
        )),
        "m-late" => Err(status(
            Code::FailedPrecondition,
            "window_passed",
            "too late for that",
        )),
        _ => Ok(()),
    }
}

/// Message `m-<seq>` of `c1`, as the message id of a REST path names it.
fn stored(message_id: &str) -> Message {
    let seq = message_id
        .strip_prefix("m-")
        .and_then(|seq| seq.parse().ok())
        .unwrap_or(1);
    Message {
        id: message_id.into(),
        ..message("c1", seq)
    }
}

pub fn message(conversation_id: &str, seq: u64) -> Message {
    Message {
        id: format!("m-{conversation_id}-{seq}"),
        conversation_id: conversation_id.into(),
        seq,
        sender_id: "u2".into(),
        client_msg_id: format!("k{seq}"),
        r#type: MessageType::Text.into(),
        body_json: format!(r#"{{"text":"message {seq}"}}"#),
        created_at_ms: T0,
        ..Message::default()
    }
}

pub async fn start(state: Arc<LiveState>) -> RunningFake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let fake = Fake(state);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(MessageServiceServer::new(fake.clone()))
            .add_service(PresenceServer::new(fake.clone()))
            .add_service(DeliveryServer::new(fake))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    RunningFake::new(addr, stop)
}

#[derive(Clone)]
struct Fake(Arc<LiveState>);

type Reply<T> = Result<Response<T>, Status>;

fn unimplemented<T>() -> Reply<T> {
    Err(Status::unimplemented("not faked"))
}

#[tonic::async_trait]
impl MessageService for Fake {
    async fn send(&self, request: Request<SendRequest>) -> Reply<SendResponse> {
        let request = request.into_inner();
        self.0.record("Send", &request);
        not_a_member(&request.conversation_id)?;
        let mut sent = self.0.sent.lock().unwrap();
        if let Some(original) = sent
            .iter()
            .find(|m| m.client_msg_id == request.client_msg_id && m.sender_id == request.sender_id)
        {
            return Ok(Response::new(SendResponse {
                message: Some(original.clone()),
                duplicate: true,
            }));
        }
        let message = Message {
            id: format!("m{}", sent.len() + 1),
            conversation_id: request.conversation_id,
            seq: sent.len() as u64 + 1,
            sender_id: request.sender_id,
            client_msg_id: request.client_msg_id,
            r#type: request.r#type,
            body_json: request.body_json,
            reply_to: request.reply_to,
            mentions: request.mentions,
            mention_all: request.mention_all,
            created_at_ms: T0,
            ..Message::default()
        };
        sent.push(message.clone());
        Ok(Response::new(SendResponse {
            message: Some(message),
            duplicate: false,
        }))
    }

    /// Every conversation holds messages 1 to [`MAX_SEQ`]: forward after `after_seq`,
    /// else backward from `before_seq`.
    async fn history(&self, request: Request<HistoryRequest>) -> Reply<HistoryResponse> {
        let request = request.into_inner();
        self.0.record("History", &request);
        not_a_member(&request.conversation_id)?;
        let limit = if request.limit == 0 {
            50
        } else {
            u64::from(request.limit)
        };
        let below = if request.before_seq == 0 {
            MAX_SEQ + 1
        } else {
            request.before_seq.min(MAX_SEQ + 1)
        };
        let (first, last) = if request.after_seq > 0 {
            let first = request.after_seq + 1;
            (first, (first + limit - 1).min(below - 1))
        } else {
            (below.saturating_sub(limit).max(1), below - 1)
        };
        let has_more = if request.after_seq > 0 {
            last + 1 < below
        } else {
            first > 1
        };
        Ok(Response::new(HistoryResponse {
            messages: (first..=last)
                .map(|seq| message(&request.conversation_id, seq))
                .collect(),
            has_more,
        }))
    }

    async fn mark_read(&self, request: Request<MarkReadRequest>) -> Reply<MarkReadResponse> {
        let request = request.into_inner();
        self.0.record("MarkRead", &request);
        not_a_member(&request.conversation_id)?;
        Ok(Response::new(MarkReadResponse {
            read_seq: request.seq,
            advanced: true,
        }))
    }

    async fn recall(&self, request: Request<RecallRequest>) -> Reply<RecallResponse> {
        let request = request.into_inner();
        self.0.record("Recall", &request);
        message_refusal(&request.message_id)?;
        Ok(Response::new(RecallResponse {
            message: Some(Message {
                body_json: String::new(),
                recalled: true,
                ..stored(&request.message_id)
            }),
        }))
    }

    async fn edit(&self, request: Request<EditRequest>) -> Reply<EditResponse> {
        let request = request.into_inner();
        self.0.record("Edit", &request);
        message_refusal(&request.message_id)?;
        Ok(Response::new(EditResponse {
            message: Some(Message {
                body_json: request.body_json,
                edited_at_ms: T0 + 1_000,
                ..stored(&request.message_id)
            }),
        }))
    }

    async fn delete_for_me(
        &self,
        request: Request<DeleteForMeRequest>,
    ) -> Reply<DeleteForMeResponse> {
        let request = request.into_inner();
        self.0.record("DeleteForMe", &request);
        message_refusal(&request.message_id)?;
        Ok(Response::new(DeleteForMeResponse {}))
    }

    /// The user is in `c1` and `c2`, which hold messages 1 to [`MAX_SEQ`]; others are
    /// dropped.
    async fn sync(&self, request: Request<SyncRequest>) -> Reply<SyncResponse> {
        let request = request.into_inner();
        self.0.record("Sync", &request);
        let mut cursors: Vec<SyncCursor> = request
            .cursors
            .into_iter()
            .filter(|cursor| ["c1", "c2"].contains(&cursor.conversation_id.as_str()))
            .collect();
        if request.include_unlisted {
            for conversation_id in ["c1", "c2"] {
                if !cursors.iter().any(|c| c.conversation_id == conversation_id) {
                    cursors.push(SyncCursor {
                        conversation_id: conversation_id.into(),
                        seq: 0,
                    });
                }
            }
        }
        cursors.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        let mut batches = Vec::new();
        for cursor in &mut cursors {
            let last = (cursor.seq + SYNC_PAGE).min(MAX_SEQ);
            if last > cursor.seq {
                batches.push(SyncBatch {
                    conversation_id: cursor.conversation_id.clone(),
                    messages: (cursor.seq + 1..=last)
                        .map(|seq| message(&cursor.conversation_id, seq))
                        .collect(),
                    has_more: last < MAX_SEQ,
                    max_seq: MAX_SEQ,
                    read_seq: 0,
                });
                cursor.seq = last;
            }
        }
        let done = cursors.iter().all(|cursor| cursor.seq >= MAX_SEQ);
        Ok(Response::new(SyncResponse {
            batches,
            next_cursors: cursors,
            done,
        }))
    }

    async fn get_read_state(&self, _: Request<GetReadStateRequest>) -> Reply<GetReadStateResponse> {
        unimplemented()
    }
}

#[tonic::async_trait]
impl Presence for Fake {
    async fn connect_device(
        &self,
        request: Request<ConnectDeviceRequest>,
    ) -> Reply<ConnectDeviceResponse> {
        self.0.record("ConnectDevice", request.get_ref());
        Ok(Response::new(ConnectDeviceResponse { came_online: true }))
    }

    async fn disconnect_device(
        &self,
        request: Request<DisconnectDeviceRequest>,
    ) -> Reply<DisconnectDeviceResponse> {
        self.0.record("DisconnectDevice", request.get_ref());
        Ok(Response::new(DisconnectDeviceResponse {
            went_offline: true,
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Reply<HeartbeatResponse> {
        let request = request.into_inner();
        self.0.record("Heartbeat", &request);
        Ok(Response::new(HeartbeatResponse {
            refreshed: request.devices.len() as u32,
        }))
    }

    /// Users whose id starts with `on-` are online since T0; the others were never seen.
    async fn get_presence(
        &self,
        request: Request<GetPresenceRequest>,
    ) -> Reply<GetPresenceResponse> {
        let request = request.into_inner();
        self.0.record("GetPresence", &request);
        let presences = request
            .user_ids
            .into_iter()
            .map(|user_id| {
                let online = user_id.starts_with("on-");
                UserPresence {
                    user_id,
                    online,
                    last_seen_ms: if online { T0 } else { 0 },
                    device_count: u32::from(online),
                    devices: Vec::new(),
                }
            })
            .collect();
        Ok(Response::new(GetPresenceResponse { presences }))
    }

    async fn locate_devices(
        &self,
        _: Request<LocateDevicesRequest>,
    ) -> Reply<LocateDevicesResponse> {
        unimplemented()
    }

    async fn list_nodes(&self, _: Request<ListNodesRequest>) -> Reply<ListNodesResponse> {
        unimplemented()
    }
}

#[tonic::async_trait]
impl Delivery for Fake {
    async fn deliver_ephemeral(
        &self,
        request: Request<DeliverEphemeralRequest>,
    ) -> Reply<DeliverEphemeralResponse> {
        let request = request.into_inner();
        self.0.record("DeliverEphemeral", &request);
        not_a_member(&request.conversation_id)?;
        Ok(Response::new(DeliverEphemeralResponse {
            accepted: 1,
            fallback: false,
        }))
    }
}
