//! Which gateway node gets what. With presence, each node gets exactly the devices it
//! holds, per frame; without it, every node gets the recipients' user ids and writes to
//! whatever sessions of theirs it holds. Requests are cut so none grows unbounded.

use super::{Addressed, Frame, NodeId, SessionId, UserId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A live device connection as presence reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Device {
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The client's name for its device; may be empty.
    pub device_id: String,
    pub node_id: NodeId,
}

/// One frame for one gateway node: the exact `targets`, plus every local session of
/// `user_ids`, minus `exclude_sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    pub frame: Arc<Frame>,
    pub targets: Vec<Device>,
    pub user_ids: Vec<UserId>,
    pub exclude_sessions: Vec<SessionId>,
}

impl PushItem {
    /// Targets and user ids: what a gateway looks up for this item.
    fn refs(&self) -> usize {
        self.targets.len() + self.user_ids.len()
    }

    /// About its encoded size.
    fn approx_bytes(&self) -> usize {
        let frame = self.frame.frame_type().len() + self.frame.data_json().len() + 8;
        let targets: usize = self
            .targets
            .iter()
            .map(|d| {
                d.user_id.as_str().len()
                    + d.session_id.as_str().len()
                    + d.device_id.len()
                    + d.node_id.as_str().len()
                    + 12
            })
            .sum();
        let users: usize = self.user_ids.iter().map(|u| u.as_str().len() + 2).sum();
        let excluded: usize = self
            .exclude_sessions
            .iter()
            .map(|s| s.as_str().len() + 2)
            .sum();
        frame + targets + users + excluded
    }
}

/// How large one Push request may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushLimits {
    /// Targets plus user ids over all items of a request.
    pub max_refs: usize,
    /// About the encoded size of a request; an item larger on its own still goes, alone.
    pub max_bytes: usize,
}

/// Per node, one item per frame that has recipients' devices on it, in frame order.
/// The excluded session gets nothing (and is named to the gateway too).
pub fn by_node(addressed: &[Addressed], devices: &[Device]) -> BTreeMap<NodeId, Vec<PushItem>> {
    let mut seen = HashSet::new();
    let mut by_user: HashMap<&UserId, Vec<&Device>> = HashMap::new();
    for device in devices {
        if seen.insert((&device.user_id, &device.session_id, &device.node_id)) {
            by_user.entry(&device.user_id).or_default().push(device);
        }
    }
    let mut plan: BTreeMap<NodeId, Vec<PushItem>> = BTreeMap::new();
    for frame in addressed {
        let mut per_node: BTreeMap<&NodeId, Vec<Device>> = BTreeMap::new();
        for user in &frame.users {
            for device in by_user.get(user).into_iter().flatten() {
                if frame.exclude_session.as_ref() == Some(&device.session_id) {
                    continue;
                }
                per_node
                    .entry(&device.node_id)
                    .or_default()
                    .push((*device).clone());
            }
        }
        for (node, targets) in per_node {
            plan.entry(node.clone()).or_default().push(PushItem {
                frame: frame.frame.clone(),
                targets,
                user_ids: Vec::new(),
                exclude_sessions: frame.exclude_session.iter().cloned().collect(),
            });
        }
    }
    plan
}

/// The items every gateway node gets when the devices cannot be located.
pub fn to_every_node(addressed: &[Addressed]) -> Vec<PushItem> {
    addressed
        .iter()
        .filter(|frame| !frame.users.is_empty())
        .map(|frame| PushItem {
            frame: frame.frame.clone(),
            targets: Vec::new(),
            user_ids: frame.users.clone(),
            exclude_sessions: frame.exclude_session.iter().cloned().collect(),
        })
        .collect()
}

