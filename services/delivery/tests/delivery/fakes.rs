//! Stand-ins for the services delivery talks to, each a real tonic server on a loopback
//! port: the conversation service (members), presence (devices) and gateway nodes
//! (Push, recording what they are given).

use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_server::{
    ConversationService, ConversationServiceServer,
};
use im_contracts::v1::presence_server::{Presence, PresenceServer};
use im_contracts::v1::push_server::{Push, PushServer};
use im_runtime::Shutdown;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

/// A fake's server: where it listens, and how to stop it.
pub struct Served {
    pub endpoint: String,
    stop: Shutdown,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

async fn serve(routes: Routes) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let stop = Shutdown::new();
    tokio::spawn(
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.signal()),
    );
    Served { endpoint, stop }
}

fn down() -> Status {
    Status::unavailable("switched off by the test")
}

// ---------------------------------------------------------------------------------------
// Conversation

/// Members per conversation; conversations not listed do not exist.
#[derive(Default)]
pub struct ConversationState {
    members: Mutex<HashMap<String, Vec<pb::Member>>>,
    pub down: AtomicBool,
    list_calls: AtomicU32,
}

impl ConversationState {
    pub fn set_members(&self, conversation: &str, members: &[(&str, pb::MemberRole)]) {
        let members = members
            .iter()
            .map(|(user, role)| pb::Member {
                user_id: (*user).into(),
                role: (*role).into(),
                muted_until_ms: 0,
                joined_at_ms: 1_700_000_000_000,
            })
            .collect();
        self.members
            .lock()
            .unwrap()
            .insert(conversation.into(), members);
    }

    pub fn remove_conversation(&self, conversation: &str) {
        self.members.lock().unwrap().remove(conversation);
    }

    /// How many ListMembers calls arrived.
    pub fn list_calls(&self) -> u32 {
        self.list_calls.load(Ordering::SeqCst)
    }

    /// Pages of at most two members, so delivery has to follow cursors.
    fn members_page(
        &self,
        request: pb::ListMembersRequest,
    ) -> Result<pb::ListMembersResponse, Status> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(down());
        }
        if !request.viewer_id.is_empty() {
            return Err(Status::permission_denied(
                "delivery lists members as a trusted caller",
            ));
        }
        let members = self.members.lock().unwrap();
        let Some(all) = members.get(&request.conversation_id) else {
            return Err(Status::not_found("conversation_not_found"));
        };
        let page = request.page.unwrap_or_default();
        let start: usize = if page.cursor.is_empty() {
            0
        } else {
            page.cursor
                .parse()
                .map_err(|_| Status::invalid_argument("cursor"))?
        };
        let limit = (page.limit as usize).clamp(1, 2);
        let end = (start + limit).min(all.len());
        let next_cursor = if end < all.len() {
            end.to_string()
        } else {
            String::new()
        };
        Ok(pb::ListMembersResponse {
            members: all[start..end].to_vec(),
            page_info: Some(pb::PageInfo { next_cursor }),
        })
    }
}

pub struct FakeConversation(Arc<ConversationState>);

/// The conversation service: ListMembers from the state, every other RPC unimplemented.
macro_rules! conversation_service {
    ($($rpc:ident: $request:ident => $response:ident),* $(,)?) => {
        #[tonic::async_trait]
        impl ConversationService for FakeConversation {
            type WatchMembershipStream =
                tokio_stream::Empty<Result<pb::MembershipEvent, Status>>;

            async fn list_members(
                &self,
                request: Request<pb::ListMembersRequest>,
            ) -> Reply<pb::ListMembersResponse> {
                self.0.members_page(request.into_inner()).map(Response::new)
            }

            async fn watch_membership(
                &self,
                _: Request<pb::WatchMembershipRequest>,
            ) -> Reply<Self::WatchMembershipStream> {
                Err(Status::unimplemented("watch_membership"))
            }

            $(
                async fn $rpc(&self, _: Request<pb::$request>) -> Reply<pb::$response> {
                    Err(Status::unimplemented(stringify!($rpc)))
                }
            )*
        }
    };
}

