//! Administration: users, bans and the IP / CIDR blacklist. Who reaches these routes
//! is up to the access rules (by default, the `admin` role); the rules themselves are
//! administered in `policies.rs` and `roles.rs`.

use super::json::ApiJson;
use super::params::{ApiQuery, PathId, SearchQuery};
use super::views::{BanView, IpBlockView, Paged, UserView, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::{ClientIp, Principal, parse_network};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use im_contracts::v1::{
    BanUserRequest, BlockIpRequest, ListIpBlocksRequest, SearchUsersRequest, UnbanUserRequest,
    UnblockIpRequest,
};
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const MAX_REASON_CHARS: usize = 512;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(ban_user, unban_user))
        .routes(routes!(list_ip_blocks, block_ip))
        .routes(routes!(unblock_ip))
}

#[derive(Deserialize, ToSchema)]
pub struct BanBody {
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 3339 time the ban ends; forever when absent.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
pub struct IpBlockBody {
    /// An address (`192.0.2.7`) or a network (`192.0.2.0/24`, `2001:db8::/32`).
    pub cidr: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 3339 time the block ends; forever when absent.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// `until` as identity's unix ms (0 = forever); it must lie ahead.
fn until_ms(until: Option<DateTime<Utc>>) -> Result<i64, ApiError> {
    match until {
        None => Ok(0),
        Some(until) if until > Utc::now() => Ok(until.timestamp_millis()),
        Some(_) => Err(ApiError::invalid_request("until must lie in the future")),
    }
}

fn reason(reason: Option<String>) -> Result<String, ApiError> {
    let reason = reason.unwrap_or_default();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid_request(
            "reason is at most 512 characters long",
        ));
    }
    Ok(reason)
}

/// Every user, with roles, paged (`q` filters by prefix).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of users", body = Paged<UserView>),
        (status = 403, description = "The caller is not an administrator", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: Principal,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Paged<UserView>>, ApiError> {
    let (prefix, page) = query.prefix_and_page()?;
    let request = SearchUsersRequest {
        prefix,
        page: Some(page),
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move {
            c.search_users(idempotent(r)).await
        })
        .await?;
    let items = response.users.into_iter().map(UserView::private).collect();
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// Ban a user (until a time, or forever); their sessions end at once.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/ban", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    request_body = BanBody,
    responses(
        (status = 201, description = "The ban", body = BanView),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn ban_user(
    State(state): State<AppState>,
    admin: Principal,
    PathId(user_id): PathId,
    ApiJson(body): ApiJson<BanBody>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let request = BanUserRequest {
        user_id,
        reason: reason(body.reason)?,
        until_ms: until_ms(body.until)?,
        actor_id: admin.user_id,
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.ban_user(r).await })
        .await?;
    let ban = required(response.ban, "ban")?;
    state.auth.denylist.ban(&ban);
    Ok((StatusCode::CREATED, Json(BanView::from(ban))))
}

/// Lift a user's ban.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/ban", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 404, description = "The user is not banned", body = ErrorBody),
    ))]
async fn unban_user(
    State(state): State<AppState>,
    admin: Principal,
    PathId(user_id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = UnbanUserRequest {
        user_id: user_id.clone(),
        actor_id: admin.user_id,
    };
    state
        .identity
        .call(request, |mut c, r| async move { c.unban_user(r).await })
        .await?;
    state.auth.denylist.unban(&user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Every IP / CIDR blacklist entry.
#[utoipa::path(get, path = "/api/v1/admin/ip-blocks", tag = "admin",
    responses(
        (status = 200, description = "Every entry (one page)", body = Paged<IpBlockView>),
        (status = 403, description = "The caller is not an administrator", body = ErrorBody),
    ))]
async fn list_ip_blocks(
    State(state): State<AppState>,
    _admin: Principal,
) -> Result<Json<Paged<IpBlockView>>, ApiError> {
    let response = state
        .identity
        .call(ListIpBlocksRequest {}, |mut c, r| async move {
            c.list_ip_blocks(idempotent(r)).await
        })
        .await?;
    let items = response
        .ip_blocks
        .into_iter()
        .map(IpBlockView::from)
        .collect();
    Ok(Json(Paged::new(items, None)))
}

/// Refuse every request from an address or network.
#[utoipa::path(post, path = "/api/v1/admin/ip-blocks", tag = "admin",
    request_body = IpBlockBody,
    responses(
        (status = 201, description = "The entry", body = IpBlockView),
        (status = 400, description = "Not an address or CIDR", body = ErrorBody),
        (status = 422, description = "The entry would block the caller", body = ErrorBody),
    ))]
async fn block_ip(
    State(state): State<AppState>,
    admin: Principal,
    client_ip: ClientIp,
    ApiJson(body): ApiJson<IpBlockBody>,
) -> Result<(StatusCode, Json<IpBlockView>), ApiError> {
    let network = parse_network(&body.cidr).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_cidr",
            format!("{:?} is not an IP address or CIDR", body.cidr),
        )
    })?;
    // An administrator locking themself out can only be undone from elsewhere.
    if let ClientIp(Some(ip)) = client_ip
        && network.contains(&ip)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "would_block_yourself",
            format!("{network} contains your own address {ip}"),
        ));
    }
    let request = BlockIpRequest {
        cidr: network.to_string(),
        reason: reason(body.reason)?,
        until_ms: until_ms(body.until)?,
        actor_id: admin.user_id,
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.block_ip(r).await })
        .await?;
    let block = required(response.ip_block, "ip_block")?;
    state.auth.denylist.block_ip(&block);
    Ok((StatusCode::CREATED, Json(IpBlockView::from(block))))
}

/// Remove a blacklist entry.
#[utoipa::path(delete, path = "/api/v1/admin/ip-blocks/{id}", tag = "admin",
    params(("id" = String, Path, description = "Entry id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such entry", body = ErrorBody),
    ))]
async fn unblock_ip(
    State(state): State<AppState>,
    admin: Principal,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = UnblockIpRequest {
        id: id.clone(),
        actor_id: admin.user_id,
    };
    state
        .identity
        .call(request, |mut c, r| async move { c.unblock_ip(r).await })
        .await?;
    state.auth.denylist.unblock_ip(&id);
    Ok(StatusCode::NO_CONTENT)
}
