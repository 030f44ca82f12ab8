//! A stand-in for the identity service: a real tonic server on a loopback port that
//! answers just enough for the gateway's cases and records what it was asked. Its
//! AccessControl service is in `fake_access.rs`.

use crate::fake_access::{AccessStore, FakeAccess};
use im_contracts::v1::access_control_server::AccessControlServer;
use im_contracts::v1::identity_server::{Identity, IdentityServer};
use im_contracts::v1::*;
use im_runtime::bus::Bus;
use im_runtime::errors::{status, with_retry_after};
use im_token::{Claims, Jwks, SigningKey};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

pub const PASSWORD: &str = "correct horse";

/// What the fake knows and what it saw.
#[derive(Default)]
pub struct FakeState {
    pub keys: Mutex<Vec<SigningKey>>,
    pub jwks_calls: AtomicUsize,
    pub denylist_calls: AtomicUsize,
    pub denylist: Mutex<GetDenylistResponse>,
    pub logins: Mutex<Vec<LoginRequest>>,
    pub searches: Mutex<Vec<SearchUsersRequest>>,
    pub logouts: Mutex<Vec<LogoutRequest>>,
    /// Access rules (AccessControl).
    pub access: Mutex<AccessStore>,
    /// AddPolicy / RemovePolicy / AssignRole / UnassignRole calls received.
    pub access_writes: AtomicUsize,
    /// When set, listing access rules answers Unavailable.
    pub access_down: AtomicBool,
    /// Where access changes are announced: the bus of the gateways under test.
    pub bus: Mutex<Option<Arc<dyn Bus>>>,
    /// GetUsers calls received.
    pub user_lookups: Mutex<Vec<GetUsersRequest>>,
    /// When set, GetUsers answers Unavailable.
    pub users_down: AtomicBool,
    /// Logins (once recorded) wait while a test holds this for writing.
    pub login_gate: tokio::sync::RwLock<()>,
}

impl FakeState {
    pub fn new() -> Arc<Self> {
        let state = Self::default();
        state.keys.lock().unwrap().push(SigningKey::generate("k1"));
        Arc::new(state)
    }

    pub fn signing_key(&self) -> SigningKey {
        self.keys.lock().unwrap()[0].clone()
    }

    pub fn jwks_calls(&self) -> usize {
        self.jwks_calls.load(Ordering::SeqCst)
    }

    pub fn access_writes(&self) -> usize {
        self.access_writes.load(Ordering::SeqCst)
    }
}

fn user(id: &str, username: &str) -> User {
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        display_name: username.to_owned(),
        avatar_file_id: String::new(),
        bio: String::new(),
        created_at_ms: 1_700_000_000_000,
        roles: vec!["user".to_owned()],
    }
}

pub struct FakeIdentity(pub Arc<FakeState>);