conversation_service!(
    send_friend_request: SendFriendRequestRequest => SendFriendRequestResponse,
    list_friend_requests: ListFriendRequestsRequest => ListFriendRequestsResponse,
    accept_friend_request: AcceptFriendRequestRequest => AcceptFriendRequestResponse,
    reject_friend_request: RejectFriendRequestRequest => RejectFriendRequestResponse,
    cancel_friend_request: CancelFriendRequestRequest => CancelFriendRequestResponse,
    list_contacts: ListContactsRequest => ListContactsResponse,
    update_contact: UpdateContactRequest => UpdateContactResponse,
    delete_contact: DeleteContactRequest => DeleteContactResponse,
    block: BlockRequest => BlockResponse,
    unblock: UnblockRequest => UnblockResponse,
    list_blocks: ListBlocksRequest => ListBlocksResponse,
    get_or_create_direct: GetOrCreateDirectRequest => GetOrCreateDirectResponse,
    create_group: CreateGroupRequest => CreateGroupResponse,
    get_conversation: GetConversationRequest => GetConversationResponse,
    update_conversation: UpdateConversationRequest => UpdateConversationResponse,
    dissolve_group: DissolveGroupRequest => DissolveGroupResponse,
    invite_members: InviteMembersRequest => InviteMembersResponse,
    update_member: UpdateMemberRequest => UpdateMemberResponse,
    remove_member: RemoveMemberRequest => RemoveMemberResponse,
    transfer_ownership: TransferOwnershipRequest => TransferOwnershipResponse,
    list_user_conversations: ListUserConversationsRequest => ListUserConversationsResponse,
    check_send: CheckSendRequest => CheckSendResponse,
    join_group: JoinGroupRequest => JoinGroupResponse,
    list_join_requests: ListJoinRequestsRequest => ListJoinRequestsResponse,
    approve_join_request: ApproveJoinRequestRequest => ApproveJoinRequestResponse,
    reject_join_request: RejectJoinRequestRequest => RejectJoinRequestResponse,
);

pub async fn conversation(state: Arc<ConversationState>) -> Served {
    serve(Routes::new(ConversationServiceServer::new(
        FakeConversation(state),
    )))
    .await
}

// ---------------------------------------------------------------------------------------
// Presence

/// Connected devices and the live nodes presence knows (with their push addresses).
#[derive(Default)]
pub struct PresenceState {
    devices: Mutex<Vec<pb::DeviceRef>>,
    nodes: Mutex<HashMap<String, String>>,
    pub down: AtomicBool,
    located: Mutex<Vec<Vec<String>>>,
}

impl PresenceState {
    /// `session` of `user` is connected to `node`.
    pub fn connect(&self, user: &str, session: &str, node: &str) {
        self.devices.lock().unwrap().push(pb::DeviceRef {
            user_id: user.into(),
            session_id: session.into(),
            device_id: format!("{session}-device"),
            node_id: node.into(),
        });
    }

    /// `node` is live at `push_addr`.
    pub fn node(&self, node: &str, push_addr: &str) {
        self.nodes
            .lock()
            .unwrap()
            .insert(node.into(), push_addr.into());
    }

    /// `node` stopped sending heartbeats: its devices' records linger without it.
    pub fn forget_node(&self, node: &str) {
        self.nodes.lock().unwrap().remove(node);
    }

    /// The user ids of each LocateDevices call.
    pub fn located(&self) -> Vec<Vec<String>> {
        self.located.lock().unwrap().clone()
    }
}

pub struct FakePresence(Arc<PresenceState>);

#[tonic::async_trait]
impl Presence for FakePresence {
    async fn locate_devices(
        &self,
        request: Request<pb::LocateDevicesRequest>,
    ) -> Reply<pb::LocateDevicesResponse> {
        let users = request.into_inner().user_ids;
        self.0.located.lock().unwrap().push(users.clone());
        if self.0.down.load(Ordering::SeqCst) {
            return Err(down());
        }
        let devices: Vec<pb::DeviceRef> = self
            .0
            .devices
            .lock()
            .unwrap()
            .iter()
            .filter(|device| users.contains(&device.user_id))
            .cloned()
            .collect();
        let known = self.0.nodes.lock().unwrap();
        let mut nodes: Vec<pb::GatewayNode> = known
            .iter()
            .filter(|(node, _)| devices.iter().any(|device| device.node_id == **node))
            .map(|(node, addr)| pb::GatewayNode {
                node_id: node.clone(),
                push_addr: addr.clone(),
                connections: 1,
                last_heartbeat_ms: 1,
            })
            .collect();
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(Response::new(pb::LocateDevicesResponse { devices, nodes }))
    }

