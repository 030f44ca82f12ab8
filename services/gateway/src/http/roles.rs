//! Role assignments in the admin API, stored by identity's AccessControl. Every
//! signed-in user implicitly holds `user`; other roles are assigned here, and a change
//! is in force on this gateway before the answer (on the others once identity's event
//! reaches them), whatever roles the user's current token names.

use super::json::ApiJson;
use super::params::{ApiQuery, PathPair, check_id};
use super::views::required;
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_access::{IMPLICIT_ROLE, validate_role};
use im_contracts::v1::{
    AssignRoleRequest, ListRoleAssignmentsRequest, RoleAssignment, RoleLink, UnassignRoleRequest,
};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, assign_role))
        .routes(routes!(unassign_role))
}

/// `?role=&user_id=` filters of the assignment list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleQuery {
    /// Only assignments of this role.
    pub role: Option<String>,
    /// Only assignments of this user.
    pub user_id: Option<String>,
}

/// A role held by a user.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RoleAssignmentView {
    #[schema(example = "u-42")]
    pub user_id: String,
    /// 1 to 32 lowercase letters, digits, `_` or `-`; not `user`, which everyone holds.
    #[schema(example = "moderator")]
    pub role: String,
}

impl From<RoleAssignment> for RoleAssignmentView {
    fn from(assignment: RoleAssignment) -> Self {
        Self {
            user_id: assignment.user_id,
            role: assignment.role,
        }
    }
}

/// Role inheritance: `role` has every permission of `parent`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleLinkView {
    #[schema(example = "admin")]
    pub role: String,
    #[schema(example = "user")]
    pub parent: String,
}

impl From<RoleLink> for RoleLinkView {
    fn from(link: RoleLink) -> Self {
        Self {
            role: link.role,
            parent: link.parent,
        }
    }
}

/// The assignments (one page) and the role inheritance they are read with.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleAssignmentsPage {
    pub items: Vec<RoleAssignmentView>,
    pub links: Vec<RoleLinkView>,
    /// Always `null`: every assignment fits one page.
    pub next_cursor: Option<String>,
}

/// A role that may be assigned: valid, and not the implicit one.
fn assignable(role: &str) -> Result<(), ApiError> {
    validate_role(role).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_role", error.to_string())
    })?;
    if role == IMPLICIT_ROLE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "implicit_role",
            format!("every signed-in user holds `{IMPLICIT_ROLE}`; it is not assigned"),
        ));
    }
    Ok(())
}

/// Role assignments, filtered by role or user, with the role inheritance.
#[utoipa::path(get, path = "/api/v1/admin/roles", tag = "admin",
    params(RoleQuery),
    responses(
        (status = 200, description = "The assignments", body = RoleAssignmentsPage),
        (status = 400, description = "`invalid_role` or `invalid_id` filter", body = ErrorBody),
        (status = 403, description = "The caller may not read roles", body = ErrorBody),
    ))]
async fn list_roles(
    State(state): State<AppState>,
    _caller: Principal,
    ApiQuery(query): ApiQuery<RoleQuery>,
) -> Result<Json<RoleAssignmentsPage>, ApiError> {
    let role = query.role.unwrap_or_default();
    if !role.is_empty() {
        validate_role(&role).map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_role", error.to_string())
        })?;
    }
    let user_id = query.user_id.unwrap_or_default();
    if !user_id.is_empty() {
        check_id(&user_id)?;
    }
    let request = ListRoleAssignmentsRequest { role, user_id };
    let response = state
        .identity
        .access(request, |mut c, r| async move {
            c.list_role_assignments(idempotent(r)).await
        })
        .await?;
    Ok(Json(RoleAssignmentsPage {
        items: response.assignments.into_iter().map(Into::into).collect(),
        links: response.links.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Assign a role to a user; it applies from the user's next request on this gateway.
#[utoipa::path(post, path = "/api/v1/admin/roles", tag = "admin",
    request_body = RoleAssignmentView,
    responses(
        (status = 201, description = "The assignment", body = RoleAssignmentView),
        (status = 400, description = "`invalid_role`, `implicit_role` or `invalid_id`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 409, description = "`role_assigned`: the user already holds it", body = ErrorBody),
    ))]
async fn assign_role(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<RoleAssignmentView>,
) -> Result<(StatusCode, Json<RoleAssignmentView>), ApiError> {
    assignable(&body.role)?;
    check_id(&body.user_id)?;
    let request = AssignRoleRequest {
        user_id: body.user_id,
        role: body.role,
        actor_id: caller.user_id,
    };
    let response = state
        .identity
        .access(request, |mut c, r| async move { c.assign_role(r).await })
        .await?;
    let assignment = required(response.assignment, "assignment")?;
    state.reload_access().await;
    Ok((StatusCode::CREATED, Json(assignment.into())))
}

/// Take a role from a user; it no longer applies from the user's next request here.
#[utoipa::path(delete, path = "/api/v1/admin/roles/{role}/members/{user_id}", tag = "admin",
    params(
        ("role" = String, Path, description = "Role name"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_role` or `implicit_role`", body = ErrorBody),
        (status = 404, description = "`role_not_assigned`", body = ErrorBody),
    ))]
async fn unassign_role(
    State(state): State<AppState>,
    caller: Principal,
    PathPair(role, user_id): PathPair,
) -> Result<StatusCode, ApiError> {
    assignable(&role)?;
    let request = UnassignRoleRequest {
        user_id,
        role,
        actor_id: caller.user_id,
    };
    state
        .identity
        .access(request, |mut c, r| async move { c.unassign_role(r).await })
        .await?;
    state.reload_access().await;
    Ok(StatusCode::NO_CONTENT)
}
