//! GCRA in Redis, so that every gateway spends one budget per key. One Lua script per
//! check reads the TAT, decides and writes it back atomically, on Redis's clock (the
//! nodes' clocks need not agree); each key expires when its budget is whole again, so
//! idle keys vanish by themselves.
//!
//! Errors are returned, not hidden: [`super::FallbackLimiter`] decides what an outage
//! means.

use super::{Decision, LimitsError, Quota};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// Where the limits live in Redis, apart from other keys.
const KEY_PREFIX: &str = "im:rate:";
/// The longest a check may take before Redis counts as unavailable. Redis answers in
/// well under a millisecond when healthy; a request should not wait for a sick one.
const CHECK_TIMEOUT: Duration = Duration::from_millis(250);

/// KEYS[1]: the key; ARGV[1]: the emission interval and ARGV[2]: the burst window, both
/// in microseconds. Returns 0 when admitted, else the microseconds to wait. Times are
/// microseconds since the epoch by Redis's clock, written with `%d` because Lua's
/// default number format would round them.
const CHECK_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local pushed = tat + interval
local ahead = pushed - now
if ahead > window then
  return ahead - window
end
redis.call('SET', KEYS[1], string.format('%d', pushed), 'PX', math.ceil(ahead / 1000))
return 0
";

/// Rate limits shared through Redis. Connects lazily (the first check connects) and
/// reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
}

impl RedisLimiter {
    /// A limiter for the Redis at `url`, not connected yet. Needs a Tokio runtime.
    pub fn new(url: &str) -> Result<Self, LimitsError> {
        let client = crate::kv::redis::client(url)
            .map_err(|error| LimitsError::InvalidUrl(error.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CHECK_TIMEOUT))
            .set_response_timeout(Some(CHECK_TIMEOUT))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| LimitsError::InvalidUrl(error.to_string()))?;
        Ok(Self {
            conn,
            script: redis::Script::new(CHECK_SCRIPT),
        })
    }

    /// Admits one request for `key` under `quota`, or says how long to wait; an error
    /// when Redis does not answer within a short timeout.
    pub async fn check(&self, key: &str, quota: &Quota) -> Result<Decision, LimitsError> {
        let interval = micros(quota.emission_interval());
        let window = micros(quota.burst_window());
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{KEY_PREFIX}{key}"))
            .arg(interval)
            .arg(window);
        let wait: u64 = within_timeout(invocation.invoke_async(&mut self.conn.clone())).await?;
        Ok(if wait == 0 {
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: Duration::from_micros(wait),
            }
        })
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), LimitsError> {
        within_timeout(redis::cmd("PING").query_async::<String>(&mut self.conn.clone()))
            .await
            .map(drop)
    }
}

async fn within_timeout<T>(
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, LimitsError> {
    match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(LimitsError::Unavailable(error.to_string())),
        Err(_) => Err(LimitsError::Unavailable(format!(
            "no answer within {CHECK_TIMEOUT:?}"
        ))),
    }
}

fn micros(duration: Duration) -> u64 {
    // A valid quota's window is at most a day: far below u64::MAX microseconds.
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Option<RedisLimiter> {
        im_testkit::redis().map(|url| RedisLimiter::new(&url).unwrap())
    }

    fn unique_key() -> String {
        im_testkit::unique_name("test")
    }

    #[tokio::test]
    async fn a_burst_passes_then_the_wait_is_one_interval() {
        let Some(limiter) = limiter() else { return };
        let key = unique_key();
        let quota = Quota::new(1, Duration::from_secs(60), 3).unwrap();
        for _ in 0..3 {
            assert_eq!(
                limiter.check(&key, &quota).await.unwrap(),
                Decision::Allowed
            );
        }
        let Decision::Limited { retry_after } = limiter.check(&key, &quota).await.unwrap() else {
            panic!("the fourth request of a burst of 3 must wait");
        };
        assert!(
            retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(60),
            "{retry_after:?}"
        );
    }

    #[tokio::test]
    async fn two_limiters_spend_one_budget() {
        let Some(one) = limiter() else { return };
        let Some(other) = limiter() else { return };
        let key = unique_key();
        let quota = Quota::new(1, Duration::from_secs(60), 4).unwrap();
        for limiter in [&one, &other, &one, &other] {
            assert_eq!(
                limiter.check(&key, &quota).await.unwrap(),
                Decision::Allowed
            );
        }
        for limiter in [&one, &other] {
            assert!(matches!(
                limiter.check(&key, &quota).await.unwrap(),
                Decision::Limited { .. }
            ));
        }
    }

    #[tokio::test]
    async fn keys_expire_once_their_budget_is_whole() {
        let Some(limiter) = limiter() else { return };
        let Some(url) = im_testkit::redis() else {
            return;
        };
        let key = unique_key();
        let quota = Quota::new(10, Duration::from_secs(1), 2).unwrap();
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Decision::Allowed
        );
        let mut conn = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{KEY_PREFIX}{key}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            ttl > 0 && ttl <= 100,
            "the key lives one interval: {ttl} ms"
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_soon() {
        let limiter = RedisLimiter::new("redis://127.0.0.1:1").unwrap();
        let started = std::time::Instant::now();
        let quota = Quota::per_second(1, 1);
        assert!(matches!(
            limiter.check("k", &quota).await,
            Err(LimitsError::Unavailable(_))
        ));
        assert!(limiter.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
