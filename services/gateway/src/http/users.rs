//! Profiles: one's own (read, update, password, delete) and other users' (read, search).

use super::json::ApiJson;
use super::params::{ApiQuery, PathId, SearchQuery};
use super::views::{Paged, UserView, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    ChangePasswordRequest, DeleteUserRequest, GetUserRequest, SearchUsersRequest,
    UpdateProfileRequest,
};
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me, delete_me))
        .routes(routes!(change_password))
        .routes(routes!(get_user))
        .routes(routes!(search_users))
}

/// Fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateProfileBody {
    #[serde(default)]
    pub display_name: Option<String>,
    /// An uploaded file's id; `""` removes the avatar.
    #[serde(default)]
    pub avatar_file_id: Option<String>,
    #[serde(default)]
    pub bio: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountBody {
    /// The account's password, to confirm.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    pub old_password: String,
    pub new_password: String,
}

async fn fetch_user(state: &AppState, user_id: String) -> Result<im_contracts::v1::User, ApiError> {
    let response = state
        .identity
        .call(GetUserRequest { user_id }, |mut c, r| async move {
            c.get_user(idempotent(r)).await
        })
        .await?;
    required(response.user, "user")
}

/// The caller's own profile, with roles.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    responses(
        (status = 200, description = "The caller's profile", body = UserView),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
async fn get_me(State(state): State<AppState>, me: Principal) -> Result<Json<UserView>, ApiError> {
    let user = fetch_user(&state, me.user_id).await?;
    Ok(Json(UserView::private(user)))
}

/// Update the caller's profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users",
    request_body = UpdateProfileBody,
    responses(
        (status = 200, description = "The updated profile", body = UserView),
        (status = 400, description = "Invalid field", body = ErrorBody),
    ))]
async fn update_me(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<UpdateProfileBody>,
) -> Result<Json<UserView>, ApiError> {
    let request = UpdateProfileRequest {
        user_id: me.user_id,
        display_name: body.display_name,
        avatar_file_id: body.avatar_file_id,
        bio: body.bio,
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move { c.update_profile(r).await })
        .await?;
    Ok(Json(UserView::private(required(response.user, "user")?)))
}

/// Delete the caller's account (password required); every session is revoked.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users",
    request_body = DeleteAccountBody,
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Wrong password or no valid access token", body = ErrorBody),
    ))]
async fn delete_me(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<DeleteAccountBody>,
) -> Result<StatusCode, ApiError> {
    let request = DeleteUserRequest {
        user_id: me.user_id.clone(),
        password: body.password,
    };
    state
        .identity
        .call(request, |mut c, r| async move { c.delete_user(r).await })
        .await?;
    state.revoke_locally(&me.user_id, &me.session_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Change the caller's password; the caller's other sessions are revoked.
#[utoipa::path(put, path = "/api/v1/users/me/password", tag = "users",
    request_body = ChangePasswordBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "The new password is not acceptable", body = ErrorBody),
        (status = 401, description = "Wrong old password or no valid access token", body = ErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    let request = ChangePasswordRequest {
        user_id: me.user_id,
        old_password: body.old_password,
        new_password: body.new_password,
        current_session_id: me.session_id,
    };
    state
        .identity
        .call(
            request,
            |mut c, r| async move { c.change_password(r).await },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's public profile.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The profile", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _caller: Principal,
    PathId(id): PathId,
) -> Result<Json<UserView>, ApiError> {
    let user = fetch_user(&state, id).await?;
    Ok(Json(UserView::public(user)))
}

/// Search users by username or display name prefix.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of public profiles", body = Paged<UserView>),
        (status = 400, description = "Invalid limit, cursor or query", body = ErrorBody),
    ))]
async fn search_users(
    State(state): State<AppState>,
    _caller: Principal,
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
    let items = response.users.into_iter().map(UserView::public).collect();
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}
