//! Routing and pushing: presence locates the recipients' devices, each gateway node
//! holding some gets its share in as few Push requests as the limits allow; without
//! presence every registered node gets the recipients' user ids. Nodes are pushed to
//! concurrently, each node's requests in order.
//!
//! At least once toward live nodes: a failed push of a bus event is retried while its
//! node is still registered, for at most [`Settings::push_give_up_after`]; a node that
//! left the registry, or was given up, is skipped (its clients reconnect elsewhere and
//! sync). Metrics: `im_delivery_pushes_total{outcome}` per request (`ok`, `error`,
//! `refused`, `node_gone`, `abandoned`), `im_delivery_fallbacks_total`,
//! `im_delivery_push_duration_seconds`, `im_delivery_offline_targets_total`.
//!
//! [`Settings::push_give_up_after`]: crate::settings::Settings::push_give_up_after

use super::{App, AppError, AppResult, Guarantee, Report, lock};
use crate::domain::{self, Addressed, Fanout, NodeId, PushItem, PushLimits, UserId};
use crate::ports::{GatewayNode, Gateways, Located, Ports, Presence, PushError};
use futures::StreamExt as _;
use std::collections::HashSet;
use std::time::Instant;

/// One node and the requests it gets, in order.
struct Destination {
    /// For logs.
    node: String,
    endpoint: String,
    /// Found in the registry under its node id: a retry first checks it is still there.
    registered: Option<NodeId>,
    requests: Vec<Vec<PushItem>>,
}

fn count(outcome: &'static str) {
    metrics::counter!("im_delivery_pushes_total", "outcome" => outcome).increment(1);
}

impl<P: Ports> App<P> {
    /// Delivers frames made from bus events, at least once to live nodes. Fails, before
    /// pushing anything, when the recipients or the gateway nodes cannot be listed.
    pub async fn deliver(&self, fanouts: Vec<Fanout>, guarantee: Guarantee) -> AppResult<Report> {
        let mut addressed = Vec::with_capacity(fanouts.len());
        for fanout in fanouts {
            let frame = self.address(fanout).await?;
            if !frame.users.is_empty() {
                addressed.push(frame);
            }
        }
        self.route(&addressed, guarantee).await
    }

