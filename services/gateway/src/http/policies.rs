//! Access policies (Casbin rules) in the admin API, stored by identity's AccessControl.
//! A rule is checked here first (`im-access`), so a malformed pattern is a 400
//! `invalid_policy` before identity is asked; a change is in force on this gateway
//! before the answer, on the others once identity's event reaches them.

use super::json::ApiJson;
use super::params::PathId;
use super::views::{Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use crate::authz::effect_text;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_access::{Effect, Rule};
use im_contracts::v1::{
    AddPolicyRequest, ListPoliciesRequest, Policy, PolicyEffect, RemovePolicyRequest,
};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, add_policy))
        .routes(routes!(remove_policy))
}

/// A rule to add.
#[derive(Deserialize, ToSchema)]
pub struct PolicyBody {
    /// A role name or a user id.
    #[schema(example = "moderator")]
    pub subject: String,
    /// Path pattern: a regular expression matched against the whole path. A `:name`
    /// segment matches one path segment; a trailing `/*` matches everything below.
    #[schema(example = "/api/v1/admin/users/:id/ban")]
    pub object: String,
    /// Method pattern: a regular expression matched against the whole method.
    #[schema(example = "POST|DELETE")]
    pub action: String,
    /// `allow` or `deny`; a matching deny overrides any allow.
    #[schema(example = "allow")]
    pub effect: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEffectView {
    Allow,
    Deny,
}

/// A stored rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    /// A role name or a user id.
    pub subject: String,
    /// Path pattern (regular expression, `:name` and trailing `/*` allowed).
    pub object: String,
    /// Method pattern (regular expression).
    pub action: String,
    pub effect: PolicyEffectView,
}

impl PolicyView {
    /// `None` for a policy without a known effect (identity's bug, logged).
    fn from_policy(policy: Policy) -> Option<Self> {
        let effect = match effect_text(&policy) {
            "allow" => PolicyEffectView::Allow,
            "deny" => PolicyEffectView::Deny,
            _ => {
                tracing::error!(id = %policy.id, "identity sent a policy without an effect");
                return None;
            }
        };
        Some(Self {
            id: policy.id,
            subject: policy.subject,
            object: policy.object,
            action: policy.action,
            effect,
        })
    }
}

fn invalid_policy(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_policy", message)
}

/// Every access rule, in one page.
#[utoipa::path(get, path = "/api/v1/admin/policies", tag = "admin",
    responses(
        (status = 200, description = "Every rule (one page)", body = Paged<PolicyView>),
        (status = 403, description = "The caller may not read rules", body = ErrorBody),
    ))]
async fn list_policies(
    State(state): State<AppState>,
    _caller: Principal,
) -> Result<Json<Paged<PolicyView>>, ApiError> {
    let response = state
        .identity
        .access(ListPoliciesRequest {}, |mut c, r| async move {
            c.list_policies(idempotent(r)).await
        })
        .await?;
    let items = response
        .policies
        .into_iter()
        .filter_map(PolicyView::from_policy)
        .collect();
    Ok(Json(Paged::new(items, None)))
}

/// Add an access rule; it is in force on this gateway when this answers.
#[utoipa::path(post, path = "/api/v1/admin/policies", tag = "admin",
    request_body = PolicyBody,
    responses(
        (status = 201, description = "The stored rule", body = PolicyView),
        (status = 400, description = "`invalid_policy`: a pattern does not compile, or the subject or effect is not valid", body = ErrorBody),
        (status = 409, description = "`policy_exists`: the same rule is already stored", body = ErrorBody),
    ))]
async fn add_policy(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<(StatusCode, Json<PolicyView>), ApiError> {
    let rule = Rule::parse(&body.subject, &body.object, &body.action, &body.effect)
        .map_err(|error| invalid_policy(error.to_string()))?;
    let request = AddPolicyRequest {
        subject: rule.subject,
        object: rule.object,
        action: rule.action,
        effect: match rule.effect {
            Effect::Allow => PolicyEffect::Allow,
            Effect::Deny => PolicyEffect::Deny,
        }
        .into(),
        actor_id: caller.user_id,
    };
    let response = state
        .identity
        .access(request, |mut c, r| async move { c.add_policy(r).await })
        .await?;
    let policy = required(response.policy, "policy")?;
    state.reload_access().await;
    let view = required(PolicyView::from_policy(policy), "policy.effect")?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Remove an access rule; it is out of force on this gateway when this answers.
#[utoipa::path(delete, path = "/api/v1/admin/policies/{id}", tag = "admin",
    params(("id" = String, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`policy_not_found`", body = ErrorBody),
    ))]
async fn remove_policy(
    State(state): State<AppState>,
    caller: Principal,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = RemovePolicyRequest {
        id,
        actor_id: caller.user_id,
    };
    state
        .identity
        .access(request, |mut c, r| async move { c.remove_policy(r).await })
        .await?;
    state.reload_access().await;
    Ok(StatusCode::NO_CONTENT)
}
