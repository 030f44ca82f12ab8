//! Domain values as protobuf messages (`im.v1`) and back.

use crate::app::DeviceInput;
use crate::domain::{Connection, GatewayNode, PresenceChanged, UserPresence};
use im_contracts::v1 as pb;

pub fn device_input(device: &pb::DeviceRef) -> DeviceInput {
    DeviceInput {
        user_id: device.user_id.clone(),
        session_id: device.session_id.clone(),
        device_id: device.device_id.clone(),
        node_id: device.node_id.clone(),
    }
}

pub fn device(connection: &Connection) -> pb::DeviceRef {
    pb::DeviceRef {
        user_id: connection.user_id.as_str().to_owned(),
        session_id: connection.session_id.as_str().to_owned(),
        device_id: connection.device_id.as_str().to_owned(),
        node_id: connection.node_id.as_str().to_owned(),
    }
}

pub fn node(node: &GatewayNode) -> pb::GatewayNode {
    pb::GatewayNode {
        node_id: node.node_id.as_str().to_owned(),
        push_addr: node
            .push_addr
            .as_ref()
            .map(|addr| addr.as_str().to_owned())
            .unwrap_or_default(),
        connections: node.connections,
        last_heartbeat_ms: node.last_heartbeat_ms,
    }
}

pub fn presence(presence: &UserPresence) -> pb::UserPresence {
    pb::UserPresence {
        user_id: presence.user_id.as_str().to_owned(),
        online: presence.online,
        last_seen_ms: presence.last_seen_ms,
        device_count: u32::try_from(presence.devices.len()).unwrap_or(u32::MAX),
        devices: presence.devices.iter().map(device).collect(),
    }
}

pub fn presence_changed(change: &PresenceChanged) -> pb::PresenceChanged {
    pb::PresenceChanged {
        user_id: change.user_id.as_str().to_owned(),
        online: change.online,
        last_seen_ms: change.last_seen_ms,
        occurred_at_ms: change.occurred_at_ms,
    }
}
