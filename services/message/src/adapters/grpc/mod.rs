//! The `im.v1.MessageService` gRPC service: decodes requests, calls the use cases,
//! encodes replies; errors map to statuses in [`status`].
//!
//! Callers are other services: the gateway passes the authenticated user as sender,
//! viewer, actor or editor.

mod status;

use super::wire;
use crate::app::{App, AppError, HistoryQuery, Outgoing, SyncQuery};
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::message_service_server::MessageService;
use status::to_status;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Request, Response, Status};

pub struct MessageGrpc<P: Ports> {
    app: Arc<App<P>>,
    /// Ends the service's background tasks when the service goes.
    _stop_on_drop: Arc<DropGuard>,
}

impl<P: Ports> MessageGrpc<P> {
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
impl<P: Ports> MessageService for MessageGrpc<P> {
    async fn send(&self, request: Request<pb::SendRequest>) -> Reply<pb::SendResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .send(Outgoing {
                conversation_id: &r.conversation_id,
                sender_id: &r.sender_id,
                client_msg_id: &r.client_msg_id,
                kind: wire::message_type_in(r.r#type),
                body_json: &r.body_json,
                reply_to: &r.reply_to,
                mentions: &r.mentions,
                mention_all: r.mention_all,
            })
            .await;
        reply(result, |sent| pb::SendResponse {
            message: Some(wire::message(&sent.message)),
            duplicate: sent.duplicate,
        })
    }

    async fn history(&self, request: Request<pb::HistoryRequest>) -> Reply<pb::HistoryResponse> {
        let r = request.into_inner();
        let direction = wire::direction_in(r.direction).map_err(|e| to_status(e.into()))?;
        let result = self
            .app
            .history(HistoryQuery {
                conversation_id: &r.conversation_id,
                viewer_id: &r.viewer_id,
                after_seq: r.after_seq,
                before_seq: r.before_seq,
                direction,
                limit: r.limit,
            })
            .await;
        reply(result, |page| pb::HistoryResponse {
            messages: page.messages.iter().map(wire::message).collect(),
            has_more: page.has_more,
        })
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Reply<pb::MarkReadResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .mark_read(&r.conversation_id, &r.user_id, r.seq)
            .await;
        reply(result, |marked| pb::MarkReadResponse {
            read_seq: marked.read_seq,
            advanced: marked.advanced,
        })
    }

    async fn recall(&self, request: Request<pb::RecallRequest>) -> Reply<pb::RecallResponse> {
        let r = request.into_inner();
        let result = self.app.recall(&r.message_id, &r.actor_id).await;
        reply(result, |message| pb::RecallResponse {
            message: Some(wire::message(&message)),
        })
    }

    async fn edit(&self, request: Request<pb::EditRequest>) -> Reply<pb::EditResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .edit(&r.message_id, &r.editor_id, &r.body_json)
            .await;
        reply(result, |message| pb::EditResponse {
            message: Some(wire::message(&message)),
        })
    }

    async fn delete_for_me(
        &self,
        request: Request<pb::DeleteForMeRequest>,
    ) -> Reply<pb::DeleteForMeResponse> {
        let r = request.into_inner();
        let result = self.app.delete_for_me(&r.message_id, &r.user_id).await;
        reply(result, |()| pb::DeleteForMeResponse {})
    }

    async fn sync(&self, request: Request<pb::SyncRequest>) -> Reply<pb::SyncResponse> {
        let r = request.into_inner();
        let cursors: Vec<(String, u64)> = r
            .cursors
            .into_iter()
            .map(|cursor| (cursor.conversation_id, cursor.seq))
            .collect();
        let result = self
            .app
            .sync(SyncQuery {
                user_id: &r.user_id,
                cursors: &cursors,
                limit: r.limit,
                include_unlisted: r.include_unlisted,
            })
            .await;
        reply(result, |page| pb::SyncResponse {
            batches: page
                .batches
                .iter()
                .map(|batch| pb::SyncBatch {
                    conversation_id: batch.conversation_id.as_str().to_owned(),
                    messages: batch.messages.iter().map(wire::message).collect(),
                    has_more: batch.has_more,
                    max_seq: batch.max_seq,
                    read_seq: batch.read_seq,
                })
                .collect(),
            next_cursors: page
                .next_cursors
                .into_iter()
                .map(|(id, seq)| pb::SyncCursor {
                    conversation_id: id.as_str().to_owned(),
                    seq,
                })
                .collect(),
            done: page.done,
        })
    }

    async fn get_read_state(
        &self,
        request: Request<pb::GetReadStateRequest>,
    ) -> Reply<pb::GetReadStateResponse> {
        let r = request.into_inner();
        let result = self.app.read_states(&r.user_id, &r.conversation_ids).await;
        reply(result, |states| pb::GetReadStateResponse {
            states: states
                .iter()
                .map(|state| pb::ReadState {
                    conversation_id: state.conversation_id.as_str().to_owned(),
                    read_seq: state.read_seq,
                    max_seq: state.max_seq,
                    unread: state.unread,
                    last_message: state.last_message.as_ref().map(wire::message),
                })
                .collect(),
        })
    }
}
