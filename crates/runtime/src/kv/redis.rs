//! Redis kv adapter over a reconnecting multiplexed connection.

use super::{Kv, KvError};
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::time::Duration;

/// INCRBY, then set the expiry only if the key has none (PTTL = -1), atomically.
const INCREMENT_SCRIPT: &str = r"
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
";

pub struct RedisKv {
    conn: ConnectionManager,
    increment: redis::Script,
}

/// A client of the Redis at `url` whose connections send at once: redis-rs leaves
/// Nagle's algorithm on, so a command written after one awaiting its ACK could wait up
/// to 40 ms for the server's delayed ACK.
pub(crate) fn client(url: &str) -> redis::RedisResult<redis::Client> {
    use redis::IntoConnectionInfo as _;
    let info = url
        .into_connection_info()?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    redis::Client::open(info)
}

impl RedisKv {
    pub async fn connect(url: &str) -> Result<Self, KvError> {
        let client = client(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            conn,
            increment: redis::Script::new(INCREMENT_SCRIPT),
        })
    }
}

fn unavailable(error: redis::RedisError) -> KvError {
    KvError::Unavailable(error.to_string())
}

/// Maps a failed command on `key`: a type mismatch is the caller's, anything else means
/// the backend is unavailable.
fn failed(key: &str) -> impl FnOnce(redis::RedisError) -> KvError + '_ {
    move |error| {
        if error.code() == Some("WRONGTYPE") {
            KvError::WrongType {
                key: key.to_owned(),
            }
        } else {
            unavailable(error)
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    // Redis rejects a zero expiry; the shortest meaningful one is 1 ms.
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Kv for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.conn.clone().get(key).await.map_err(failed(key))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let mut conn = self.conn.clone();
        match ttl {
            Some(ttl) => conn.pset_ex::<_, _, ()>(key, value, millis(ttl)).await,
            None => conn.set::<_, _, ()>(key, value).await,
        }
        .map_err(unavailable)
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let stored: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(stored.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let removed: u64 = self.conn.clone().del(key).await.map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        let ttl_ms = ttl.map_or(0, millis);
        self.increment
            .key(key)
            .arg(by)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|error| match error.kind() {
                _ if error.code() == Some("WRONGTYPE") => KvError::WrongType {
                    key: key.to_owned(),
                },
                redis::ErrorKind::Server(_) | redis::ErrorKind::UnexpectedReturnType => {
                    KvError::NotAnInteger {
                        key: key.to_owned(),
                    }
                }
                _ => unavailable(error),
            })
    }

    async fn hash_set(&self, key: &str, field: &str, value: &[u8]) -> Result<(), KvError> {
        self.conn
            .clone()
            .hset::<_, _, _, ()>(key, field, value)
            .await
            .map_err(failed(key))
    }

    async fn hash_get(&self, key: &str, field: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed(key))
    }

    async fn hash_delete(&self, key: &str, field: &str) -> Result<bool, KvError> {
        let removed: u64 = self
            .conn
            .clone()
            .hdel(key, field)
            .await
            .map_err(failed(key))?;
        Ok(removed > 0)
    }

    async fn hash_get_all(&self, key: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let fields: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(failed(key))?;
        Ok(fields.into_iter().collect())
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        redis::cmd("PEXPIRE")
            .arg(key)
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), KvError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }
}
