//! This process's own instances: all written under one etcd lease, which a background
//! task renews every ttl/3. An instance therefore disappears at most one TTL after its
//! process stops renewing (crash, kill -9, partition). Should etcd forget the lease
//! (unreachable for longer than the TTL), the task grants a new one and writes every own
//! instance again.

use crate::record::Layout;
use crate::{unavailable, within};
use etcd_client::{Client, Error, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use im_runtime::registry::{Instance, RegistryError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::MissedTickBehavior;

pub struct Announcer {
    client: Client,
    layout: Layout,
    ttl: Duration,
    own: Mutex<Own>,
}

#[derive(Default)]
struct Own {
    /// `None` until the first registration, and after the lease was lost until a new
    /// one is granted.
    lease: Option<i64>,
    instances: BTreeMap<String, Instance>,
}

impl Announcer {
    pub fn new(client: Client, layout: Layout, ttl: Duration) -> Self {
        Self {
            client,
            layout,
            ttl,
            own: Mutex::default(),
        }
    }

    /// Writes `instance` under this process's lease; returns the revision of the write.
    pub async fn announce(&self, instance: Instance) -> Result<i64, RegistryError> {
        let mut own = self.own.lock().await;
        let mut retried = false;
        loop {
            let lease = self.hold_lease(&mut own).await?;
            match self.put(&instance, lease).await {
                Ok(revision) => {
                    own.instances.insert(instance.id.clone(), instance);
                    return Ok(revision);
                }
                // The lease expired before the renewal task noticed: take a new one.
                Err(error) if lease_lost(&error) && !retried => {
                    retried = true;
                    own.lease = None;
                }
                Err(error) => return Err(unavailable("write", error)),
            }
        }
    }

    /// Deletes the instance's key; returns the revision of the deletion, if there was
    /// anything to delete.
    pub async fn withdraw(&self, instance: &Instance) -> Result<Option<i64>, RegistryError> {
        let mut own = self.own.lock().await;
        own.instances.remove(&instance.id);
        let key = self.layout.key(instance);
        let response = within(self.client.kv_client().delete(key, None))
            .await
            .map_err(|e| unavailable("delete", e))?;
        Ok((response.deleted() > 0)
            .then(|| response.header().map_or(0, |header| header.revision())))
    }

    /// Revokes the lease, which deletes every own instance at once.
    pub async fn release(&self) -> Result<(), RegistryError> {
        let mut own = self.own.lock().await;
        own.instances.clear();
        if let Some(lease) = own.lease.take() {
            match within(self.client.lease_client().revoke(lease)).await {
                Ok(_) => {}
                Err(error) if lease_lost(&error) => {}
                Err(error) => return Err(unavailable("revoke", error)),
            }
        }
        Ok(())
    }

    /// Renews the lease every ttl/3 until the task is aborted.
    pub async fn renew(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(self.ttl / 3);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut keeper = None;
        let mut outage = false;
        loop {
            ticker.tick().await;
            let lease = self.own.lock().await.lease;
            let renewed = match lease {
                Some(lease) => self.renew_once(&mut keeper, lease).await,
                // Nothing registered yet, or a lost lease whose replacement failed.
                None => self.reannounce().await,
            };
            match renewed {
                Ok(()) if std::mem::take(&mut outage) => {
                    tracing::info!("registry lease renewed again");
                }
                Ok(()) => {}
                Err(Renewal::Lost) => {
                    keeper = None;
                    tracing::warn!(
                        "registry lease expired (etcd unreachable for longer than the TTL?); registering own instances again"
                    );
                    let mut own = self.own.lock().await;
                    if own.lease == lease {
                        own.lease = None;
                    }
                    drop(own);
                    if let Err(Renewal::Unreachable(error)) = self.reannounce().await {
                        tracing::warn!(%error, "registering own instances again failed; retrying");
                    }
                }
                Err(Renewal::Unreachable(error)) => {
                    keeper = None;
                    if !std::mem::replace(&mut outage, true) {
                        tracing::warn!(%error, "registry lease renewal failed; retrying");
                    }
                }
            }
        }
    }

    async fn renew_once(
        &self,
        keeper: &mut Option<(LeaseKeeper, LeaseKeepAliveStream)>,
        lease: i64,
    ) -> Result<(), Renewal> {
        let (sender, responses) = match keeper {
            Some((sender, responses)) if sender.id() == lease => (sender, responses),
            _ => {
                // Opening the stream renews once and tells whether the lease still exists.
                let opened = within(self.client.lease_client().keep_alive(lease)).await;
                *keeper = Some(opened.map_err(Renewal::from)?);
                return Ok(());
            }
        };
        sender
            .keep_alive()
            .await
            .map_err(|e| Renewal::Unreachable(unavailable("lease renewal", e)))?;
        match within(responses.message()).await.map_err(Renewal::from)? {
            Some(response) if response.ttl() > 0 => Ok(()),
            Some(_) => Err(Renewal::Lost),
            None => Err(Renewal::Unreachable(RegistryError::Unavailable(
                "etcd closed the lease renewal stream".to_owned(),
            ))),
        }
    }

    /// Grants a lease if none is held and writes every own instance under it.
    async fn reannounce(&self) -> Result<(), Renewal> {
        let mut own = self.own.lock().await;
        if own.lease.is_some() || own.instances.is_empty() {
            return Ok(());
        }
        self.hold_lease(&mut own)
            .await
            .map_err(Renewal::Unreachable)?;
        tracing::info!(
            instances = own.instances.len(),
            "own instances registered under a new lease"
        );
        Ok(())
    }

    async fn hold_lease(&self, own: &mut Own) -> Result<i64, RegistryError> {
        if let Some(lease) = own.lease {
            return Ok(lease);
        }
        let seconds = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let lease = within(self.client.lease_client().grant(seconds, None))
            .await
            .map_err(|e| unavailable("lease grant", e))?
            .id();
        // Only once every instance is written does the lease count as held: a failure
        // leaves `None`, so the renewal task tries again (the half-used lease just expires).
        for instance in own.instances.values() {
            self.put(instance, lease)
                .await
                .map_err(|e| unavailable("write", e))?;
        }
        own.lease = Some(lease);
        Ok(lease)
    }

    async fn put(&self, instance: &Instance, lease: i64) -> Result<i64, Error> {
        let (key, value) = (self.layout.key(instance), Layout::value(instance));
        let options = PutOptions::new().with_lease(lease);
        let response = within(self.client.kv_client().put(key, value, Some(options))).await?;
        Ok(response.header().map_or(0, |header| header.revision()))
    }
}

enum Renewal {
    /// etcd no longer knows the lease: its keys are gone.
    Lost,
    Unreachable(RegistryError),
}

impl From<Error> for Renewal {
    fn from(error: Error) -> Self {
        if lease_lost(&error) {
            Self::Lost
        } else {
            Self::Unreachable(unavailable("lease renewal", error))
        }
    }
}

fn lease_lost(error: &Error) -> bool {
    match error {
        Error::GRpcStatus(status) => status.code() == tonic::Code::NotFound,
        // What etcd-client reports when opening a renewal stream for an expired lease.
        Error::LeaseKeepAliveError(message) => message.contains("not found"),
        _ => false,
    }
}
