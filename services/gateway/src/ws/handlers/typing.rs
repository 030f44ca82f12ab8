//! `typing`: tells the other members of a conversation (and the typist's other devices)
//! that this user is typing. Nothing is stored: delivery pushes the `typing` frame
//! `{conversation_id, user_id}` to the members' devices except this session, after
//! checking that the typist is a member (its refusal comes back as the `error`).

use super::{Answer, Connection, Handled};
use crate::http::ApiError;
use crate::ws::frames::ClientFrame;
use im_contracts::v1::DeliverEphemeralRequest;
use im_runtime::ServiceName;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct TypingData {
    conversation_id: String,
}

pub async fn typing(connection: &Connection, frame: &ClientFrame) -> Handled {
    let data: TypingData = frame.data()?;
    let principal = &connection.principal;
    let payload = json!({
        "conversation_id": data.conversation_id,
        "user_id": principal.user_id,
    });
    let request = DeliverEphemeralRequest {
        recipient_ids: Vec::new(),
        exclude_session_id: principal.session_id.clone(),
        event_type: "typing".to_owned(),
        payload_json: payload.to_string(),
        conversation_id: data.conversation_id,
        sender_id: principal.user_id.clone(),
    };
    connection
        .live
        .delivery
        .call(request, |mut client, request| async move {
            client.deliver_ephemeral(request).await
        })
        .await
        .map_err(|status| ApiError::from_status(ServiceName::Delivery, &status))?;
    Ok(Answer::Ack(json!({})))
}
