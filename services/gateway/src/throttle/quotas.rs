//! Which budgets a request spends: the caller's general one (per address before login,
//! per user after) and, on a costly route, that route's own.

use crate::http::ApiError;
use axum::http::Method;
use im_runtime::config::RateLimits;
use im_runtime::limits::{Decision, Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// A budget, also the `scope` label of [`super::RATE_LIMITED_METRIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anything without a signed-in caller, per client address.
    Ip,
    /// Anything of a signed-in user.
    User,
    Login,
    Register,
    Refresh,
    MessageSend,
    Upload,
    /// Frames of one WebSocket connection.
    WsFrame,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::User => "user",
            Self::Login => "login",
            Self::Register => "register",
            Self::Refresh => "refresh",
            Self::MessageSend => "message_send",
            Self::Upload => "upload",
            Self::WsFrame => "ws_frame",
        }
    }

    /// The costly route `method` on `route` (a matched path, `{id}` and all) is, if any.
    pub fn of_route(method: &Method, route: &str) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match route {
            "/api/v1/auth/login" => Some(Self::Login),
            "/api/v1/auth/register" => Some(Self::Register),
            "/api/v1/auth/refresh" => Some(Self::Refresh),
            "/api/v1/conversations/{id}/messages" => Some(Self::MessageSend),
            "/api/v1/files" => Some(Self::Upload),
            _ => None,
        }
    }
}

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    User(&'a str),
    Ip(IpAddr),
    /// No token and no known address (a router driven without a socket): nothing to
    /// count against.
    Unknown,
}

impl Caller<'_> {
    /// The budget's subject. An IPv6 client is counted by its /64, the block one
    /// subscriber usually holds whole: counting each address would let one client pick
    /// a fresh budget per request.
    fn key(self) -> Option<String> {
        match self {
            Self::User(user_id) => Some(format!("user:{user_id}")),
            Self::Ip(IpAddr::V4(ip)) => Some(format!("ip:{ip}")),
            Self::Ip(IpAddr::V6(ip)) => {
                let network = Ipv6Addr::from(u128::from(ip) & (u128::MAX << 64));
                Some(format!("ip:{network}/64"))
            }
            Self::Unknown => None,
        }
    }
}

/// The gateway's quotas and the limiter that keeps them.
pub struct EdgeLimits {
    limiter: Arc<dyn RateLimiter>,
    /// `None` when rate limits are disabled.
    quotas: Option<RateLimits>,
}

