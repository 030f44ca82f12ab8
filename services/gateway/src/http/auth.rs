//! The auth center's routes: register, login, refresh, logout, introspect and the JWKS.

use super::json::ApiJson;
use super::views::{TokenView, UserView, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::{ClientIp, Principal};
use crate::identity::IdentityError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use im_contracts::v1::{
    IntrospectRequest, IntrospectResponse, LoginRequest, LogoutRequest, RefreshRequest,
    RegisterRequest,
};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use tonic::Code;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long clients and caches may keep the JWKS.
const JWKS_MAX_AGE_S: u32 = 300;
/// Longest `User-Agent` passed on to identity.
const MAX_USER_AGENT: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(introspect))
        .routes(routes!(jwks))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// A stable id of the device, so its sessions can be told apart.
    #[serde(default)]
    pub device_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct IntrospectBody {
    /// An access or refresh token.
    pub token: String,
}

/// RFC 7662-style: an inactive token is `{"active": false}` and nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntrospectionView {
    pub active: bool,
    /// User id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Expiry, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `access` or `refresh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

fn user_agent(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    agent.chars().take(MAX_USER_AGENT).collect()
}

fn client_ip_text(ip: ClientIp) -> String {
    ip.0.map(|ip| ip.to_string()).unwrap_or_default()
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", security(()),
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new user", body = UserView),
        (status = 400, description = "Invalid username, password or body", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let request = RegisterRequest {
        username: body.username,
        password: body.password,
        display_name: body.display_name.unwrap_or_default(),
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.register(r).await })
        .await?;
    let user = required(response.user, "user")?;
    Ok((StatusCode::CREATED, Json(UserView::private(user))))
}

/// Log in: open a session and get a token pair.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "A token pair", body = TokenView),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "The account is banned", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Identity is unavailable; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenView>, ApiError> {
    let request = LoginRequest {
        username: body.username,
        password: body.password,
        device_id: body.device_id.unwrap_or_default(),
        client_ip: client_ip_text(client_ip),
        user_agent: user_agent(&headers),
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.login(r).await })
        .await?;
    Ok(Json(TokenView::try_from(response.tokens)?))
}

/// Rotate a refresh token into a new token pair. Reusing a rotated token revokes the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", security(()),
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair", body = TokenView),
        (status = 401, description = "Unknown, expired or reused refresh token", body = ErrorBody),
        (status = 503, description = "Identity is unavailable; see Retry-After", body = ErrorBody),
    ))]
async fn refresh(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenView>, ApiError> {
    let request = RefreshRequest {
        refresh_token: body.refresh_token,
        client_ip: client_ip_text(client_ip),
        user_agent: user_agent(&headers),
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.refresh(r).await })
        .await?;
    Ok(Json(TokenView::try_from(response.tokens)?))
}

/// Log out: revoke the current session (its tokens and open connections).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, ApiError> {
    let request = LogoutRequest {
        user_id: principal.user_id.clone(),
        session_id: principal.session_id.clone(),
    };
    state
        .identity
        .call(request, |mut c, r| async move { c.logout(r).await })
        .await?;
    // Identity's event reaches every gateway; this one need not wait for it.
    state.revoke_locally(&principal.user_id, &principal.session_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Introspect an access or refresh token.
#[utoipa::path(post, path = "/api/v1/auth/introspect", tag = "auth",
    request_body = IntrospectBody,
    responses(
        (status = 200, description = "Whether the token is active, and if so whose", body = IntrospectionView),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
async fn introspect(
    State(state): State<AppState>,
    _caller: Principal,
    ApiJson(body): ApiJson<IntrospectBody>,
) -> Result<Json<IntrospectionView>, ApiError> {
    let answer = state
        .identity
        .call(
            IntrospectRequest { token: body.token },
            |mut c, r| async move { c.introspect(idempotent(r)).await },
        )
        .await;
    let response = match answer {
        Ok(response) => response,
        // A token identity cannot make sense of is simply not active (RFC 7662).
        Err(IdentityError(status))
            if matches!(
                status.code(),
                Code::InvalidArgument | Code::Unauthenticated | Code::NotFound
            ) =>
        {
            IntrospectResponse::default()
        }
        Err(error) => return Err(error.into()),
    };
    let view = if response.active {
        IntrospectionView {
            active: true,
            sub: Some(response.user_id),
            sid: Some(response.session_id),
            exp: Some(response.expires_at_ms.div_euclid(1000)),
            roles: Some(response.roles),
            token_type: Some(response.token_type),
        }
    } else {
        IntrospectionView {
            active: false,
            sub: None,
            sid: None,
            exp: None,
            roles: None,
            token_type: None,
        }
    };
    Ok(Json(view))
}

/// The public keys that sign access tokens (JWKS, RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", security(()),
    responses(
        (status = 200, description = "The JSON Web Key Set", content_type = "application/json", body = Object),
        (status = 503, description = "No keys known and identity is unavailable", body = ErrorBody),
    ))]
async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let jwks = state.auth.verifier.jwks().await?;
    let mut response = Json(jwks).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_S}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}
