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
    let principal = auth.principal(token).await?;
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
            Ok(upgrade) => upgrade
                .max_message_size(MAX_MESSAGE_BYTES)
                .max_frame_size(MAX_MESSAGE_BYTES)
                .on_upgrade(move |socket| connection::serve(socket, admitted, device_id, state)),
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
