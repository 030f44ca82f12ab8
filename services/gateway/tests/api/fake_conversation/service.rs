//! The fake's `ConversationService`: each RPC records its request and answers with the
//! fixtures of the parent module.

use super::{
    FakeConversation, T0, conversation, failure, friend_request, join_request, member, next,
    settings,
};
use im_contracts::v1::conversation_service_server::ConversationService;
use im_contracts::v1::*;
use im_runtime::errors::status;
use tonic::{Code, Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

impl FakeConversation {
    fn take<T: prost::Message + Clone>(&self, rpc: &'static str, request: Request<T>) -> T {
        let request = request.into_inner();
        self.0.record(rpc, &request);
        request
    }
}

#[tonic::async_trait]
impl ConversationService for FakeConversation {
    type WatchMembershipStream = tokio_stream::Empty<Result<MembershipEvent, Status>>;

    async fn send_friend_request(
        &self,
        request: Request<SendFriendRequestRequest>,
    ) -> Reply<SendFriendRequestResponse> {
        let r = self.take("SendFriendRequest", request);
        ok(SendFriendRequestResponse {
            friend_request: Some(friend_request(
                "fr1",
                &r.from_user_id,
                &r.to_user_id,
                FriendRequestStatus::Pending,
            )),
        })
    }

    async fn list_friend_requests(
        &self,
        request: Request<ListFriendRequestsRequest>,
    ) -> Reply<ListFriendRequestsResponse> {
        let r = self.take("ListFriendRequests", request);
        ok(ListFriendRequestsResponse {
            friend_requests: vec![friend_request(
                "fr1",
                "u2",
                &r.user_id,
                FriendRequestStatus::Pending,
            )],
            page_info: next(""),
        })
    }

    async fn accept_friend_request(
        &self,
        request: Request<AcceptFriendRequestRequest>,
    ) -> Reply<AcceptFriendRequestResponse> {
        let r = self.take("AcceptFriendRequest", request);
        failure(&r.request_id)?;
        ok(AcceptFriendRequestResponse {
            friend_request: Some(friend_request(
                &r.request_id,
                "u2",
                &r.user_id,
                FriendRequestStatus::Accepted,
            )),
            contact: None,
        })
    }

    async fn reject_friend_request(
        &self,
        request: Request<RejectFriendRequestRequest>,
    ) -> Reply<RejectFriendRequestResponse> {
        let r = self.take("RejectFriendRequest", request);
        ok(RejectFriendRequestResponse {
            friend_request: Some(friend_request(
                &r.request_id,
                "u2",
                &r.user_id,
                FriendRequestStatus::Rejected,
            )),
        })
    }

    async fn cancel_friend_request(
        &self,
        request: Request<CancelFriendRequestRequest>,
    ) -> Reply<CancelFriendRequestResponse> {
        let r = self.take("CancelFriendRequest", request);
        ok(CancelFriendRequestResponse {
            friend_request: Some(friend_request(
                &r.request_id,
                &r.user_id,
                "u2",
                FriendRequestStatus::Cancelled,
            )),
        })
    }

    async fn list_contacts(
        &self,
        request: Request<ListContactsRequest>,
    ) -> Reply<ListContactsResponse> {
        self.take("ListContacts", request);
        let contact = |id: &str| Contact {
            user_id: id.into(),
            remark: format!("remark of {id}"),
            created_at_ms: T0,
        };
        ok(ListContactsResponse {
            // missing-gone's account no longer exists (see the fake identity).
            contacts: vec![contact("u2"), contact("missing-gone")],
            page_info: next("k2"),
        })
    }

    async fn update_contact(
        &self,
        request: Request<UpdateContactRequest>,
    ) -> Reply<UpdateContactResponse> {
        let r = self.take("UpdateContact", request);
        ok(UpdateContactResponse {
            contact: Some(Contact {
                user_id: r.contact_id,
                remark: r.remark,
                created_at_ms: T0,
            }),
        })
    }

    async fn delete_contact(
        &self,
        request: Request<DeleteContactRequest>,
    ) -> Reply<DeleteContactResponse> {
        self.take("DeleteContact", request);
        ok(DeleteContactResponse {})
    }

    async fn block(&self, request: Request<BlockRequest>) -> Reply<BlockResponse> {
        let r = self.take("Block", request);
        ok(BlockResponse {
            blocked_user: Some(BlockedUser {
                user_id: r.blocked_user_id,
                created_at_ms: T0,
            }),
        })
    }

    async fn unblock(&self, request: Request<UnblockRequest>) -> Reply<UnblockResponse> {
        let r = self.take("Unblock", request);
        if r.blocked_user_id == "u-unblocked" {
            return Err(status(Code::NotFound, "block_not_found", "not blocked"));
        }
        ok(UnblockResponse {})
    }

    async fn list_blocks(&self, request: Request<ListBlocksRequest>) -> Reply<ListBlocksResponse> {
        self.take("ListBlocks", request);
        ok(ListBlocksResponse {
            blocked_users: vec![BlockedUser {
                user_id: "u3".into(),
                created_at_ms: T0,
            }],
            page_info: next(""),
        })
    }

    async fn get_or_create_direct(
        &self,
        request: Request<GetOrCreateDirectRequest>,
    ) -> Reply<GetOrCreateDirectResponse> {
        let r = self.take("GetOrCreateDirect", request);
        let mut conversation = conversation(&format!("d-{}", r.peer_id));
        conversation.last_message = None;
        ok(GetOrCreateDirectResponse {
            conversation: Some(conversation),
            created: r.peer_id == "u-new",
        })
    }

    async fn create_group(
        &self,
        request: Request<CreateGroupRequest>,
    ) -> Reply<CreateGroupResponse> {
        let r = self.take("CreateGroup", request);
        let mut group = conversation("c-new");
        group.name = r.name;
        group.owner_id = r.owner_id.clone();
        let mut members = vec![member(&r.owner_id, MemberRole::Owner)];
        members.extend(r.member_ids.iter().map(|id| member(id, MemberRole::Member)));
        ok(CreateGroupResponse {
            conversation: Some(group),
            members,
            settings: r.settings,
        })
    }

    async fn get_conversation(
        &self,
        request: Request<GetConversationRequest>,
    ) -> Reply<GetConversationResponse> {
        let r = self.take("GetConversation", request);
        failure(&r.conversation_id)?;
        let direct = r.conversation_id.starts_with("d-");
        ok(GetConversationResponse {
            conversation: Some(conversation(&r.conversation_id)),
            viewer: Some(member(&r.viewer_id, MemberRole::Owner)),
            member_count: if direct { 2 } else { 3 },
            settings: Some(if direct {
                GroupSettings::default()
            } else {
                settings()
            }),
            peer_id: if direct { "u2" } else { "" }.into(),
        })
    }

    async fn update_conversation(
        &self,
        request: Request<UpdateConversationRequest>,
    ) -> Reply<UpdateConversationResponse> {
        let r = self.take("UpdateConversation", request);
        failure(&r.conversation_id)?;
        ok(UpdateConversationResponse {
            conversation: Some(conversation(&r.conversation_id)),
            settings: Some(settings()),
        })
    }

    async fn dissolve_group(
        &self,
        request: Request<DissolveGroupRequest>,
    ) -> Reply<DissolveGroupResponse> {
        let r = self.take("DissolveGroup", request);
        failure(&r.conversation_id)?;
        ok(DissolveGroupResponse {})
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Reply<ListMembersResponse> {
        let r = self.take("ListMembers", request);
        failure(&r.conversation_id)?;
        let mut muted = member("u3", MemberRole::Member);
        muted.muted_until_ms = T0 + 60_000;
        ok(ListMembersResponse {
            members: vec![member("u1", MemberRole::Owner), muted],
            page_info: next("m2"),
        })
    }

    async fn invite_members(
        &self,
        request: Request<InviteMembersRequest>,
    ) -> Reply<InviteMembersResponse> {
        let r = self.take("InviteMembers", request);
        failure(&r.conversation_id)?;
        ok(InviteMembersResponse {
            added: r
                .user_ids
                .iter()
                .map(|id| member(id, MemberRole::Member))
                .collect(),
        })
    }

    async fn update_member(
        &self,
        request: Request<UpdateMemberRequest>,
    ) -> Reply<UpdateMemberResponse> {
        let r = self.take("UpdateMember", request);
        failure(&r.conversation_id)?;
        let role = if r.role.is_some() {
            r.role()
        } else {
            MemberRole::Member
        };
        let mut updated = member(&r.user_id, role);
        updated.muted_until_ms = r.muted_until_ms.unwrap_or(0);
        ok(UpdateMemberResponse {
            member: Some(updated),
        })
    }

    async fn remove_member(
        &self,
        request: Request<RemoveMemberRequest>,
    ) -> Reply<RemoveMemberResponse> {
        let r = self.take("RemoveMember", request);
        failure(&r.conversation_id)?;
        ok(RemoveMemberResponse { dissolved: false })
    }

    async fn transfer_ownership(
        &self,
        request: Request<TransferOwnershipRequest>,
    ) -> Reply<TransferOwnershipResponse> {
        let r = self.take("TransferOwnership", request);
        failure(&r.conversation_id)?;
        let mut transferred = conversation(&r.conversation_id);
        transferred.owner_id = r.new_owner_id;
        ok(TransferOwnershipResponse {
            conversation: Some(transferred),
        })
    }

    async fn list_user_conversations(
        &self,
        request: Request<ListUserConversationsRequest>,
    ) -> Reply<ListUserConversationsResponse> {
        self.take("ListUserConversations", request);
        let mut quiet = conversation("c-quiet");
        quiet.last_message = None;
        ok(ListUserConversationsResponse {
            conversations: vec![conversation("d-1"), quiet],
            page_info: next("v2"),
            direct_peers: [("d-1".to_owned(), "u2".to_owned())].into(),
        })
    }

    async fn check_send(&self, _: Request<CheckSendRequest>) -> Reply<CheckSendResponse> {
        Err(Status::unimplemented("not faked"))
    }

    async fn watch_membership(
        &self,
        _: Request<WatchMembershipRequest>,
    ) -> Reply<Self::WatchMembershipStream> {
        Err(Status::unimplemented("not faked"))
    }

    /// `c-open` is joined at once; any other group needs approval.
    async fn join_group(&self, request: Request<JoinGroupRequest>) -> Reply<JoinGroupResponse> {
        let r = self.take("JoinGroup", request);
        failure(&r.conversation_id)?;
        if r.conversation_id == "c-open" {
            return ok(JoinGroupResponse {
                joined: true,
                member: Some(member(&r.user_id, MemberRole::Member)),
                join_request: None,
            });
        }
        ok(JoinGroupResponse {
            joined: false,
            member: None,
            join_request: Some(join_request(
                "jr-mine",
                &r.conversation_id,
                &r.user_id,
                JoinRequestStatus::Pending,
            )),
        })
    }

    /// Two pages: u4 and u5 first, then u6.
    async fn list_join_requests(
        &self,
        request: Request<ListJoinRequestsRequest>,
    ) -> Reply<ListJoinRequestsResponse> {
        let r = self.take("ListJoinRequests", request);
        failure(&r.conversation_id)?;
        let pending = |user: &str| {
            join_request(
                &format!("jr-{user}"),
                &r.conversation_id,
                user,
                JoinRequestStatus::Pending,
            )
        };
        let second_page = r.page.is_some_and(|page| page.cursor == "j2");
        ok(if second_page {
            ListJoinRequestsResponse {
                join_requests: vec![pending("u6")],
                page_info: next(""),
            }
        } else {
            ListJoinRequestsResponse {
                join_requests: vec![pending("u4"), pending("u5")],
                page_info: next("j2"),
            }
        })
    }

    async fn approve_join_request(
        &self,
        request: Request<ApproveJoinRequestRequest>,
    ) -> Reply<ApproveJoinRequestResponse> {
        let r = self.take("ApproveJoinRequest", request);
        let user = r.request_id.trim_start_matches("jr-");
        ok(ApproveJoinRequestResponse {
            join_request: Some(join_request(
                &r.request_id,
                "c1",
                user,
                JoinRequestStatus::Approved,
            )),
            member: Some(member(user, MemberRole::Member)),
        })
    }

    async fn reject_join_request(
        &self,
        request: Request<RejectJoinRequestRequest>,
    ) -> Reply<RejectJoinRequestResponse> {
        let r = self.take("RejectJoinRequest", request);
        let user = r.request_id.trim_start_matches("jr-");
        ok(RejectJoinRequestResponse {
            join_request: Some(join_request(
                &r.request_id,
                "c1",
                user,
                JoinRequestStatus::Rejected,
            )),
        })
    }
}
