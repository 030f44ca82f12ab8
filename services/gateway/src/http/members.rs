//! The members of a conversation: list them, invite users (who must exist), change a
//! member's role or mute, kick a member, or leave.

use super::groups::MAX_USER_IDS;
use super::json::ApiJson;
use super::known_users::require_users;
use super::params::{ApiQuery, PageQuery, PathId, PathPair, check_ids, parse_time};
use super::views::{MemberView, Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    InviteMembersRequest, ListMembersRequest, MemberRole, RemoveMemberRequest, UpdateMemberRequest,
};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, invite_members))
        .routes(routes!(update_member, remove_member))
}

#[derive(Deserialize, ToSchema)]
pub struct InviteBody {
    /// Users to add, at most 2000; those already members are skipped.
    pub user_ids: Vec<String>,
}

/// The members an invitation added.
#[derive(Serialize, ToSchema)]
pub struct AddedMembers {
    pub items: Vec<MemberView>,
}

/// A role the owner may give (ownership moves only by transfer).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignableRole {
    Admin,
    Member,
}

/// Fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateMemberBody {
    /// `admin` or `member` (owner only).
    #[serde(default)]
    pub role: Option<AssignableRole>,
    /// RFC 3339 time until which the member may not send, or `null` to unmute (owner
    /// or admins).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub muted_until: Option<Option<String>>,
}

/// A field that is present (`Some`), possibly as `null` (`Some(None)`); `None` when left
/// out (with `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The members of a conversation the caller belongs to, by user id.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/members", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id"), PageQuery),
    responses(
        (status = 200, description = "One page of members", body = Paged<MemberView>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
    ))]
async fn list_members(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<MemberView>>, ApiError> {
    let request = ListMembersRequest {
        conversation_id: id,
        // Never empty: an empty viewer is the service's trusted internal caller.
        viewer_id: me.user_id,
        page: Some(query.page()?),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_members(idempotent(r)).await
        })
        .await?;
    let items = response
        .members
        .into_iter()
        .map(MemberView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// Add users to a group, as its invite policy allows.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = InviteBody,
    responses(
        (status = 201, description = "The members added (users already in the group are skipped)", body = AddedMembers),
        (status = 400, description = "Invalid id, or too many users", body = ErrorBody),
        (status = 403, description = "The invite policy does not let the caller invite", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller, or a user does not exist (`user_not_found`)", body = ErrorBody),
        (status = 422, description = "Not a group, or over the member limit", body = ErrorBody),
    ))]
async fn invite_members(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<AddedMembers>), ApiError> {
    check_ids(&body.user_ids, MAX_USER_IDS)?;
    require_users(&state, &body.user_ids).await?;
    let request = InviteMembersRequest {
        conversation_id: id,
        actor_id: me.user_id,
        user_ids: body.user_ids,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move { c.invite_members(r).await })
        .await?;
    let items = response
        .added
        .into_iter()
        .map(MemberView::try_from)
        .collect::<Result<_, _>>()?;
    Ok((StatusCode::CREATED, Json(AddedMembers { items })))
}

/// Change a member's role (owner) or mute (owner or admins).
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/members/{user_id}", tag = "conversations",
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The member"),
    ),
    request_body = UpdateMemberBody,
    responses(
        (status = 200, description = "The member", body = MemberView),
        (status = 400, description = "Invalid role or time (`invalid_time`; a mute must end in the future)", body = ErrorBody),
        (status = 403, description = "The caller may not change that member", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller, or no such member", body = ErrorBody),
    ))]
async fn update_member(
    State(state): State<AppState>,
    me: Principal,
    PathPair(id, user_id): PathPair,
    ApiJson(body): ApiJson<UpdateMemberBody>,
) -> Result<Json<MemberView>, ApiError> {
    let muted_until_ms = match body.muted_until {
        None => None,
        Some(None) => Some(0),
        Some(Some(text)) => Some(parse_time(&text, "muted_until")?.timestamp_millis()),
    };
    let role = body.role.map(|role| match role {
        AssignableRole::Admin => MemberRole::Admin,
        AssignableRole::Member => MemberRole::Member,
    });
    let request = UpdateMemberRequest {
        conversation_id: id,
        actor_id: me.user_id,
        user_id,
        role: role.map(Into::into),
        muted_until_ms,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move { c.update_member(r).await })
        .await?;
    Ok(Json(MemberView::try_from(required(
        response.member,
        "member",
    )?)?))
}

/// Kick a member (owner or admins), or leave when the member is the caller.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{user_id}", tag = "conversations",
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The member, or the caller to leave"),
    ),
    responses(
        (status = 204, description = "Removed (an owner leaving as the last member dissolves the group)"),
        (status = 403, description = "The caller may not kick that member", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller, or no such member", body = ErrorBody),
        (status = 422, description = "The owner must transfer ownership before leaving (`owner_must_transfer`)", body = ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    me: Principal,
    PathPair(id, user_id): PathPair,
) -> Result<StatusCode, ApiError> {
    let request = RemoveMemberRequest {
        conversation_id: id,
        actor_id: me.user_id,
        user_id,
    };
    state
        .conversation
        .call(request, |mut c, r| async move { c.remove_member(r).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
