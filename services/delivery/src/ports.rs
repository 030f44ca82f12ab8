//! What the use cases need from the outside world: the members of a conversation (the
//! conversation service), where users' devices are connected (presence), and the
//! gateway nodes with their Push endpoints (the registry and each node's Push service).

use crate::domain::{ConversationId, Device, Member, NodeId, PushItem, UserId};
use async_trait::async_trait;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Unknown or dissolved.
    #[error("the conversation does not exist")]
    NotFound,
    #[error("the conversation service is unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// One page of a conversation's members.
#[derive(Debug, Clone, Default)]
pub struct MemberPage {
    pub members: Vec<Member>,
    /// Empty on the last page.
    pub next_cursor: String,
}

#[async_trait]
pub trait Conversations: Send + Sync {
    /// A page of the conversation's members, as a trusted internal caller sees them;
    /// an empty cursor asks for the first page.
    async fn list_members(
        &self,
        conversation: &ConversationId,
        cursor: &str,
    ) -> Result<MemberPage, LookupError>;
}

/// Where the users' devices are connected.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub devices: Vec<Device>,
    /// Live nodes among those holding the devices, with the push address each reported
    /// (empty when none).
    pub nodes: HashMap<NodeId, String>,
}

#[async_trait]
pub trait Presence: Send + Sync {
    /// The live devices of the users, however many (the adapter cuts its requests to
    /// presence's limit). An error means presence cannot say: delivery falls back.
    async fn locate(&self, users: &[UserId]) -> anyhow::Result<Located>;
}

/// A gateway node as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayNode {
    /// Known when the instance is registered as `{node_id}/gateway`; nodes configured
    /// by address only are reached when presence is down, or by the address presence
    /// reports for them.
    pub node_id: Option<NodeId>,
    /// Its gRPC Push endpoint, e.g. `http://10.0.0.5:7100`.
    pub endpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The node did not answer in time or could not be reached: worth another try
    /// while it is alive.
    #[error("the gateway node is unreachable")]
    Unreachable(#[source] anyhow::Error),
    /// The node answered with an error another try will not fix.
    #[error("the gateway node refused the push")]
    Refused(#[source] anyhow::Error),
}

/// What a node did with one Push request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Connections written to, over all items.
    pub delivered: u32,
    /// Targets the node no longer holds.
    pub offline: u32,
}

#[async_trait]
pub trait Gateways: Send + Sync {
    /// The gateway nodes registered now.
    async fn nodes(&self) -> anyhow::Result<Vec<GatewayNode>>;

    /// Sends one Push request (bounded by a deadline) to the node at `endpoint`.
    async fn push(&self, endpoint: &str, items: &[PushItem]) -> Result<PushOutcome, PushError>;
}

/// The adapters one [`crate::app::App`] runs on.
pub trait Ports: Send + Sync + 'static {
    type Conversations: Conversations + 'static;
    type Presence: Presence + 'static;
    type Gateways: Gateways + 'static;
}
