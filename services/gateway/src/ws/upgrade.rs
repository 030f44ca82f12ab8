//! `GET /api/v1/ws`: the upgrade, and who may make it.
//!
//! The route is outside the header-only bearer middleware because browsers cannot set
//! headers on a WebSocket: the access token may come in the `Authorization: Bearer`
//! header, the `access_token` query parameter, or the first frame (`auth`). Whichever it
//! is, it passes the same checks as on REST: a valid token of a live session of a user
//! who is not banned, whom the access rules allow `GET /api/v1/ws` (blocked addresses
//! were refused before routing). A token on the upgrade that fails them is answered
//! with the REST error and no upgrade.

use super::connection;
use crate::auth::{Auth, Principal, bearer_token};
use crate::http::{ApiError, AppState};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

pub const PATH: &str = "/api/v1/ws";
/// Frames over [`super::frames::MAX_FRAME_BYTES`] are answered `frame_too_large`; this
/// bounds what the socket reads at all before giving up on the connection.
const MAX_MESSAGE_BYTES: usize = 4 * super::frames::MAX_FRAME_BYTES;
/// What the socket reads at a time, allocated for as long as it is open. Client frames
/// are mostly far smaller; a larger one is read in several reads into a buffer of its
/// own size. The default (128 KiB) was nearly all of an idle connection's memory.
const READ_BUFFER_BYTES: usize = 1024;
/// The longest device id a client may give.
const MAX_DEVICE_ID_BYTES: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(upgrade))
}

#[derive(Debug, Default, Deserialize)]
struct UpgradeQuery {
    #[serde(default)]
    access_token: Option<String>,
    /// The client's name for its device, reported to presence.
    #[serde(default)]
    device_id: Option<String>,
}

/// The `data` of an `auth` frame.
#[derive(Debug, Deserialize)]
pub struct AuthData {
    pub access_token: String,
    #[serde(default)]
    pub device_id: Option<String>,
}

/// The caller behind `token` if REST would let them `GET /api/v1/ws`.
pub async fn admit(auth: &Auth, token: &str) -> Result<Principal, ApiError> {
    let principal = auth.principal(token, false).await?;
    auth.authorize(&principal, "GET", PATH)?;
    Ok(principal)
}

/// A device id is optional (empty), else 1 to 64 printable ASCII characters.
pub fn check_device_id(device_id: String) -> Result<String, ApiError> {
    let printable = device_id.bytes().all(|b| b.is_ascii_graphic());
    if device_id.len() > MAX_DEVICE_ID_BYTES || !printable {
        return Err(ApiError::invalid_request(
            "device_id must be at most 64 printable ASCII characters",
        ));
    }
    Ok(device_id)
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<UpgradeQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match accept(&state, &headers, query).await {
        Ok((admitted, device_id)) => match upgrade {
            Ok(upgrade) => {
                // Only what the socket uses: the callback is kept as long as it is open.
                let (auth, live) = (state.auth.clone(), state.live.clone());
                sized(upgrade).on_upgrade(move |socket| {
                    connection::serve(socket, admitted, device_id, auth, live)
                })
            }
            Err(_) => ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade_required",
                "this route speaks WebSocket only",
            )
            .into_response(),
        },
        Err(error) => error.into_response(),
    }
}

/// The socket's buffers and the most it reads of one message.
fn sized(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
}

/// The caller when the upgrade carries a token (the header first, else the query), and
/// the device id.
async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    query: Result<Query<UpgradeQuery>, QueryRejection>,
) -> Result<(Option<Principal>, String), ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("the query string cannot be read"))?;
    let device_id = check_device_id(query.device_id.unwrap_or_default())?;
    let token = if headers.contains_key(header::AUTHORIZATION) {
        Some(bearer_token(headers)?.to_owned())
    } else {
        query.access_token.filter(|token| !token.is_empty())
    };
    let admitted = match token {
        Some(token) => Some(admit(&state.auth, &token).await?),
        None => None,
    };
    Ok((admitted, device_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ws::{Message, WebSocket};
    use futures::{SinkExt as _, StreamExt as _};
    use tokio::net::TcpStream;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

    type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Answers each text message with its length, until the socket fails.
    async fn lengths(mut socket: WebSocket) {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let answer = Message::Text(text.len().to_string().into());
                if socket.send(answer).await.is_err() {
                    return;
                }
            }
        }
    }

    /// A socket sized as the gateway's, answering [`lengths`].
    async fn sized_socket() -> Client {
        let router = Router::new().route(
            "/",
            get(|upgrade: WebSocketUpgrade| async { sized(upgrade).on_upgrade(lengths) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        socket
    }

    #[tokio::test]
    async fn messages_far_longer_than_the_read_buffer_are_read_whole() {
        let mut socket = sized_socket().await;
        for len in [1, READ_BUFFER_BYTES + 1, MAX_MESSAGE_BYTES] {
            socket.send("x".repeat(len).into()).await.unwrap();
            let answer = socket.next().await.unwrap().unwrap();
            assert_eq!(answer, tungstenite::Message::text(len.to_string()));
        }
    }

    #[tokio::test]
    async fn a_message_over_the_read_limit_ends_the_socket() {
        let mut socket = sized_socket().await;
        // May fail midway: the server stops reading.
        let _ = socket.send("x".repeat(MAX_MESSAGE_BYTES + 1).into()).await;
        let answered = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("the socket ends");
        assert!(
            !matches!(answered, Some(Ok(tungstenite::Message::Text(_)))),
            "{answered:?}"
        );
    }
}
