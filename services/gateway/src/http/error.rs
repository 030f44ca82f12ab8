//! The one error type of the public API: `{"error":{"code":"…","message":"…"}}` with the
//! right status, as API.md prescribes, plus the mapping of downstream gRPC statuses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use im_runtime::ServiceName;
use im_runtime::errors::{error_code, retry_after};
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;
use tonic::{Code, Status};
use utoipa::ToSchema;

/// Seconds a client should wait after a 429 that carried no hint.
const DEFAULT_RATE_LIMIT_RETRY_S: u64 = 1;
/// Seconds a client should wait after a 503 that carried no hint.
const DEFAULT_UNAVAILABLE_RETRY_S: u64 = 5;
/// Seconds a client should wait after losing to concurrent writes, without a hint.
const DEFAULT_CONTENTION_RETRY_S: u64 = 1;
/// Seconds a client should wait after being shed: requests finish in milliseconds, so
/// room is usually back by then.
const OVERLOADED_RETRY_S: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, snake_case, for programs.
    pub code: Cow<'static, str>,
    /// For people.
    pub message: String,
    /// `Retry-After` seconds (429 and 503).
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `invalid_token`, `username_taken`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
    }

    /// 400 with `invalid_request`: the input is well-formed but not acceptable.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 503 `<service>_unavailable` with a `Retry-After`.
    pub fn unavailable(service: ServiceName, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}_unavailable", service.config_key()),
            message,
        )
        .with_retry_after(DEFAULT_UNAVAILABLE_RETRY_S)
    }

    /// 429 `rate_limited`: the caller may retry after `wait`, announced in whole seconds
    /// rounded up (at least 1).
    pub fn rate_limited(wait: Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        )
        .with_retry_after(seconds.max(1))
    }

    /// 503 `overloaded`: this gateway serves as many requests as it can at once.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is overloaded; retry later",
        )
        .with_retry_after(OVERLOADED_RETRY_S)
    }

    /// Maps a status from `service` once, for every route: its code becomes the HTTP
    /// status, the snake_case code it attached (if any) becomes ours. Server-side
    /// failures are logged and answered without their details.
    ///
    /// Two transient cases answer 503 with `Retry-After`, so clients retry both alike:
    /// `service` unreachable, overloaded or too slow (`<service>_unavailable`, whatever
    /// code it attached), and a write that lost to concurrent writes more often than the
    /// service retries (`Aborted`, code `contention` unless it named another).
    pub fn from_status(service: ServiceName, status: &Status) -> Self {
        let (http, fallback_code) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "forbidden"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "conflict"),
            Code::FailedPrecondition => (StatusCode::UNPROCESSABLE_ENTITY, "rule_violation"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Code::Aborted => (StatusCode::SERVICE_UNAVAILABLE, "contention"),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                tracing::warn!(%service, code = ?status.code(), message = status.message(), "downstream unavailable");
                let retry = retry_after(status).unwrap_or(DEFAULT_UNAVAILABLE_RETRY_S);
                return Self::unavailable(
                    service,
                    format!("{service} is unavailable, retry later"),
                )
                .with_retry_after(retry);
            }
            Code::Ok | Code::Unknown | Code::Internal | Code::Unimplemented | Code::DataLoss => {
                tracing::error!(%service, code = ?status.code(), message = status.message(), "downstream failed");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                );
            }
        };
        let code = error_code(status).map_or(Cow::Borrowed(fallback_code), |code| {
            Cow::Owned(code.to_owned())
        });
        let mut error = Self::new(http, code, status.message());
        if http == StatusCode::TOO_MANY_REQUESTS {
            error.retry_after = Some(retry_after(status).unwrap_or(DEFAULT_RATE_LIMIT_RETRY_S));
        }
        if http == StatusCode::SERVICE_UNAVAILABLE {
            error.retry_after = Some(retry_after(status).unwrap_or(DEFAULT_CONTENTION_RETRY_S));
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let challenge = (self.status == StatusCode::UNAUTHORIZED).then(|| {
            // RFC 6750: a 401 names the scheme; a rejected token says why.
            match self.code.as_ref() {
                "missing_token" => HeaderValue::from_static("Bearer realm=\"im\""),
                "invalid_token" | "session_revoked" => {
                    HeaderValue::from_static("Bearer realm=\"im\", error=\"invalid_token\"")
                }
                _ => HeaderValue::from_static("Bearer realm=\"im\""),
            }
        });
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use im_runtime::errors::{status, with_retry_after};

    fn map(status: &Status) -> ApiError {
        ApiError::from_status(ServiceName::Identity, status)
    }

    #[test]
    fn grpc_codes_become_http_statuses_with_the_downstream_code() {
        let cases = [
            (Code::InvalidArgument, StatusCode::BAD_REQUEST),
            (Code::Unauthenticated, StatusCode::UNAUTHORIZED),
            (Code::PermissionDenied, StatusCode::FORBIDDEN),
            (Code::NotFound, StatusCode::NOT_FOUND),
            (Code::AlreadyExists, StatusCode::CONFLICT),
            (Code::FailedPrecondition, StatusCode::UNPROCESSABLE_ENTITY),
        ];
        for (code, http) in cases {
            let error = map(&status(code, "some_code", "why"));
            assert_eq!((error.status, error.code.as_ref()), (http, "some_code"));
            assert_eq!(error.message, "why");
            assert_eq!(error.retry_after, None);
        }
        assert_eq!(map(&Status::not_found("x")).code, "not_found");
    }

    #[test]
    fn rate_limits_and_outages_carry_retry_after() {
        let limited = map(&with_retry_after(
            status(Code::ResourceExhausted, "too_many_attempts", "slow down"),
            30,
        ));
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.retry_after, Some(30));
        assert_eq!(
            map(&Status::resource_exhausted("x")).retry_after,
            Some(DEFAULT_RATE_LIMIT_RETRY_S)
        );
        for status in [
            Status::unavailable("down"),
            Status::deadline_exceeded("slow"),
        ] {
            let error = map(&status);
            assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(error.code, "identity_unavailable");
            assert!(error.retry_after.is_some());
        }
    }

    #[test]
    fn outages_name_the_dependency_whatever_code_it_attached() {
        let down = with_retry_after(status(Code::Unavailable, "unavailable", "database down"), 2);
        let error = ApiError::from_status(ServiceName::Conversation, &down);
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code, "conversation_unavailable");
        assert_eq!(error.retry_after, Some(2));
    }

    #[test]
    fn contention_is_a_503_to_retry() {
        let lost = with_retry_after(status(Code::Aborted, "contention", "busy"), 1);
        let error = ApiError::from_status(ServiceName::Conversation, &lost);
        assert_eq!(
            (error.status, error.code.as_ref(), error.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "contention", Some(1))
        );
        let error = ApiError::from_status(ServiceName::Conversation, &Status::aborted("x"));
        assert_eq!(error.code, "contention");
        assert_eq!(error.retry_after, Some(DEFAULT_CONTENTION_RETRY_S));
    }

    #[test]
    fn rate_limits_announce_whole_seconds_of_at_least_one() {
        let wait = |ms| ApiError::rate_limited(Duration::from_millis(ms)).retry_after;
        assert_eq!(wait(0), Some(1));
        assert_eq!(wait(50), Some(1));
        assert_eq!(wait(1000), Some(1));
        assert_eq!(wait(1001), Some(2));
        assert_eq!(wait(59_500), Some(60));
        let error = ApiError::rate_limited(Duration::from_millis(50));
        assert_eq!(
            (error.status, error.code.as_ref()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        let shed = ApiError::overloaded();
        assert_eq!(
            (shed.status, shed.code.as_ref(), shed.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "overloaded", Some(1))
        );
    }

    #[test]
    fn server_failures_are_500_without_details() {
        let error = map(&Status::internal("database password is hunter2"));
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.code, "internal");
        assert!(!error.message.contains("hunter2"));
    }
}
