//! The presence domain: device connections held by gateway nodes, each live until its
//! expiry unless refreshed; a user's presence derived from them; and the rule deciding,
//! for one change of a user's connections, what is stored, what is forgotten and which
//! transitions (online, offline) are announced. Pure: no I/O, no async, no storage or
//! wire types.

mod change;
mod device;
mod error;
mod ids;
mod node;
mod presence;

pub use change::{DeviceChange, DeviceOp, decide};
pub use device::{Connection, ConnectionKey, DeviceRecord, DeviceStatus};
pub use error::ValidationError;
pub use ids::{DeviceId, NodeId, PushAddr, SessionId, UserId};
pub use node::GatewayNode;
pub use presence::{PresenceChanged, UserDevices, UserPresence};
