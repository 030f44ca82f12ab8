//! What the end of one attempt means: whether the downstream failed (what a circuit
//! breaker counts) and whether trying again may help (what a retry needs).
//!
//! A downstream fails when it cannot be reached, is too slow or says it is unavailable;
//! a business refusal (NotFound, InvalidArgument, PermissionDenied …) is a healthy
//! downstream doing its job. The status of a gRPC error arrives in the response headers
//! (a trailers-only response), which is where it is read; a status sent in trailers
//! after data (the end of a stream) is not looked at.

use crate::errors::{CODE_KEY, RETRY_AFTER_KEY};
use http::{HeaderMap, StatusCode};
use tonic::{Code, Status};

/// The error code of a refusal by an open circuit breaker.
pub const CIRCUIT_OPEN: &str = "circuit_open";

/// How one attempt ended, short of a response.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// No connection, or the connection broke.
    Transport(Status),
    /// The call's budget ran out.
    Deadline,
    /// The circuit breaker refused the attempt; the status says for how long.
    CircuitOpen(Status),
}

/// The meaning of one attempt's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The downstream failed (not merely refused the request).
    pub failed: bool,
    /// Another attempt may succeed where this one did not.
    pub retryable: bool,
}

const HEALTHY: Verdict = Verdict {
    failed: false,
    retryable: false,
};

impl Verdict {
    pub fn of<B>(result: &Result<http::Response<B>, AttemptError>) -> Self {
        match result {
            Ok(response) => Self::of_response(response.status(), response.headers()),
            Err(AttemptError::Transport(_)) => Self {
                failed: true,
                retryable: true,
            },
            Err(AttemptError::Deadline) => Self {
                failed: true,
                retryable: false,
            },
            Err(AttemptError::CircuitOpen(_)) => Self {
                failed: false,
                retryable: false,
            },
        }
    }

    fn of_response(status: StatusCode, headers: &HeaderMap) -> Self {
        if status != StatusCode::OK {
            // A proxy or load balancer answering for a gRPC server that is not there.
            let gone = matches!(
                status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            );
            return Self {
                failed: gone,
                retryable: gone,
            };
        }
        match grpc_code(headers) {
            Some(Code::Unavailable) => Self {
                failed: true,
                // A downstream that says when to come back is not retried sooner, and
                // an open breaker downstream will not close within our budget.
                retryable: headers.get(RETRY_AFTER_KEY).is_none()
                    && headers
                        .get(CODE_KEY)
                        .is_none_or(|code| code != CIRCUIT_OPEN),
            },
            // The server gave up at the deadline we sent (tonic answers CANCELLED).
            Some(Code::DeadlineExceeded | Code::Cancelled) => Self {
                failed: true,
                retryable: false,
            },
            _ => HEALTHY,
        }
    }
}

/// The gRPC status code of a trailers-only response, if it is one.
pub(crate) fn grpc_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    value.parse::<i32>().ok().map(Code::from_i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{status, with_retry_after};

    fn verdict(status: Status) -> Verdict {
        Verdict::of(&Ok::<_, AttemptError>(status.into_http::<()>()))
    }

    #[test]
    fn outages_count_and_business_refusals_do_not() {
        for code in [Code::Unavailable, Code::DeadlineExceeded] {
            assert!(verdict(Status::new(code, "x")).failed, "{code:?}");
        }
        for code in [
            Code::Ok,
            Code::NotFound,
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::AlreadyExists,
            Code::FailedPrecondition,
            Code::Unauthenticated,
            Code::ResourceExhausted,
        ] {
            assert_eq!(verdict(Status::new(code, "x")), HEALTHY, "{code:?}");
        }
        let success = http::Response::new(());
        assert_eq!(Verdict::of(&Ok::<_, AttemptError>(success)), HEALTHY);
        let transport = Verdict::of::<()>(&Err(AttemptError::Transport(Status::unavailable("x"))));
        assert!(transport.failed && transport.retryable);
        let late = Verdict::of::<()>(&Err(AttemptError::Deadline));
        assert!(late.failed && !late.retryable);
    }

    #[test]
    fn only_plain_unavailability_is_worth_another_attempt() {
        assert!(verdict(Status::unavailable("restarting")).retryable);
        let hinted = with_retry_after(status(Code::Unavailable, "unavailable", "db down"), 2);
        assert!(!verdict(hinted).retryable);
        assert!(!verdict(status(Code::Unavailable, CIRCUIT_OPEN, "open")).retryable);
        assert!(!verdict(Status::deadline_exceeded("slow")).retryable);
        assert!(!verdict(Status::not_found("x")).retryable);
    }
}
