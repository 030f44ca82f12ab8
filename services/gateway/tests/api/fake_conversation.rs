//! A stand-in for the conversation service: a real tonic server on a loopback port that
//! records every request and answers with canned values, or with the error a magic id
//! asks for. It knows nothing of the conversation domain; the gateway's own behaviour
//! (checks, mapping of bodies and errors) is what the tests look at.

use crate::fake_identity::RunningFake;
use im_contracts::v1::conversation_service_server::ConversationServiceServer;
use im_contracts::v1::*;
use im_runtime::errors::{status, with_retry_after};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Status};

mod service;

pub const T0: i64 = 1_700_000_000_000;

/// Every request received: the RPC's name and the encoded request.
#[derive(Default)]
pub struct ConversationState {
    calls: Mutex<Vec<(&'static str, Vec<u8>)>>,
}

impl ConversationState {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn record(&self, rpc: &'static str, request: &impl prost::Message) {
        self.calls
            .lock()
            .unwrap()
            .push((rpc, request.encode_to_vec()));
    }

    /// The requests `rpc` received, in order.
    pub fn seen<T: prost::Message + Default>(&self, rpc: &str) -> Vec<T> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| *name == rpc)
            .map(|(_, bytes)| T::decode(bytes.as_slice()).unwrap())
            .collect()
    }

    /// How many requests arrived at all.
    pub fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

/// The error an id asks for: `c-missing`, `c-forbidden`, `c-rule`, `c-taken`, `c-busy`
/// (contention), `c-down` (the service's database is down), `c-bug`.
pub fn failure(id: &str) -> Result<(), Status> {
    let failure = match id {
        "c-missing" => status(
            Code::NotFound,
            "conversation_not_found",
            "no such conversation",
        ),
        "c-forbidden" => status(Code::PermissionDenied, "insufficient_role", "admins only"),
        "c-rule" => status(Code::FailedPrecondition, "not_a_group", "not a group"),
        "c-taken" => status(Code::AlreadyExists, "already_member", "already a member"),
        "c-busy" => with_retry_after(status(Code::Aborted, "contention", "busy"), 1),
        "c-down" => with_retry_after(status(Code::Unavailable, "unavailable", "database down"), 2),
        "c-bug" => Status::internal("table conversation_members is corrupt"),
        _ => return Ok(()),
    };
    Err(failure)
}

pub fn message(conversation_id: &str) -> Message {
    Message {
        id: "m9".into(),
        conversation_id: conversation_id.into(),
        seq: 9,
        sender_id: "u2".into(),
        client_msg_id: "cm9".into(),
        r#type: MessageType::Text.into(),
        body_json: r#"{"text":"hi"}"#.into(),
        created_at_ms: T0,
        ..Message::default()
    }
}

/// A group `id` owned by u1 (or a direct conversation when the id starts with `d-`).
pub fn conversation(id: &str) -> Conversation {
    let direct = id.starts_with("d-");
    Conversation {
        id: id.into(),
        kind: if direct {
            ConversationKind::Direct
        } else {
            ConversationKind::Group
        }
        .into(),
        name: if direct { "" } else { "Team" }.into(),
        owner_id: if direct { "" } else { "u1" }.into(),
        max_seq: 9,
        read_seq: 7,
        unread: 2,
        last_message: Some(message(id)),
        updated_at_ms: T0,
        ..Conversation::default()
    }
}

pub fn settings() -> GroupSettings {
    GroupSettings {
        invite_policy: InvitePolicy::AdminsOnly.into(),
        join_policy: JoinPolicy::Approval.into(),
        mute_all: false,
    }
}

pub fn member(user_id: &str, role: MemberRole) -> Member {
    Member {
        user_id: user_id.into(),
        role: role.into(),
        muted_until_ms: 0,
        joined_at_ms: T0,
    }
}

pub fn friend_request(
    id: &str,
    from: &str,
    to: &str,
    status: FriendRequestStatus,
) -> FriendRequest {
    FriendRequest {
        id: id.into(),
        from_user_id: from.into(),
        to_user_id: to.into(),
        message: "hello".into(),
        status: status.into(),
        created_at_ms: T0,
        decided_at_ms: if status == FriendRequestStatus::Pending {
            0
        } else {
            T0 + 1
        },
        updated_at_ms: T0,
    }
}

pub fn join_request(
    id: &str,
    conversation_id: &str,
    user_id: &str,
    status: JoinRequestStatus,
) -> JoinRequest {
    JoinRequest {
        id: id.into(),
        conversation_id: conversation_id.into(),
        user_id: user_id.into(),
        message: "let me in".into(),
        status: status.into(),
        created_at_ms: T0,
        updated_at_ms: T0,
        ..JoinRequest::default()
    }
}

pub fn next(cursor: &str) -> Option<PageInfo> {
    Some(PageInfo {
        next_cursor: cursor.into(),
    })
}

pub struct FakeConversation(pub Arc<ConversationState>);

pub async fn start(state: Arc<ConversationState>) -> RunningFake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(ConversationServiceServer::new(FakeConversation(state)))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    RunningFake::new(addr, stop)
}
