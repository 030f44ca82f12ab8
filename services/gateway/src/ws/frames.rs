//! The frames on the wire (docs/PROTOCOL.md): JSON objects `{"type", "id"?, "data"}`.
//! Client frames are parsed here into a [`ClientFrame`] or refused with the `error`
//! frame to answer; server frames are serialized here, once, into the text handed to
//! the connection's writer.

use crate::http::ApiError;
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// The largest client frame accepted; a larger one closes the connection (1009).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The longest frame id (a string id), in bytes.
const MAX_ID_BYTES: usize = 128;
/// The longest frame type a client may name.
const MAX_TYPE_BYTES: usize = 64;

/// A frame id as the client wrote it, a string or a number, echoed back as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FrameId {
    Text(String),
    Number(Number),
}

/// A well-formed client frame; its `data` is checked by the handler of its type.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub kind: String,
    pub id: Option<FrameId>,
    /// `{}` when the frame had none.
    pub data: Value,
}

/// Why a frame was refused: the `error` frame to answer (with the frame's id when it
/// could be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: Option<FrameId>,
    pub code: Cow<'static, str>,
    pub message: String,
}

impl Refusal {
    pub fn new(
        id: Option<FrameId>,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            id,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn encode(&self) -> Utf8Bytes {
        error(self.id.as_ref(), &self.code, &self.message, None)
    }
}

/// Reads one text frame. Only the envelope is checked here: its `type` is a short
/// string, its `id` (if any) a string or number, its `data` (if any) an object.
pub fn parse(text: &str) -> Result<ClientFrame, Refusal> {
    let invalid = |id: Option<FrameId>, message: &str| Refusal::new(id, "invalid_frame", message);
    let value: Value = serde_json::from_str(text)
        .map_err(|error| invalid(None, &format!("the frame is not JSON: {error}")))?;
    let Value::Object(mut frame) = value else {
        return Err(invalid(None, "a frame is a JSON object"));
    };
    let id = match frame.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_ID_BYTES => {
            Some(FrameId::Text(id))
        }
        Some(Value::Number(id)) => Some(FrameId::Number(id)),
        Some(_) => {
            return Err(invalid(
                None,
                "`id` must be a number or a string of 1 to 128 bytes",
            ));
        }
    };
    let kind = match frame.remove("type") {
        Some(Value::String(kind)) if !kind.is_empty() && kind.len() <= MAX_TYPE_BYTES => kind,
        _ => return Err(invalid(id, "`type` must be a short string")),
    };
    let data = match frame.remove("data") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(data @ Value::Object(_)) => data,
        Some(_) => return Err(invalid(id, "`data` must be an object")),
    };
    Ok(ClientFrame { kind, id, data })
}

impl ClientFrame {
    /// The frame's `data` as `T`; a missing or mistyped field answers `invalid_request`
    /// naming it, as the REST API does.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.data.clone())
            .map_err(|error| ApiError::invalid_request(format!("invalid `data`: {error}")))
    }
}

#[derive(Serialize)]
struct ServerFrame<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a FrameId>,
    data: T,
}

/// A server frame, serialized once.
pub fn encode(kind: &str, id: Option<&FrameId>, data: impl Serialize) -> Utf8Bytes {
    let frame = ServerFrame { kind, id, data };
    match serde_json::to_string(&frame) {
        Ok(text) => text.into(),
        // Only a map with non-string keys fails to serialize; none is ever built.
        Err(error) => {
            tracing::error!(%error, kind, "cannot serialize a frame");
            Utf8Bytes::from_static(
                r#"{"type":"error","data":{"code":"internal","message":"internal error"}}"#,
            )
        }
    }
}

#[derive(Serialize)]
struct ErrorData<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// An `error` frame: `{code, message, retry_after?}`.
pub fn error(
    id: Option<&FrameId>,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Utf8Bytes {
    encode(
        "error",
        id,
        ErrorData {
            code,
            message,
            retry_after,
        },
    )
}

/// An `error` frame carrying an API error's code, message and retry hint: a frame fails
/// with the same code as the REST call doing the same.
pub fn api_error(id: Option<&FrameId>, refused: &ApiError) -> Utf8Bytes {
    error(id, &refused.code, &refused.message, refused.retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_keep_their_id_and_default_their_data() {
        let frame = parse(r#"{"type":"ping","id":"a1"}"#).unwrap();
        assert_eq!(frame.kind, "ping");
        assert_eq!(frame.id, Some(FrameId::Text("a1".into())));
        assert_eq!(frame.data, json!({}));
        let frame = parse(r#"{"type":"ack","id":7,"data":{"seq":1}}"#).unwrap();
        assert_eq!(frame.id, Some(FrameId::Number(7.into())));
        assert_eq!(frame.data, json!({"seq": 1}));
    }

    #[test]
    fn malformed_envelopes_are_invalid_frames_keeping_a_readable_id() {
        for text in ["{", "[]", "1", r#"{"type":"x","id":[1]}"#] {
            let refusal = parse(text).unwrap_err();
            assert_eq!((refusal.code.as_ref(), refusal.id), ("invalid_frame", None));
        }
        let refusal = parse(r#"{"id":"k","data":{}}"#).unwrap_err();
        assert_eq!(refusal.id, Some(FrameId::Text("k".into())));
        let refusal = parse(r#"{"type":"send","id":"k","data":[1]}"#).unwrap_err();
        assert_eq!(refusal.code, "invalid_frame");
        assert_eq!(refusal.id, Some(FrameId::Text("k".into())));
    }

    #[test]
    fn server_frames_echo_the_id_only_when_there_is_one() {
        let id = FrameId::Number(3.into());
        let text = encode("pong", Some(&id), json!({}));
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"type": "pong", "id": 3, "data": {}})
        );
        let text = api_error(None, &ApiError::invalid_request("no"));
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"type": "error", "data": {"code": "invalid_request", "message": "no"}})
        );
    }
}
