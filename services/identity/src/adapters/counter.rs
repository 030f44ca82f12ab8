//! Login failure counters in the shared kv store, so every identity instance counts
//! the same attempts.

use crate::ports::FailureCounter;
use async_trait::async_trait;
use im_runtime::kv::Kv;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct KvFailureCounter {
    kv: Arc<dyn Kv>,
}

impl KvFailureCounter {
    pub fn new(kv: Arc<dyn Kv>) -> Self {
        Self { kv }
    }
}

#[async_trait]
impl FailureCounter for KvFailureCounter {
    async fn failures(&self, key: &str) -> anyhow::Result<u64> {
        let Some(value) = self.kv.get(key).await? else {
            return Ok(0);
        };
        // Counters are written by `increment` as decimal text.
        Ok(std::str::from_utf8(&value)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn record_failure(&self, key: &str, window: Duration) -> anyhow::Result<()> {
        self.kv.increment(key, 1, Some(window)).await?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> anyhow::Result<()> {
        self.kv.delete(key).await?;
        Ok(())
    }
}
