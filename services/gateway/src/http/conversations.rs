//! Conversations as their members see them: the one direct conversation of a pair
//! (get-or-create), the caller's list, one conversation, its settings (admins), its
//! dissolution (owner). Groups are created and handed over in `groups.rs`, members
//! managed in `members.rs`.

use super::json::ApiJson;
use super::known_users::require_user;
use super::params::{ApiQuery, PageQuery, PathId, check_id, check_text};
use super::views::{ConversationView, InvitePolicyView, JoinPolicyView, Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    DissolveGroupRequest, GetConversationRequest, GetOrCreateDirectRequest, InvitePolicy,
    JoinPolicy, ListUserConversationsRequest, UpdateConversationRequest,
};
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Far beyond the service's bounds (64 and 2000 characters): refused here without
/// asking it.
pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_ANNOUNCEMENT_CHARS: usize = 8_000;
pub const MAX_AVATAR_CHARS: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(direct_conversation))
        .routes(routes!(list_conversations))
        .routes(routes!(
            get_conversation,
            update_conversation,
            dissolve_conversation
        ))
}

#[derive(Deserialize, ToSchema)]
pub struct UserIdBody {
    pub user_id: String,
}

/// Fields left out stay as they are. Groups only.
#[derive(Deserialize, ToSchema)]
pub struct UpdateConversationBody {
    /// 1 to 64 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// An uploaded file's id; `""` removes the avatar.
    #[serde(default)]
    pub avatar_file_id: Option<String>,
    /// At most 2000 characters.
    #[serde(default)]
    pub announcement: Option<String>,
    #[serde(default)]
    pub invite_policy: Option<InvitePolicyView>,
    #[serde(default)]
    pub join_policy: Option<JoinPolicyView>,
    /// Only the owner and admins may send while set.
    #[serde(default)]
    pub mute_all: Option<bool>,
}

/// The group texts a request may carry, refused when absurdly long.
pub fn check_group_texts(
    name: Option<&str>,
    avatar_file_id: Option<&str>,
    announcement: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(name) = name {
        check_text(name, MAX_NAME_CHARS, "invalid_name")?;
    }
    if let Some(avatar) = avatar_file_id {
        check_text(avatar, MAX_AVATAR_CHARS, "invalid_avatar_file_id")?;
    }
    if let Some(announcement) = announcement {
        check_text(announcement, MAX_ANNOUNCEMENT_CHARS, "invalid_announcement")?;
    }
    Ok(())
}

/// One conversation as `viewer` sees it, with its settings, peer and member count.
pub async fn read_conversation(
    state: &AppState,
    conversation_id: String,
    viewer_id: String,
) -> Result<ConversationView, ApiError> {
    let request = GetConversationRequest {
        conversation_id,
        viewer_id,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.get_conversation(idempotent(r)).await
        })
        .await?;
    ConversationView::new(
        required(response.conversation, "conversation")?,
        response.settings,
        Some(response.peer_id),
        Some(response.member_count),
    )
}

/// The caller's direct conversation with another user, created when missing.
#[utoipa::path(post, path = "/api/v1/conversations/direct", tag = "conversations",
    request_body = UserIdBody,
    responses(
        (status = 200, description = "The existing conversation", body = ConversationView),
        (status = 201, description = "The conversation, created now", body = ConversationView),
        (status = 400, description = "Invalid id, or the caller themself", body = ErrorBody),
        (status = 403, description = "Not allowed (e.g. not contacts, or blocked)", body = ErrorBody),
        (status = 404, description = "No such user (`user_not_found`)", body = ErrorBody),
    ))]
async fn direct_conversation(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<UserIdBody>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    check_id(&body.user_id)?;
    require_user(&state, &body.user_id).await?;
    let request = GetOrCreateDirectRequest {
        user_id: me.user_id,
        peer_id: body.user_id.clone(),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.get_or_create_direct(r).await
        })
        .await?;
    let conversation = required(response.conversation, "conversation")?;
    let view = ConversationView::new(conversation, None, Some(body.user_id), Some(2))?;
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// The caller's conversations, newest activity first, each with its last message and
/// the caller's read position.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of conversations (`settings` and `member_count` are null here)", body = Paged<ConversationView>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
    ))]
async fn list_conversations(
    State(state): State<AppState>,
    me: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<ConversationView>>, ApiError> {
    let request = ListUserConversationsRequest {
        user_id: me.user_id,
        page: Some(query.page()?),
    };
    let mut response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_user_conversations(idempotent(r)).await
        })
        .await?;
    let items = response
        .conversations
        .into_iter()
        .map(|conversation| {
            let peer = response.direct_peers.remove(&conversation.id);
            ConversationView::new(conversation, None, peer, None)
        })
        .collect::<Result<_, _>>()?;
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// One conversation the caller is a member of.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationView),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
    ))]
async fn get_conversation(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
) -> Result<Json<ConversationView>, ApiError> {
    Ok(Json(read_conversation(&state, id, me.user_id).await?))
}

/// Change a group's name, avatar, announcement or settings (owner or admins).
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = UpdateConversationBody,
    responses(
        (status = 200, description = "The updated conversation", body = ConversationView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "The caller is not the owner or an admin", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 422, description = "Not a group", body = ErrorBody),
    ))]
async fn update_conversation(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UpdateConversationBody>,
) -> Result<Json<ConversationView>, ApiError> {
    check_group_texts(
        body.name.as_deref(),
        body.avatar_file_id.as_deref(),
        body.announcement.as_deref(),
    )?;
    let request = UpdateConversationRequest {
        conversation_id: id.clone(),
        actor_id: me.user_id.clone(),
        name: body.name,
        avatar_file_id: body.avatar_file_id,
        announcement: body.announcement,
        invite_policy: body.invite_policy.map(|p| InvitePolicy::from(p).into()),
        join_policy: body.join_policy.map(|p| JoinPolicy::from(p).into()),
        mute_all: body.mute_all,
    };
    let response = state
        .conversation
        .call(
            request,
            |mut c, r| async move { c.update_conversation(r).await },
        )
        .await?;
    Ok(Json(
        after_change(
            &state,
            id,
            me.user_id,
            response.conversation,
            response.settings,
        )
        .await?,
    ))
}

/// The conversation after a change, as the actor sees it. The change's own reply lacks
/// the actor's read position (or the settings); when reading it back fails, that reply
/// is still the truth about the change.
pub async fn after_change(
    state: &AppState,
    id: String,
    actor_id: String,
    changed: Option<im_contracts::v1::Conversation>,
    settings: Option<im_contracts::v1::GroupSettings>,
) -> Result<ConversationView, ApiError> {
    match read_conversation(state, id, actor_id).await {
        Ok(view) => Ok(view),
        Err(error) => {
            tracing::warn!(code = %error.code, "cannot read a conversation back after a change");
            ConversationView::new(required(changed, "conversation")?, settings, None, None)
        }
    }
}

/// Dissolve a group (owner only): every membership ends.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Dissolved"),
        (status = 403, description = "The caller is not the owner", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 422, description = "Not a group", body = ErrorBody),
    ))]
async fn dissolve_conversation(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = DissolveGroupRequest {
        conversation_id: id,
        actor_id: me.user_id,
    };
    state
        .conversation
        .call(request, |mut c, r| async move { c.dissolve_group(r).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
