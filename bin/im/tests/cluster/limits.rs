//! Rate limits as a client meets them: a burst from one user, answered 429 with
//! `Retry-After` past the user's budget, which every gateway shares through Redis.

use crate::api::Api;
use crate::people::User;
use std::time::{Duration, Instant};

/// A per-user budget small enough to exhaust on purpose: 20 requests a second, bursts
/// of 50. The scenarios under it send more slowly than that.
pub const RATE: f64 = 20.0;
pub const BURST: usize = 50;
pub const TIGHT: &[(&str, &str)] = &[(
    "IM__GATEWAY__RATE_LIMITS__PER_USER",
    "{rate = 20, period = 1, burst = 50}",
)];

#[derive(Debug, Default)]
pub struct Burst {
    pub ok: usize,
    pub limited: usize,
    pub elapsed: Duration,
}

impl Burst {
    /// The most a single shared GCRA budget can have let through in this burst.
    pub fn shared_budget_bound(&self) -> usize {
        BURST + (RATE * self.elapsed.as_secs_f64()).ceil() as usize + 2
    }
}

/// `n` profile reads at once from `who`, spread over `apis`; every 429 must carry a
/// usable `Retry-After`.
pub async fn burst(apis: &[&Api], who: &User, n: usize) -> Burst {
    let started = Instant::now();
    let requests = (0..n).map(|i| {
        let api = apis[i % apis.len()];
        async move { api.get("/api/v1/users/me", &who.token).await }
    });
    let replies = futures::future::join_all(requests).await;
    let mut outcome = Burst {
        elapsed: started.elapsed(),
        ..Burst::default()
    };
    for reply in replies {
        match reply.status {
            200 => outcome.ok += 1,
            429 => {
                assert_eq!(reply.error_code(), "rate_limited", "{}", reply.body);
                let retry_after: u64 = reply.headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
                outcome.limited += 1;
            }
            other => panic!("unexpected status {other} in a burst: {}", reply.body),
        }
    }
    outcome
}

/// Requests `who` makes at a polite pace while someone else floods: all must pass.
pub async fn polite(api: &Api, who: &User, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        if api.get("/api/v1/users/me", &who.token).await.status == 200 {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ok
}
