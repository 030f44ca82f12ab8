//! What each client frame does, one file per frame family: [`messages`] (`send`, `ack`,
//! `read`), [`typing`], [`sync`], [`presence`] (`presence.subscribe`); `ping` is here.
//!
//! Every frame with an `id` gets exactly one reply carrying it: `<type>.ack`, or the
//! reply named for its type (`pong`, `sync.done`), or `error`. Frames without an id get
//! no ack, but still their `pong` or `sync.done`, and an `error` when they fail.

pub mod messages;
pub mod presence;
pub mod sync;
pub mod typing;

use super::Live;
use super::frames::{self, ClientFrame};
use super::hub::ConnectionId;
use super::outbound::Outbound;
use crate::auth::Principal;
use crate::http::ApiError;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// One authenticated connection, as its frame handlers see it.
pub struct Connection {
    pub id: ConnectionId,
    pub principal: Principal,
    pub outbound: Outbound,
    pub live: Arc<Live>,
    /// The delivered cursor per conversation (`ack` frames): the highest seq this
    /// connection confirmed receiving.
    pub delivered: HashMap<String, u64>,
}

impl Connection {
    pub fn new(
        id: ConnectionId,
        principal: Principal,
        outbound: Outbound,
        live: Arc<Live>,
    ) -> Self {
        Self {
            id,
            principal,
            outbound,
            live,
            delivered: HashMap::new(),
        }
    }
}

/// What a handled frame answers.
#[derive(Debug)]
pub enum Answer {
    /// `<type>.ack` with this data, sent only when the frame had an id.
    Ack(Value),
    /// A reply of its own type, sent with or without an id.
    Reply(&'static str, Value),
}

pub type Handled = Result<Answer, ApiError>;

/// A refusal whose HTTP status is of no concern on a socket.
pub fn refusal(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// Handles one frame and writes its reply.
pub async fn dispatch(connection: &mut Connection, frame: ClientFrame) {
    let handled = match frame.kind.as_str() {
        "ping" => Ok(Answer::Reply("pong", json!({}))),
        "send" => messages::send(connection, &frame).await,
        "ack" => messages::ack(connection, &frame),
        "read" => messages::read(connection, &frame).await,
        "typing" => typing::typing(connection, &frame).await,
        "sync" => sync::sync(connection, &frame).await,
        "presence.subscribe" => presence::subscribe(connection, &frame).await,
        "auth" => Err(refusal(
            "already_authenticated",
            "this connection is already authenticated",
        )),
        other => Err(refusal(
            "unknown_type",
            format!("unknown frame type `{other}`"),
        )),
    };
    let id = frame.id.as_ref();
    let reply = match handled {
        Ok(Answer::Ack(data)) => {
            id.map(|id| frames::encode(&format!("{}.ack", frame.kind), Some(id), data))
        }
        Ok(Answer::Reply(kind, data)) => Some(frames::encode(kind, id, data)),
        Err(error) => Some(frames::api_error(id, &error)),
    };
    if let Some(reply) = reply {
        connection.outbound.reply(reply).await;
    }
}
