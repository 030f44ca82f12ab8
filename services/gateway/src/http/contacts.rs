//! The caller's contact list: read it (with each contact's public profile), set the
//! private remark on a contact, remove a contact (on both sides).

use super::json::ApiJson;
use super::known_users::profiles_if_available;
use super::params::{ApiQuery, PageQuery, PathId, check_text};
use super::views::{ContactView, Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{Contact, DeleteContactRequest, ListContactsRequest, UpdateContactRequest};
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Far beyond the service's bound (64): refused here without asking it.
const MAX_REMARK_CHARS: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts))
        .routes(routes!(update_contact, delete_contact))
}

#[derive(Deserialize, ToSchema)]
pub struct ContactBody {
    /// The caller's private name for the contact, at most 64 characters; `""` clears it.
    pub remark: String,
}

/// Contacts with their profiles, which identity may fail to give (then `user` is null).
async fn with_profiles(state: &AppState, contacts: Vec<Contact>) -> Vec<ContactView> {
    let ids: Vec<String> = contacts.iter().map(|c| c.user_id.clone()).collect();
    let mut profiles = profiles_if_available(state, &ids).await;
    contacts
        .into_iter()
        .map(|contact| {
            let user = profiles.remove(&contact.user_id);
            ContactView::new(contact, user)
        })
        .collect()
}

/// The caller's contacts, each with its public profile.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of contacts", body = Paged<ContactView>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 503, description = "The conversation service is down", body = ErrorBody),
    ))]
async fn list_contacts(
    State(state): State<AppState>,
    me: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<ContactView>>, ApiError> {
    let request = ListContactsRequest {
        user_id: me.user_id,
        page: Some(query.page()?),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_contacts(idempotent(r)).await
        })
        .await?;
    let items = with_profiles(&state, response.contacts).await;
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// Set the caller's remark on a contact.
#[utoipa::path(patch, path = "/api/v1/contacts/{user_id}", tag = "contacts",
    params(("user_id" = String, Path, description = "The contact's user id")),
    request_body = ContactBody,
    responses(
        (status = 200, description = "The contact", body = ContactView),
        (status = 400, description = "Invalid remark", body = ErrorBody),
        (status = 404, description = "Not a contact of the caller", body = ErrorBody),
    ))]
async fn update_contact(
    State(state): State<AppState>,
    me: Principal,
    PathId(contact_id): PathId,
    ApiJson(body): ApiJson<ContactBody>,
) -> Result<Json<ContactView>, ApiError> {
    check_text(&body.remark, MAX_REMARK_CHARS, "invalid_remark")?;
    let request = UpdateContactRequest {
        user_id: me.user_id,
        contact_id,
        remark: body.remark,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move { c.update_contact(r).await })
        .await?;
    let contact = required(response.contact, "contact")?;
    let user = profiles_if_available(&state, std::slice::from_ref(&contact.user_id))
        .await
        .remove(&contact.user_id);
    Ok(Json(ContactView::new(contact, user)))
}

/// Remove a contact; neither keeps the other.
#[utoipa::path(delete, path = "/api/v1/contacts/{user_id}", tag = "contacts",
    params(("user_id" = String, Path, description = "The contact's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not a contact of the caller", body = ErrorBody),
    ))]
async fn delete_contact(
    State(state): State<AppState>,
    me: Principal,
    PathId(contact_id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = DeleteContactRequest {
        user_id: me.user_id,
        contact_id,
    };
    state
        .conversation
        .call(request, |mut c, r| async move { c.delete_contact(r).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
