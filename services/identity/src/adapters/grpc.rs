//! The `im.v1.Identity` gRPC service: decodes requests, calls the use cases, encodes
//! replies, and maps every [`AppError`] to a status with a stable snake_case code — in
//! this one place, which `im.v1.AccessControl` (`grpc_access`) shares.

use super::wire;
use crate::app::{App, AppError, LoginCommand, PageRequest, RefreshCommand, TokenInfo};
use crate::domain::ValidationError;
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::identity_server::Identity;
use im_runtime::errors::{status, with_retry_after};
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};

pub struct IdentityGrpc<P: Ports> {
    app: Arc<App<P>>,
}

impl<P: Ports> IdentityGrpc<P> {
    pub fn new(app: Arc<App<P>>) -> Self {
        Self { app }
    }
}

pub(super) type Reply<T> = Result<Response<T>, Status>;

fn validation_code(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::Username => "invalid_username",
        ValidationError::Password => "invalid_password",
        ValidationError::DisplayName => "invalid_display_name",
        ValidationError::Bio => "invalid_bio",
        ValidationError::AvatarFileId => "invalid_avatar_file_id",
        ValidationError::DeviceId => "invalid_device_id",
        ValidationError::ClientIp => "invalid_client_ip",
        ValidationError::Reason => "invalid_reason",
        ValidationError::Cidr => "invalid_cidr",
        ValidationError::Until => "invalid_until",
        ValidationError::ActorId => "invalid_actor_id",
        ValidationError::Policy(_) => "invalid_policy",
        ValidationError::Role => "invalid_role",
        ValidationError::ImplicitRole => "implicit_role",
    }
}

/// The one mapping from use-case errors to gRPC statuses (of both identity services).
pub(super) fn to_status(error: AppError) -> Status {
    let message = error.to_string();
    match error {
        AppError::Invalid(invalid) => {
            status(Code::InvalidArgument, validation_code(&invalid), message)
        }
        AppError::UsernameTaken => status(Code::AlreadyExists, "username_taken", message),
        AppError::InvalidCredentials => {
            status(Code::Unauthenticated, "invalid_credentials", message)
        }
        AppError::TooManyAttempts { retry_after_s } => with_retry_after(
            status(Code::ResourceExhausted, "too_many_attempts", message),
            retry_after_s,
        ),
        AppError::UserBanned => status(Code::PermissionDenied, "user_banned", message),
        AppError::InvalidRefreshToken => {
            status(Code::Unauthenticated, "invalid_refresh_token", message)
        }
        AppError::RefreshTokenReused => {
            status(Code::Unauthenticated, "refresh_token_reused", message)
        }
        AppError::WrongPassword => status(Code::PermissionDenied, "wrong_password", message),
        AppError::UserNotFound => status(Code::NotFound, "user_not_found", message),
        AppError::SessionNotFound => status(Code::NotFound, "session_not_found", message),
        AppError::BanNotFound => status(Code::NotFound, "ban_not_found", message),
        AppError::IpBlockExists => status(Code::AlreadyExists, "ip_block_exists", message),
        AppError::IpBlockNotFound => status(Code::NotFound, "ip_block_not_found", message),
        AppError::PolicyExists => status(Code::AlreadyExists, "policy_exists", message),
        AppError::PolicyNotFound => status(Code::NotFound, "policy_not_found", message),
        AppError::RoleAssigned => status(Code::AlreadyExists, "role_assigned", message),
        AppError::RoleNotAssigned => status(Code::NotFound, "role_not_assigned", message),
        AppError::InvalidCursor => status(Code::InvalidArgument, "invalid_cursor", message),
        AppError::TooManyIds { .. } => status(Code::InvalidArgument, "too_many_ids", message),
        AppError::Unexpected(error) => im_runtime::errors::unexpected("identity", &error),
    }
}

pub(super) fn reply<T, U>(result: Result<T, AppError>, encode: impl FnOnce(T) -> U) -> Reply<U> {
    result
        .map(|value| Response::new(encode(value)))
        .map_err(to_status)
}

fn page(page: Option<pb::Page>) -> PageRequest {
    let page = page.unwrap_or_default();
    PageRequest {
        limit: page.limit,
        cursor: page.cursor,
    }
}

fn page_info(next_cursor: Option<String>) -> Option<pb::PageInfo> {
    Some(pb::PageInfo {
        next_cursor: next_cursor.unwrap_or_default(),
    })
}

