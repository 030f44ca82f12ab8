//! The in-memory bus with a switch that makes publishing fail, as a broker outage does
//! (subscriptions keep working: what was published before stays deliverable).

use async_trait::async_trait;
use im_runtime::bus::{Bus, BusError, MemoryBus, Record, StartAt, Subscription};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct SwitchableBus {
    inner: MemoryBus,
    down: AtomicBool,
}

impl SwitchableBus {
    /// While down, `publish` fails with [`BusError::Unavailable`] (`ping` still
    /// answers, so readiness stays as it was).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

#[async_trait]
impl Bus for SwitchableBus {
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("switched off by the test".into()));
        }
        self.inner.publish(topic, record).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe_from(topic, group, start).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.inner.ping().await
    }
}