/// A running fake; dropping it stops the server.
pub struct RunningFake {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningFake {
    pub fn new(addr: SocketAddr, stop: oneshot::Sender<()>) -> Self {
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the fake on `listener`.
pub fn serve(state: Arc<FakeState>, listener: TcpListener) -> RunningFake {
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(IdentityServer::new(FakeIdentity(state.clone())))
            .add_service(AccessControlServer::new(FakeAccess(state)))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    RunningFake {
        addr,
        stop: Some(stop),
    }
}

pub async fn start(state: Arc<FakeState>) -> RunningFake {
    serve(state, TcpListener::bind("127.0.0.1:0").await.unwrap())
}

type Reply<T> = Result<Response<T>, Status>;

fn unimplemented<T>() -> Reply<T> {
    Err(Status::unimplemented("not faked"))
}

#[tonic::async_trait]
impl Identity for FakeIdentity {
    async fn register(&self, request: Request<RegisterRequest>) -> Reply<RegisterResponse> {
        let request = request.into_inner();
        if request.username == "taken" {
            return Err(status(
                Code::AlreadyExists,
                "username_taken",
                "that username is taken",
            ));
        }
        Ok(Response::new(RegisterResponse {
            user: Some(user("u-new", &request.username)),
        }))
    }

    async fn login(&self, request: Request<LoginRequest>) -> Reply<LoginResponse> {
        let request = request.into_inner();
        self.0.logins.lock().unwrap().push(request.clone());
        drop(self.0.login_gate.read().await);
        if request.username == "limited" {
            return Err(with_retry_after(
                status(
                    Code::ResourceExhausted,
                    "too_many_attempts",
                    "too many failed logins",
                ),
                30,
            ));
        }
        if request.password != PASSWORD {
            return Err(status(
                Code::Unauthenticated,
                "invalid_credentials",
                "wrong username or password",
            ));
        }
        let now = chrono::Utc::now().timestamp();
        let access_token = self.0.signing_key().sign(&Claims {
            iss: "im".into(),
            aud: "im".into(),
            sub: "u-alice".into(),
            sid: "s-login".into(),
            roles: vec!["user".into()],
            iat: now,
            exp: now + 900,
            jti: "j".into(),
        });
        Ok(Response::new(LoginResponse {
            tokens: Some(TokenPair {
                access_token,
                token_type: "Bearer".into(),
                expires_in_s: 900,
                refresh_token: "r1".into(),
                refresh_expires_in_s: 86_400,
                user: Some(user("u-alice", &request.username)),
                session_id: "s-login".into(),
            }),
        }))
    }

    async fn refresh(&self, _: Request<RefreshRequest>) -> Reply<RefreshResponse> {
        Err(status(
            Code::Unauthenticated,
            "invalid_refresh_token",
            "unknown refresh token",
        ))
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Reply<LogoutResponse> {
        self.0.logouts.lock().unwrap().push(request.into_inner());
        Ok(Response::new(LogoutResponse {}))
    }

    async fn verify_token(&self, _: Request<VerifyTokenRequest>) -> Reply<VerifyTokenResponse> {
        unimplemented()
    }

    async fn introspect(&self, request: Request<IntrospectRequest>) -> Reply<IntrospectResponse> {
        let token = request.into_inner().token;
        if token == "garbage" {
            return Ok(Response::new(IntrospectResponse::default()));
        }
        if token == "unreadable" {
            return Err(Status::invalid_argument("not a token"));
        }
        Ok(Response::new(IntrospectResponse {
            active: true,
            token_type: "refresh".into(),
            user_id: "u1".into(),
            session_id: "s1".into(),
            roles: vec!["user".into()],
            expires_at_ms: 1_900_000_000_999,
            issued_at_ms: 1_800_000_000_000,
        }))
    }

    async fn get_jwks(&self, _: Request<GetJwksRequest>) -> Reply<GetJwksResponse> {
        self.0.jwks_calls.fetch_add(1, Ordering::SeqCst);
        let jwks = Jwks {
            keys: self
                .0
                .keys
                .lock()
                .unwrap()
                .iter()
                .map(|key| key.public_key().to_jwk())
                .collect(),
        };
        Ok(Response::new(GetJwksResponse {
            jwks_json: serde_json::to_string(&jwks).unwrap(),
        }))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Reply<GetUserResponse> {
        let id = request.into_inner().user_id;
        if id.starts_with("missing") {
            return Err(status(Code::NotFound, "user_not_found", "no such user"));
        }
        if id == "explode" {
            return Err(Status::internal("database password is hunter2"));
        }
        let mut found = user(&id, "someone");
        found.roles.push("admin".into());
        Ok(Response::new(GetUserResponse { user: Some(found) }))
    }

    /// Every id is a user but those starting with `missing`.
    async fn get_users(&self, request: Request<GetUsersRequest>) -> Reply<GetUsersResponse> {
        let request = request.into_inner();
        self.0.user_lookups.lock().unwrap().push(request.clone());
        if self.0.users_down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("identity is restarting"));
        }
        let users = request
            .user_ids
            .iter()
            .filter(|id| !id.starts_with("missing"))
            .map(|id| user(id, &format!("name-{id}")))
            .collect();
        Ok(Response::new(GetUsersResponse { users }))
    }

    async fn search_users(
        &self,
        request: Request<SearchUsersRequest>,
    ) -> Reply<SearchUsersResponse> {
        self.0.searches.lock().unwrap().push(request.into_inner());
        Ok(Response::new(SearchUsersResponse {
            users: vec![user("u1", "alice"), user("u2", "alicia")],
            page_info: Some(PageInfo {
                next_cursor: "c2".into(),
            }),
        }))
    }

    async fn update_profile(
        &self,
        request: Request<UpdateProfileRequest>,
    ) -> Reply<UpdateProfileResponse> {
        let request = request.into_inner();
        let mut updated = user(&request.user_id, "alice");
        if let Some(name) = request.display_name {
            updated.display_name = name;
        }
        if let Some(bio) = request.bio {
            updated.bio = bio;
        }
        Ok(Response::new(UpdateProfileResponse {
            user: Some(updated),
        }))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Reply<ChangePasswordResponse> {
        if request.into_inner().old_password != PASSWORD {
            return Err(status(
                Code::PermissionDenied,
                "wrong_password",
                "the old password is wrong",
            ));
        }
        Ok(Response::new(ChangePasswordResponse {
            revoked_sessions: 1,
        }))
    }

    async fn delete_user(&self, _: Request<DeleteUserRequest>) -> Reply<DeleteUserResponse> {
        Ok(Response::new(DeleteUserResponse {}))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Reply<ListSessionsResponse> {
        let request = request.into_inner();
        let session = |id: &str| Session {
            id: id.into(),
            user_id: request.user_id.clone(),
            device_id: format!("device-{id}"),
            user_agent: "test".into(),
            client_ip: "127.0.0.1".into(),
            created_at_ms: 1_700_000_000_000,
            last_used_at_ms: 1_700_000_001_000,
            expires_at_ms: 1_800_000_000_000,
            current: id == request.current_session_id,
        };
        Ok(Response::new(ListSessionsResponse {
            sessions: vec![session("s1"), session("s2")],
        }))
    }

    async fn revoke_session(
        &self,
        _: Request<RevokeSessionRequest>,
    ) -> Reply<RevokeSessionResponse> {
        Ok(Response::new(RevokeSessionResponse {}))
    }

    async fn ban_user(&self, request: Request<BanUserRequest>) -> Reply<BanUserResponse> {
        let request = request.into_inner();
        Ok(Response::new(BanUserResponse {
            ban: Some(Ban {
                user_id: request.user_id,
                reason: request.reason,
                until_ms: request.until_ms,
                actor_id: request.actor_id,
                created_at_ms: 1_700_000_000_000,
            }),
        }))
    }

    async fn unban_user(&self, _: Request<UnbanUserRequest>) -> Reply<UnbanUserResponse> {
        Ok(Response::new(UnbanUserResponse {}))
    }

    async fn list_bans(&self, _: Request<ListBansRequest>) -> Reply<ListBansResponse> {
        unimplemented()
    }

    async fn block_ip(&self, request: Request<BlockIpRequest>) -> Reply<BlockIpResponse> {
        let request = request.into_inner();
        Ok(Response::new(BlockIpResponse {
            ip_block: Some(IpBlock {
                id: "b1".into(),
                cidr: request.cidr,
                reason: request.reason,
                until_ms: request.until_ms,
                created_at_ms: 1_700_000_000_000,
            }),
        }))
    }

    async fn unblock_ip(&self, _: Request<UnblockIpRequest>) -> Reply<UnblockIpResponse> {
        Ok(Response::new(UnblockIpResponse {}))
    }

    async fn list_ip_blocks(&self, _: Request<ListIpBlocksRequest>) -> Reply<ListIpBlocksResponse> {
        Ok(Response::new(ListIpBlocksResponse {
            ip_blocks: vec![IpBlock {
                id: "b1".into(),
                cidr: "192.0.2.0/24".into(),
                reason: "abuse".into(),
                until_ms: 0,
                created_at_ms: 1_700_000_000_000,
            }],
        }))
    }

    async fn get_denylist(&self, _: Request<GetDenylistRequest>) -> Reply<GetDenylistResponse> {
        self.0.denylist_calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(self.0.denylist.lock().unwrap().clone()))
    }
}