#[tonic::async_trait]
impl<P: Ports> Identity for IdentityGrpc<P> {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .register(&r.username, &r.password, &r.display_name)
            .await;
        reply(result, |user| pb::RegisterResponse {
            user: Some(wire::user(user)),
        })
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .login(LoginCommand {
                username: &r.username,
                password: &r.password,
                device_id: &r.device_id,
                client_ip: &r.client_ip,
                user_agent: &r.user_agent,
            })
            .await;
        reply(result, |pair| pb::LoginResponse {
            tokens: Some(wire::token_pair(pair)),
        })
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::RefreshResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .refresh(RefreshCommand {
                refresh_token: &r.refresh_token,
                client_ip: &r.client_ip,
                user_agent: &r.user_agent,
            })
            .await;
        reply(result, |pair| pb::RefreshResponse {
            tokens: Some(wire::token_pair(pair)),
        })
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        let r = request.into_inner();
        let result = self.app.logout(&r.user_id, &r.session_id).await;
        reply(result, |()| pb::LogoutResponse {})
    }

    async fn verify_token(
        &self,
        request: Request<pb::VerifyTokenRequest>,
    ) -> Reply<pb::VerifyTokenResponse> {
        let result = self
            .app
            .verify_token(&request.into_inner().access_token)
            .await;
        reply(result, |info| match info {
            Some(info) => pb::VerifyTokenResponse {
                active: true,
                user_id: info.user_id.as_str().to_owned(),
                session_id: info.session_id.as_str().to_owned(),
                roles: info.roles,
                expires_at_ms: info.expires_at_ms,
            },
            None => pb::VerifyTokenResponse::default(),
        })
    }

    async fn introspect(
        &self,
        request: Request<pb::IntrospectRequest>,
    ) -> Reply<pb::IntrospectResponse> {
        let result = self.app.introspect(&request.into_inner().token).await;
        reply(result, |info: Option<TokenInfo>| match info {
            Some(info) => pb::IntrospectResponse {
                active: true,
                token_type: info.token_type.to_owned(),
                user_id: info.user_id.as_str().to_owned(),
                session_id: info.session_id.as_str().to_owned(),
                roles: info.roles,
                expires_at_ms: info.expires_at_ms,
                issued_at_ms: info.issued_at_ms,
            },
            None => pb::IntrospectResponse::default(),
        })
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> Reply<pb::GetJwksResponse> {
        let result = self.app.jwks_json().await;
        reply(result, |jwks_json| pb::GetJwksResponse { jwks_json })
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::GetUserResponse> {
        let result = self.app.get_user(&request.into_inner().user_id).await;
        reply(result, |user| pb::GetUserResponse {
            user: Some(wire::user(user)),
        })
    }

    async fn get_users(
        &self,
        request: Request<pb::GetUsersRequest>,
    ) -> Reply<pb::GetUsersResponse> {
        let result = self.app.get_users(&request.into_inner().user_ids).await;
        reply(result, |users| pb::GetUsersResponse {
            users: users.into_iter().map(wire::user).collect(),
        })
    }

    async fn search_users(
        &self,
        request: Request<pb::SearchUsersRequest>,
    ) -> Reply<pb::SearchUsersResponse> {
        let r = request.into_inner();
        let result = self.app.search_users(&r.prefix, &page(r.page)).await;
        reply(result, |found| pb::SearchUsersResponse {
            users: found.items.into_iter().map(wire::user).collect(),
            page_info: page_info(found.next_cursor),
        })
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Reply<pb::UpdateProfileResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .update_profile(
                &r.user_id,
                r.display_name.as_deref(),
                r.avatar_file_id.as_deref(),
                r.bio.as_deref(),
            )
            .await;
        reply(result, |user| pb::UpdateProfileResponse {
            user: Some(wire::user(user)),
        })
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Reply<pb::ChangePasswordResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .change_password(
                &r.user_id,
                &r.old_password,
                &r.new_password,
                &r.current_session_id,
            )
            .await;
        reply(result, |revoked_sessions| pb::ChangePasswordResponse {
            revoked_sessions,
        })
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Reply<pb::DeleteUserResponse> {
        let r = request.into_inner();
        let result = self.app.delete_user(&r.user_id, &r.password).await;
        reply(result, |()| pb::DeleteUserResponse {})
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Reply<pb::ListSessionsResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .list_sessions(&r.user_id, &r.current_session_id)
            .await;
        reply(result, |sessions| pb::ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|(session, current)| wire::session(session, current))
                .collect(),
        })
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Reply<pb::RevokeSessionResponse> {
        let r = request.into_inner();
        let result = self.app.revoke_session(&r.user_id, &r.session_id).await;
        reply(result, |()| pb::RevokeSessionResponse {})
    }

    async fn ban_user(&self, request: Request<pb::BanUserRequest>) -> Reply<pb::BanUserResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .ban_user(&r.user_id, &r.reason, r.until_ms, &r.actor_id)
            .await;
        reply(result, |ban| pb::BanUserResponse {
            ban: Some(wire::ban(ban)),
        })
    }

    async fn unban_user(
        &self,
        request: Request<pb::UnbanUserRequest>,
    ) -> Reply<pb::UnbanUserResponse> {
        let r = request.into_inner();
        let result = self.app.unban_user(&r.user_id, &r.actor_id).await;
        reply(result, |()| pb::UnbanUserResponse {})
    }

    async fn list_bans(
        &self,
        request: Request<pb::ListBansRequest>,
    ) -> Reply<pb::ListBansResponse> {
        let result = self.app.list_bans(&page(request.into_inner().page)).await;
        reply(result, |bans| pb::ListBansResponse {
            bans: bans.items.into_iter().map(wire::ban).collect(),
            page_info: page_info(bans.next_cursor),
        })
    }

    async fn block_ip(&self, request: Request<pb::BlockIpRequest>) -> Reply<pb::BlockIpResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .block_ip(&r.cidr, &r.reason, r.until_ms, &r.actor_id)
            .await;
        reply(result, |block| pb::BlockIpResponse {
            ip_block: Some(wire::ip_block(block)),
        })
    }

    async fn unblock_ip(
        &self,
        request: Request<pb::UnblockIpRequest>,
    ) -> Reply<pb::UnblockIpResponse> {
        let r = request.into_inner();
        let result = self.app.unblock_ip(&r.id, &r.actor_id).await;
        reply(result, |()| pb::UnblockIpResponse {})
    }

    async fn list_ip_blocks(
        &self,
        _request: Request<pb::ListIpBlocksRequest>,
    ) -> Reply<pb::ListIpBlocksResponse> {
        let result = self.app.list_ip_blocks().await;
        reply(result, |blocks| pb::ListIpBlocksResponse {
            ip_blocks: blocks.into_iter().map(wire::ip_block).collect(),
        })
    }

    async fn get_denylist(
        &self,
        _request: Request<pb::GetDenylistRequest>,
    ) -> Reply<pb::GetDenylistResponse> {
        let result = self.app.denylist().await;
        reply(result, |denylist| pb::GetDenylistResponse {
            bans: denylist.bans.into_iter().map(wire::ban).collect(),
            ip_blocks: denylist.ip_blocks.into_iter().map(wire::ip_block).collect(),
            revoked_sessions: denylist
                .revoked_sessions
                .into_iter()
                .map(wire::revoked_session)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_runtime::errors::{error_code, retry_after};

    #[test]
    fn bad_input_is_never_internal() {
        for invalid in [
            ValidationError::Username,
            ValidationError::Password,
            ValidationError::Cidr,
            ValidationError::Until,
            ValidationError::Role,
            ValidationError::Policy(im_access::RuleError::InvalidEffect),
        ] {
            let status = to_status(invalid.into());
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(error_code(&status).is_some_and(|code| code.starts_with("invalid_")));
        }
        let status = to_status(ValidationError::ImplicitRole.into());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(error_code(&status), Some("implicit_role"));
        // a refused rule says what is wrong with it
        let status =
            to_status(ValidationError::Policy(im_access::RuleError::InvalidSubject).into());
        assert_eq!(
            status.message(),
            im_access::RuleError::InvalidSubject.to_string()
        );

        let status = to_status(AppError::TooManyAttempts { retry_after_s: 900 });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(retry_after(&status), Some(900));
    }

    #[test]
    fn an_unreachable_database_is_unavailable_and_details_stay_inside() {
        let down = anyhow::Error::new(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ))
        .context("load user");
        let status = to_status(AppError::Unexpected(down));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(retry_after(&status).is_some_and(|seconds| seconds > 0));

        let bug = to_status(AppError::Unexpected(anyhow::anyhow!("secret detail")));
        assert_eq!(bug.code(), Code::Internal);
        assert!(!bug.message().contains("secret"));
    }
}
