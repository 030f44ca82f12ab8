//! A group's ownership: creating one (the caller is its owner, the members named must be
//! real users) and handing it to another member.

use super::conversations::{UserIdBody, after_change, check_group_texts};
use super::json::ApiJson;
use super::known_users::require_users;
use super::params::{PathId, check_id, check_ids};
use super::views::{ConversationView, InvitePolicyView, JoinPolicyView, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    CreateGroupRequest, GroupSettings, InvitePolicy, JoinPolicy, TransferOwnershipRequest,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The most user ids one request may name (the default member limit of a group).
pub const MAX_USER_IDS: usize = 2_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group))
        .routes(routes!(transfer_ownership))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateGroupBody {
    /// 1 to 64 characters.
    pub name: String,
    /// The first members besides the caller (at most 2000; repeats and the caller are
    /// ignored).
    #[serde(default)]
    pub member_ids: Vec<String>,
    #[serde(default)]
    pub avatar_file_id: Option<String>,
    #[serde(default)]
    pub announcement: Option<String>,
    /// Defaults: any member invites, join by invitation only, nobody muted.
    #[serde(default)]
    pub settings: Option<GroupSettingsBody>,
}

/// The rules of a new group; each left out takes its default.
#[derive(Deserialize, ToSchema)]
pub struct GroupSettingsBody {
    /// `any_member` (default) or `admins_only`.
    #[serde(default)]
    pub invite_policy: Option<InvitePolicyView>,
    /// `open`, `approval` or `invite_only` (default).
    #[serde(default)]
    pub join_policy: Option<JoinPolicyView>,
    #[serde(default)]
    pub mute_all: bool,
}

impl From<GroupSettingsBody> for GroupSettings {
    fn from(body: GroupSettingsBody) -> Self {
        Self {
            invite_policy: body
                .invite_policy
                .map_or(InvitePolicy::Unspecified, InvitePolicy::from)
                .into(),
            join_policy: body
                .join_policy
                .map_or(JoinPolicy::Unspecified, JoinPolicy::from)
                .into(),
            mute_all: body.mute_all,
        }
    }
}

/// Create a group owned by the caller.
#[utoipa::path(post, path = "/api/v1/groups", tag = "conversations",
    request_body = CreateGroupBody,
    responses(
        (status = 201, description = "The group", body = ConversationView),
        (status = 400, description = "Invalid name, id, setting, or too many users", body = ErrorBody),
        (status = 404, description = "A member id is not a user (`user_not_found`)", body = ErrorBody),
        (status = 422, description = "Over the member limit (`member_limit`)", body = ErrorBody),
    ))]
async fn create_group(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<CreateGroupBody>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    check_group_texts(
        Some(&body.name),
        body.avatar_file_id.as_deref(),
        body.announcement.as_deref(),
    )?;
    check_ids(&body.member_ids, MAX_USER_IDS)?;
    let others: Vec<String> = body
        .member_ids
        .iter()
        .filter(|id| **id != me.user_id)
        .cloned()
        .collect();
    require_users(&state, &others).await?;
    let request = CreateGroupRequest {
        owner_id: me.user_id,
        name: body.name,
        member_ids: body.member_ids,
        avatar_file_id: body.avatar_file_id.unwrap_or_default(),
        announcement: body.announcement.unwrap_or_default(),
        settings: body.settings.map(GroupSettings::from),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move { c.create_group(r).await })
        .await?;
    let members = u32::try_from(response.members.len()).unwrap_or(u32::MAX);
    let view = ConversationView::new(
        required(response.conversation, "conversation")?,
        response.settings,
        None,
        Some(members),
    )?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Hand the group to another member (owner only); the caller becomes an admin.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/transfer", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = UserIdBody,
    responses(
        (status = 200, description = "The conversation with its new owner", body = ConversationView),
        (status = 400, description = "Invalid id, or the caller themself", body = ErrorBody),
        (status = 403, description = "The caller is not the owner", body = ErrorBody),
        (status = 404, description = "No such conversation, or the user is not a member", body = ErrorBody),
    ))]
async fn transfer_ownership(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UserIdBody>,
) -> Result<Json<ConversationView>, ApiError> {
    check_id(&body.user_id)?;
    let request = TransferOwnershipRequest {
        conversation_id: id.clone(),
        actor_id: me.user_id.clone(),
        new_owner_id: body.user_id,
    };
    let response = state
        .conversation
        .call(
            request,
            |mut c, r| async move { c.transfer_ownership(r).await },
        )
        .await?;
    Ok(Json(
        after_change(&state, id, me.user_id, response.conversation, None).await?,
    ))
}