    /// Locates and pushes addressed frames.
    pub(crate) async fn route(
        &self,
        addressed: &[Addressed],
        guarantee: Guarantee,
    ) -> AppResult<Report> {
        let mut seen = HashSet::new();
        let users: Vec<UserId> = addressed
            .iter()
            .flat_map(|frame| &frame.users)
            .filter(|user| seen.insert(*user))
            .cloned()
            .collect();
        if users.is_empty() {
            return Ok(Report::default());
        }
        let registered = self
            .gateways
            .nodes()
            .await
            .map_err(AppError::RegistryUnavailable)?;
        let (destinations, fallback) = match self.presence.locate(&users).await {
            Ok(located) => (self.routed(addressed, located, &registered), false),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    nodes = registered.len(),
                    "presence cannot locate devices; pushing to every gateway node"
                );
                metrics::counter!("im_delivery_fallbacks_total").increment(1);
                (self.to_every_node(addressed, &registered), true)
            }
        };
        let delivered = futures::stream::iter(destinations)
            .map(|destination| self.push_to(destination, guarantee))
            .buffer_unordered(self.settings.push_concurrency.max(1))
            .fold(0u32, |total, delivered| async move {
                total.saturating_add(delivered)
            })
            .await;
        Ok(Report {
            delivered,
            fallback,
        })
    }

    fn limits(&self) -> PushLimits {
        PushLimits {
            max_refs: self.settings.max_push_refs,
            max_bytes: self.settings.max_push_bytes,
        }
    }

    /// Each node holding devices, at the endpoint the registry lists under its id or,
    /// when the registry does not list gateways by id (static endpoints), the push
    /// address it reported to presence. A node known to neither is gone: skipped.
    fn routed(
        &self,
        addressed: &[Addressed],
        located: Located,
        registered: &[GatewayNode],
    ) -> Vec<Destination> {
        // Where gateways register themselves by node id (every shared registry, and the
        // all-in-one process), the registry is the truth about which nodes live: one it
        // no longer lists died, even if presence has not noticed yet, and pushing to the
        // address presence remembers would only stall this conversation's events.
        let registry_lists_nodes = registered.iter().any(|gateway| gateway.node_id.is_some());
        let mut destinations = Vec::new();
        for (node, items) in domain::by_node(addressed, &located.devices) {
            let listed = registered
                .iter()
                .find(|gateway| gateway.node_id.as_ref() == Some(&node));
            let (endpoint, registered) = match listed {
                Some(gateway) => (gateway.endpoint.clone(), Some(node.clone())),
                None if registry_lists_nodes => {
                    tracing::debug!(node = %node, "skipping a gateway node the registry no longer lists");
                    count("node_gone");
                    continue;
                }
                None => match located.nodes.get(&node).filter(|addr| !addr.is_empty()) {
                    Some(addr) => (addr.clone(), None),
                    None => {
                        tracing::debug!(node = %node, "skipping a gateway node that is gone");
                        count("node_gone");
                        continue;
                    }
                },
            };
            destinations.push(Destination {
                node: node.to_string(),
                endpoint,
                registered,
                requests: domain::chunk(items, self.limits()),
            });
        }
        destinations
    }

    /// Every registered node (once per endpoint), with the recipients' user ids.
    fn to_every_node(
        &self,
        addressed: &[Addressed],
        registered: &[GatewayNode],
    ) -> Vec<Destination> {
        let items = domain::to_every_node(addressed);
        if registered.is_empty() {
            tracing::warn!("no gateway node is registered; nothing to push to");
        }
        let mut endpoints = HashSet::new();
        registered
            .iter()
            .filter(|gateway| endpoints.insert(gateway.endpoint.as_str()))
            .map(|gateway| Destination {
                node: gateway
                    .node_id
                    .as_ref()
                    .map_or_else(|| gateway.endpoint.clone(), NodeId::to_string),
                endpoint: gateway.endpoint.clone(),
                registered: gateway.node_id.clone(),
                requests: domain::chunk(items.clone(), self.limits()),
            })
            .collect()
    }

    /// Pushes a node's requests in order; returns the connections written to. A request
    /// that cannot be pushed skips the node's later ones.
    async fn push_to(&self, destination: Destination, guarantee: Guarantee) -> u32 {
        let mut delivered = 0u32;
        for request in &destination.requests {
            match self.push_one(&destination, request, guarantee).await {
                Some(written) => delivered = delivered.saturating_add(written),
                None => break,
            }
        }
        delivered
    }

    /// One request, retried as the guarantee asks; `None` when it was not pushed.
    async fn push_one(
        &self,
        destination: &Destination,
        request: &[PushItem],
        guarantee: Guarantee,
    ) -> Option<u32> {
        let started = Instant::now();
        let retries =
            guarantee == Guarantee::AtLeastOnce && !self.is_suspect(&destination.endpoint);
        let mut backoff = self.settings.retry_backoff;
        loop {
            let attempt = Instant::now();
            let error = match self.gateways.push(&destination.endpoint, request).await {
                Ok(outcome) => {
                    metrics::histogram!("im_delivery_push_duration_seconds")
                        .record(attempt.elapsed().as_secs_f64());
                    count("ok");
                    if outcome.offline > 0 {
                        metrics::counter!("im_delivery_offline_targets_total")
                            .increment(u64::from(outcome.offline));
                    }
                    lock(&self.suspects).remove(&destination.endpoint);
                    return Some(outcome.delivered);
                }
                Err(PushError::Refused(error)) => {
                    count("refused");
                    tracing::warn!(
                        node = destination.node,
                        error = format!("{error:#}"),
                        "a gateway node refused a push"
                    );
                    return None;
                }
                Err(PushError::Unreachable(error)) => error,
            };
            count("error");
            if !retries {
                tracing::debug!(
                    node = destination.node,
                    error = format!("{error:#}"),
                    "a push failed; not retried"
                );
                return None;
            }
            if started.elapsed() + backoff > self.settings.push_give_up_after {
                count("abandoned");
                self.suspect(&destination.endpoint);
                tracing::warn!(
                    node = destination.node,
                    error = format!("{error:#}"),
                    "giving up a push to an unreachable gateway node; its clients will sync"
                );
                return None;
            }
            tracing::debug!(
                node = destination.node,
                error = format!("{error:#}"),
                "a push failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.settings.max_retry_backoff);
            if !self.still_registered(destination).await {
                count("node_gone");
                tracing::info!(
                    node = destination.node,
                    "a gateway node left the registry; skipping it"
                );
                return None;
            }
        }
    }

    /// Whether a node found in the registry is still there (a node reached by the
    /// address presence reported has no registration to lose: it runs out its budget).
    async fn still_registered(&self, destination: &Destination) -> bool {
        let Some(node) = &destination.registered else {
            return true;
        };
        match self.gateways.nodes().await {
            Ok(nodes) => nodes.iter().any(|gateway| {
                gateway.node_id.as_ref() == Some(node) && gateway.endpoint == destination.endpoint
            }),
            // Cannot tell: keep trying within the budget.
            Err(_) => true,
        }
    }

    fn is_suspect(&self, endpoint: &str) -> bool {
        lock(&self.suspects)
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now())
    }

    fn suspect(&self, endpoint: &str) {
        let now = Instant::now();
        let mut suspects = lock(&self.suspects);
        suspects.retain(|_, until| *until > now);
        suspects.insert(endpoint.to_owned(), now + self.settings.suspect_for);
    }
}