    async fn connect_device(
        &self,
        _: Request<pb::ConnectDeviceRequest>,
    ) -> Reply<pb::ConnectDeviceResponse> {
        Err(Status::unimplemented("connect_device"))
    }

    async fn disconnect_device(
        &self,
        _: Request<pb::DisconnectDeviceRequest>,
    ) -> Reply<pb::DisconnectDeviceResponse> {
        Err(Status::unimplemented("disconnect_device"))
    }

    async fn heartbeat(&self, _: Request<pb::HeartbeatRequest>) -> Reply<pb::HeartbeatResponse> {
        Err(Status::unimplemented("heartbeat"))
    }

    async fn get_presence(
        &self,
        _: Request<pb::GetPresenceRequest>,
    ) -> Reply<pb::GetPresenceResponse> {
        Err(Status::unimplemented("get_presence"))
    }

    async fn list_nodes(&self, _: Request<pb::ListNodesRequest>) -> Reply<pb::ListNodesResponse> {
        Err(Status::unimplemented("list_nodes"))
    }
}

pub async fn presence(state: Arc<PresenceState>) -> Served {
    serve(Routes::new(PresenceServer::new(FakePresence(state)))).await
}

// ---------------------------------------------------------------------------------------
// Gateway nodes

/// One frame as a gateway node received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub frame_type: String,
    pub data: Value,
    /// The exact target sessions.
    pub sessions: Vec<String>,
    /// Users whose local sessions get the frame (presence down).
    pub users: Vec<String>,
    pub excluded: Vec<String>,
}

/// What one gateway node was asked to push.
#[derive(Default)]
pub struct PushState {
    pushes: Mutex<Vec<pb::PushRequest>>,
    /// Attempts answered UNAVAILABLE.
    failed: AtomicU32,
    /// The next this many pushes fail with UNAVAILABLE.
    pub fail_next: AtomicU32,
    /// While set, every push fails with UNAVAILABLE.
    pub unreachable: AtomicBool,
}

impl PushState {
    /// The Push requests that succeeded, in order.
    pub fn pushes(&self) -> Vec<pb::PushRequest> {
        self.pushes.lock().unwrap().clone()
    }

    /// Every frame pushed, in order.
    pub fn received(&self) -> Vec<Received> {
        self.pushes()
            .into_iter()
            .flat_map(|push| push.items)
            .map(|item| Received {
                frame_type: item.frame_type,
                data: serde_json::from_str(&item.frame_json).unwrap(),
                sessions: item.targets.into_iter().map(|t| t.session_id).collect(),
                users: item.user_ids,
                excluded: item.exclude_session_ids,
            })
            .collect()
    }

    pub fn failed(&self) -> u32 {
        self.failed.load(Ordering::SeqCst)
    }
}

pub struct FakePush(Arc<PushState>);

#[tonic::async_trait]
impl Push for FakePush {
    async fn push(&self, request: Request<pb::PushRequest>) -> Reply<pb::PushResponse> {
        let state = &self.0;
        let failing = state.unreachable.load(Ordering::SeqCst)
            || state
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if failing {
            state.failed.fetch_add(1, Ordering::SeqCst);
            return Err(down());
        }
        let request = request.into_inner();
        let results = request
            .items
            .iter()
            .map(|item| pb::PushResult {
                delivered: u32::try_from(item.targets.len() + item.user_ids.len()).unwrap(),
                offline: Vec::new(),
            })
            .collect();
        state.pushes.lock().unwrap().push(request);
        Ok(Response::new(pb::PushResponse { results }))
    }

    async fn close_sessions(
        &self,
        _: Request<pb::CloseSessionsRequest>,
    ) -> Reply<pb::CloseSessionsResponse> {
        Err(Status::unimplemented("close_sessions"))
    }
}

pub async fn gateway(state: Arc<PushState>) -> Served {
    serve(Routes::new(PushServer::new(FakePush(state)))).await
}