impl EdgeLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>, config: &RateLimits) -> Self {
        Self {
            limiter,
            quotas: config.enabled.then(|| config.clone()),
        }
    }

    /// The frame quota of each WebSocket connection, if frames are limited.
    pub fn ws_frames(&self) -> Option<Quota> {
        self.quotas.as_ref().map(|quotas| quotas.ws_frames)
    }

    /// Spends one request of `caller`'s general budget and, on a costly `route`, of
    /// that route's; a 429 `rate_limited` when either is exhausted.
    pub async fn admit(&self, caller: Caller<'_>, route: Option<Scope>) -> Result<(), ApiError> {
        let Some(subject) = caller.key() else {
            return Ok(());
        };
        let general = match caller {
            Caller::User(_) => Scope::User,
            _ => Scope::Ip,
        };
        self.spend(general, &subject).await?;
        if let Some(route) = route {
            self.spend(route, &subject).await?;
        }
        Ok(())
    }

    /// Spends one message of `user_id`'s sending budget (a WebSocket `send`).
    pub async fn admit_send(&self, user_id: &str) -> Result<(), ApiError> {
        self.spend(Scope::MessageSend, &format!("user:{user_id}"))
            .await
    }

    async fn spend(&self, scope: Scope, subject: &str) -> Result<(), ApiError> {
        let Some(quota) = self.quota(scope) else {
            return Ok(());
        };
        let key = match scope {
            Scope::Ip | Scope::User => subject.to_owned(),
            _ => format!("{}:{subject}", scope.label()),
        };
        match self.limiter.check(&key, &quota).await {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after } => {
                metrics::counter!(super::RATE_LIMITED_METRIC, "scope" => scope.label())
                    .increment(1);
                tracing::debug!(scope = scope.label(), ?retry_after, "rate limited");
                Err(ApiError::rate_limited(retry_after))
            }
        }
    }

    fn quota(&self, scope: Scope) -> Option<Quota> {
        let quotas = self.quotas.as_ref()?;
        Some(match scope {
            Scope::Ip => quotas.per_ip,
            Scope::User => quotas.per_user,
            Scope::Login => quotas.login,
            Scope::Register => quotas.register,
            Scope::Refresh => quotas.refresh,
            Scope::MessageSend => quotas.message_send,
            Scope::Upload => quotas.upload,
            Scope::WsFrame => quotas.ws_frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use im_runtime::limits::LocalLimiter;

    fn limits(configure: impl FnOnce(&mut RateLimits)) -> EdgeLimits {
        let mut config = RateLimits::default();
        configure(&mut config);
        EdgeLimits::new(Arc::new(LocalLimiter::new()), &config)
    }

    #[test]
    fn costly_routes_are_known_by_method_and_route() {
        let post = Method::POST;
        assert_eq!(
            Scope::of_route(&post, "/api/v1/auth/login"),
            Some(Scope::Login)
        );
        assert_eq!(
            Scope::of_route(&post, "/api/v1/conversations/{id}/messages"),
            Some(Scope::MessageSend)
        );
        assert_eq!(
            Scope::of_route(&Method::GET, "/api/v1/conversations/{id}/messages"),
            None
        );
        assert_eq!(Scope::of_route(&post, "/api/v1/groups"), None);
    }

    #[tokio::test]
    async fn a_costly_route_spends_its_own_budget_besides_the_general_one() {
        let limits = limits(|config| {
            config.login = Quota::per_second(1, 2);
        });
        let ip = Caller::Ip("192.0.2.1".parse().unwrap());
        for _ in 0..2 {
            limits.admit(ip, Some(Scope::Login)).await.unwrap();
        }
        let refused = limits.admit(ip, Some(Scope::Login)).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "rate_limited");
        assert_eq!(refused.retry_after, Some(1));
        // other routes from there, and logins from elsewhere, still pass
        limits.admit(ip, None).await.unwrap();
        let elsewhere = Caller::Ip("192.0.2.2".parse().unwrap());
        limits.admit(elsewhere, Some(Scope::Login)).await.unwrap();
    }

    #[tokio::test]
    async fn an_ipv6_client_is_counted_by_its_slash_64() {
        let limits = limits(|config| config.per_ip = Quota::per_second(1, 1));
        let ip = |text: &str| Caller::Ip(text.parse().unwrap());
        limits.admit(ip("2001:db8:1:2::1"), None).await.unwrap();
        assert!(limits.admit(ip("2001:db8:1:2::ffff"), None).await.is_err());
        limits.admit(ip("2001:db8:1:3::1"), None).await.unwrap();
        assert_eq!(
            ip("2001:db8:1:2:aaaa::1").key().as_deref(),
            Some("ip:2001:db8:1:2::/64")
        );
    }

    #[tokio::test]
    async fn disabled_limits_and_unknown_callers_are_never_refused() {
        let off = limits(|config| {
            config.enabled = false;
            config.per_ip = Quota::per_second(1, 1);
        });
        let ip = Caller::Ip("192.0.2.1".parse().unwrap());
        for _ in 0..10 {
            off.admit(ip, Some(Scope::Login)).await.unwrap();
        }
        assert_eq!(off.ws_frames(), None);
        let tight = limits(|config| config.per_ip = Quota::per_second(1, 1));
        for _ in 0..10 {
            tight.admit(Caller::Unknown, None).await.unwrap();
        }
    }
}