/// Cuts one node's items into requests within `limits`, keeping their order; an item
/// with more refs than a request may hold is split into several items.
pub fn chunk(items: Vec<PushItem>, limits: PushLimits) -> Vec<Vec<PushItem>> {
    let max_refs = limits.max_refs.max(1);
    let mut requests: Vec<Vec<PushItem>> = Vec::new();
    let mut current: Vec<PushItem> = Vec::new();
    let (mut refs, mut bytes) = (0, 0);
    for item in items.into_iter().flat_map(|item| split(item, max_refs)) {
        let (item_refs, item_bytes) = (item.refs(), item.approx_bytes());
        if !current.is_empty()
            && (refs + item_refs > max_refs || bytes + item_bytes > limits.max_bytes)
        {
            requests.push(std::mem::take(&mut current));
            (refs, bytes) = (0, 0);
        }
        refs += item_refs;
        bytes += item_bytes;
        current.push(item);
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

/// One item as several, each with at most `max_refs` targets and user ids.
fn split(item: PushItem, max_refs: usize) -> Vec<PushItem> {
    if item.refs() <= max_refs {
        return vec![item];
    }
    let piece = |targets: Vec<Device>, user_ids: Vec<UserId>| PushItem {
        frame: item.frame.clone(),
        targets,
        user_ids,
        exclude_sessions: item.exclude_sessions.clone(),
    };
    let mut pieces: Vec<PushItem> = item
        .targets
        .chunks(max_refs)
        .map(|targets| piece(targets.to_vec(), Vec::new()))
        .collect();
    pieces.extend(
        item.user_ids
            .chunks(max_refs)
            .map(|users| piece(Vec::new(), users.to_vec())),
    );
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn device(user_id: &str, session: &str, node: &str) -> Device {
        Device {
            user_id: user(user_id),
            session_id: SessionId::parse(session).unwrap(),
            device_id: String::new(),
            node_id: NodeId::parse(node).unwrap(),
        }
    }

    fn addressed(frame: &str, users: &[&str], exclude: Option<&str>) -> Addressed {
        Addressed {
            frame: Arc::new(Frame::new(frame, "{}".to_owned())),
            users: users.iter().map(|u| user(u)).collect(),
            exclude_session: exclude.map(|s| SessionId::parse(s).unwrap()),
        }
    }

    #[test]
    fn each_node_gets_the_devices_it_holds_per_frame() {
        let devices = [
            device("ann", "ann-phone", "n1"),
            device("ann", "ann-laptop", "n2"),
            device("bob", "bob-phone", "n1"),
            device("bob", "bob-phone", "n1"),
            device("eve", "eve-phone", "n3"),
        ];
        let frames = [
            addressed("message", &["ann", "bob"], None),
            addressed("typing", &["ann", "bob"], Some("ann-laptop")),
        ];
        let plan = by_node(&frames, &devices);
        assert_eq!(plan.len(), 2, "eve is not a recipient: n3 gets nothing");
        let n1 = &plan[&NodeId::parse("n1").unwrap()];
        assert_eq!(n1.len(), 2);
        assert_eq!(n1[0].frame.frame_type(), "message");
        assert_eq!(
            n1[0].targets,
            [
                device("ann", "ann-phone", "n1"),
                device("bob", "bob-phone", "n1")
            ]
        );
        assert_eq!(n1[1].frame.frame_type(), "typing");
        let n2 = &plan[&NodeId::parse("n2").unwrap()];
        assert_eq!(n2.len(), 1, "the excluded session is the only device on n2");
        assert_eq!(n2[0].targets, [device("ann", "ann-laptop", "n2")]);
    }

    #[test]
    fn without_presence_every_node_gets_the_users() {
        let items = to_every_node(&[
            addressed("typing", &["ann", "bob"], Some("s1")),
            addressed("message", &[], None),
        ]);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].user_ids, [user("ann"), user("bob")]);
        assert_eq!(items[0].exclude_sessions[0].as_str(), "s1");
    }

    #[test]
    fn requests_are_cut_to_size_in_order() {
        let users: Vec<String> = (0..7).map(|n| format!("u{n}")).collect();
        let names: Vec<&str> = users.iter().map(String::as_str).collect();
        let items = to_every_node(&[
            addressed("a", &names, None),
            addressed("b", &names[..2], None),
        ]);
        let limits = PushLimits {
            max_refs: 3,
            max_bytes: 1 << 20,
        };
        let requests = chunk(items, limits);
        let shape: Vec<Vec<(&str, usize)>> = requests
            .iter()
            .map(|request| {
                request
                    .iter()
                    .map(|item| (item.frame.frame_type(), item.user_ids.len()))
                    .collect()
            })
            .collect();
        assert_eq!(
            shape,
            [vec![("a", 3)], vec![("a", 3)], vec![("a", 1), ("b", 2)]]
        );
        let tiny = PushLimits {
            max_refs: 100,
            max_bytes: 1,
        };
        let one_per_request = chunk(to_every_node(&vec![addressed("a", &["x"], None); 3]), tiny);
        assert_eq!(one_per_request.len(), 3);
    }
}
