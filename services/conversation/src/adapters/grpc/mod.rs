//! The `im.v1.ConversationService` gRPC service: decodes requests, calls the use cases,
//! encodes replies; errors map to statuses in [`status`], the membership stream lives in
//! [`watch`].
//!
//! Callers are other services: the gateway passes the authenticated user as the actor
//! (or viewer); an empty viewer on `ListMembers` is a trusted internal caller.

mod status;
mod watch;

use super::wire;
use crate::app::{App, AppError, ConversationChanges, JoinOutcome, NewGroup, PageRequest, Paged};
use crate::domain::ValidationError;
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_service_server::ConversationService;
use status::to_status;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Request, Response, Status};

pub struct ConversationGrpc<P: Ports> {
    app: Arc<App<P>>,
    /// Ends membership streams and the service's background tasks when the service goes.
    stop: CancellationToken,
    _stop_on_drop: Arc<DropGuard>,
}

impl<P: Ports> ConversationGrpc<P> {
    /// `stop` is cancelled when this service is dropped.
    pub fn new(app: Arc<App<P>>, stop: CancellationToken) -> Self {
        Self {
            app,
            _stop_on_drop: Arc::new(stop.clone().drop_guard()),
            stop,
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T, U>(result: Result<T, AppError>, encode: impl FnOnce(T) -> U) -> Reply<U> {
    result
        .map(|value| Response::new(encode(value)))
        .map_err(to_status)
}

fn page(page: Option<pb::Page>) -> PageRequest {
    let page = page.unwrap_or_default();
    PageRequest {
        limit: page.limit,
        cursor: page.cursor,
    }
}

fn page_info<T>(paged: &Paged<T>) -> Option<pb::PageInfo> {
    Some(pb::PageInfo {
        next_cursor: paged.next_cursor.clone().unwrap_or_default(),
    })
}

fn invalid(error: ValidationError) -> Status {
    to_status(error.into())
}

#[tonic::async_trait]
impl<P: Ports> ConversationService for ConversationGrpc<P> {
    type WatchMembershipStream = watch::MembershipStream;

    async fn send_friend_request(
        &self,
        request: Request<pb::SendFriendRequestRequest>,
    ) -> Reply<pb::SendFriendRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .send_friend_request(&r.from_user_id, &r.to_user_id, &r.message)
            .await;
        reply(result, |request| pb::SendFriendRequestResponse {
            friend_request: Some(wire::friend_request(&request)),
        })
    }

    async fn list_friend_requests(
        &self,
        request: Request<pb::ListFriendRequestsRequest>,
    ) -> Reply<pb::ListFriendRequestsResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .list_friend_requests(&r.user_id, wire::direction(r.direction), &page(r.page))
            .await;
        reply(result, |paged| pb::ListFriendRequestsResponse {
            page_info: page_info(&paged),
            friend_requests: paged.items.iter().map(wire::friend_request).collect(),
        })
    }

    async fn accept_friend_request(
        &self,
        request: Request<pb::AcceptFriendRequestRequest>,
    ) -> Reply<pb::AcceptFriendRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .accept_friend_request(&r.request_id, &r.user_id)
            .await;
        reply(result, |(request, contact)| {
            pb::AcceptFriendRequestResponse {
                friend_request: Some(wire::friend_request(&request)),
                contact: Some(wire::contact(&contact)),
            }
        })
    }

    async fn reject_friend_request(
        &self,
        request: Request<pb::RejectFriendRequestRequest>,
    ) -> Reply<pb::RejectFriendRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .reject_friend_request(&r.request_id, &r.user_id)
            .await;
        reply(result, |request| pb::RejectFriendRequestResponse {
            friend_request: Some(wire::friend_request(&request)),
        })
    }

    async fn cancel_friend_request(
        &self,
        request: Request<pb::CancelFriendRequestRequest>,
    ) -> Reply<pb::CancelFriendRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .cancel_friend_request(&r.request_id, &r.user_id)
            .await;
        reply(result, |request| pb::CancelFriendRequestResponse {
            friend_request: Some(wire::friend_request(&request)),
        })
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Reply<pb::ListContactsResponse> {
        let r = request.into_inner();
        let result = self.app.list_contacts(&r.user_id, &page(r.page)).await;
        reply(result, |paged| pb::ListContactsResponse {
            page_info: page_info(&paged),
            contacts: paged.items.iter().map(wire::contact).collect(),
        })
    }

    async fn update_contact(
        &self,
        request: Request<pb::UpdateContactRequest>,
    ) -> Reply<pb::UpdateContactResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .set_remark(&r.user_id, &r.contact_id, &r.remark)
            .await;
        reply(result, |contact| pb::UpdateContactResponse {
            contact: Some(wire::contact(&contact)),
        })
    }

    async fn delete_contact(
        &self,
        request: Request<pb::DeleteContactRequest>,
    ) -> Reply<pb::DeleteContactResponse> {
        let r = request.into_inner();
        let result = self.app.delete_contact(&r.user_id, &r.contact_id).await;
        reply(result, |()| pb::DeleteContactResponse {})
    }

    async fn block(&self, request: Request<pb::BlockRequest>) -> Reply<pb::BlockResponse> {
        let r = request.into_inner();
        let result = self.app.block(&r.user_id, &r.blocked_user_id).await;
        reply(result, |block| pb::BlockResponse {
            blocked_user: Some(wire::blocked_user(&block)),
        })
    }

    async fn unblock(&self, request: Request<pb::UnblockRequest>) -> Reply<pb::UnblockResponse> {
        let r = request.into_inner();
        let result = self.app.unblock(&r.user_id, &r.blocked_user_id).await;
        reply(result, |()| pb::UnblockResponse {})
    }

    async fn list_blocks(
        &self,
        request: Request<pb::ListBlocksRequest>,
    ) -> Reply<pb::ListBlocksResponse> {
        let r = request.into_inner();
        let result = self.app.list_blocks(&r.user_id, &page(r.page)).await;
        reply(result, |paged| pb::ListBlocksResponse {
            page_info: page_info(&paged),
            blocked_users: paged.items.iter().map(wire::blocked_user).collect(),
        })
    }

    async fn get_or_create_direct(
        &self,
        request: Request<pb::GetOrCreateDirectRequest>,
    ) -> Reply<pb::GetOrCreateDirectResponse> {
        let r = request.into_inner();
        let result = self.app.get_or_create_direct(&r.user_id, &r.peer_id).await;
        reply(result, |(view, created)| pb::GetOrCreateDirectResponse {
            conversation: Some(wire::view(&view)),
            created,
        })
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Reply<pb::CreateGroupResponse> {
        let r = request.into_inner();
        let settings = wire::settings_in(r.settings.as_ref()).map_err(invalid)?;
        let result = self
            .app
            .create_group(NewGroup {
                owner: &r.owner_id,
                name: &r.name,
                member_ids: &r.member_ids,
                avatar_file_id: &r.avatar_file_id,
                announcement: &r.announcement,
                settings,
            })
            .await;
        reply(result, |(conversation, members)| {
            let owner = members.first();
            pb::CreateGroupResponse {
                conversation: Some(wire::conversation(&conversation, owner)),
                settings: Some(wire::settings(&conversation.settings)),
                members: members.iter().map(wire::member).collect(),
            }
        })
    }

    async fn get_conversation(
        &self,
        request: Request<pb::GetConversationRequest>,
    ) -> Reply<pb::GetConversationResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .get_conversation(&r.conversation_id, &r.viewer_id)
            .await;
        reply(result, |view| pb::GetConversationResponse {
            conversation: Some(wire::view(&view)),
            viewer: Some(wire::member(&view.member)),
            member_count: u32::try_from(view.member_count).unwrap_or(u32::MAX),
            settings: Some(wire::settings(&view.conversation.settings)),
            peer_id: view
                .conversation
                .peer_of(&view.member.user_id)
                .map(|peer| peer.as_str().to_owned())
                .unwrap_or_default(),
        })
    }

    async fn update_conversation(
        &self,
        request: Request<pb::UpdateConversationRequest>,
    ) -> Reply<pb::UpdateConversationResponse> {
        let r = request.into_inner();
        let invite_policy = match r.invite_policy {
            Some(value) => Some(
                wire::invite_policy_in(value)
                    .and_then(|policy| policy.ok_or(ValidationError::Policy))
                    .map_err(invalid)?,
            ),
            None => None,
        };
        let join_policy = match r.join_policy {
            Some(value) => Some(
                wire::join_policy_in(value)
                    .and_then(|policy| policy.ok_or(ValidationError::Policy))
                    .map_err(invalid)?,
            ),
            None => None,
        };
        let changes = ConversationChanges {
            name: r.name.as_deref(),
            avatar_file_id: r.avatar_file_id.as_deref(),
            announcement: r.announcement.as_deref(),
            invite_policy,
            join_policy,
            mute_all: r.mute_all,
        };
        let result = self
            .app
            .update_conversation(&r.conversation_id, &r.actor_id, changes)
            .await;
        reply(result, |conversation| pb::UpdateConversationResponse {
            settings: Some(wire::settings(&conversation.settings)),
            conversation: Some(wire::conversation(&conversation, None)),
        })
    }

    async fn dissolve_group(
        &self,
        request: Request<pb::DissolveGroupRequest>,
    ) -> Reply<pb::DissolveGroupResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .dissolve_group(&r.conversation_id, &r.actor_id)
            .await;
        reply(result, |()| pb::DissolveGroupResponse {})
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Reply<pb::ListMembersResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .list_members(&r.conversation_id, &r.viewer_id, &page(r.page))
            .await;
        reply(result, |paged| pb::ListMembersResponse {
            page_info: page_info(&paged),
            members: paged.items.iter().map(wire::member).collect(),
        })
    }

    async fn invite_members(
        &self,
        request: Request<pb::InviteMembersRequest>,
    ) -> Reply<pb::InviteMembersResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .invite_members(&r.conversation_id, &r.actor_id, &r.user_ids)
            .await;
        reply(result, |added| pb::InviteMembersResponse {
            added: added.iter().map(wire::member).collect(),
        })
    }

    async fn update_member(
        &self,
        request: Request<pb::UpdateMemberRequest>,
    ) -> Reply<pb::UpdateMemberResponse> {
        let r = request.into_inner();
        let role = r.role.map(wire::role_in).transpose().map_err(invalid)?;
        let result = self
            .app
            .update_member(
                &r.conversation_id,
                &r.actor_id,
                &r.user_id,
                role,
                r.muted_until_ms,
            )
            .await;
        reply(result, |member| pb::UpdateMemberResponse {
            member: Some(wire::member(&member)),
        })
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Reply<pb::RemoveMemberResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .remove_member(&r.conversation_id, &r.actor_id, &r.user_id)
            .await;
        reply(result, |dissolved| pb::RemoveMemberResponse { dissolved })
    }

    async fn transfer_ownership(
        &self,
        request: Request<pb::TransferOwnershipRequest>,
    ) -> Reply<pb::TransferOwnershipResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .transfer_ownership(&r.conversation_id, &r.actor_id, &r.new_owner_id)
            .await;
        reply(result, |view| pb::TransferOwnershipResponse {
            conversation: Some(wire::view(&view)),
        })
    }

    async fn list_user_conversations(
        &self,
        request: Request<pb::ListUserConversationsRequest>,
    ) -> Reply<pb::ListUserConversationsResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .list_user_conversations(&r.user_id, &page(r.page))
            .await;
        reply(result, |paged| {
            let mut direct_peers = HashMap::new();
            let conversations = paged
                .items
                .iter()
                .map(|row| {
                    if let Some(peer) = row.conversation.peer_of(&row.member.user_id) {
                        direct_peers.insert(
                            row.conversation.id.as_str().to_owned(),
                            peer.as_str().to_owned(),
                        );
                    }
                    wire::conversation(&row.conversation, Some(&row.member))
                })
                .collect();
            pb::ListUserConversationsResponse {
                conversations,
                page_info: page_info(&paged),
                direct_peers,
            }
        })
    }

    async fn check_send(
        &self,
        request: Request<pb::CheckSendRequest>,
    ) -> Reply<pb::CheckSendResponse> {
        let r = request.into_inner();
        let result = self.app.check_send(&r.conversation_id, &r.user_id).await;
        reply(result, |check| wire::send_check(&check))
    }

    async fn watch_membership(
        &self,
        request: Request<pb::WatchMembershipRequest>,
    ) -> Reply<Self::WatchMembershipStream> {
        let from = request.into_inner().from_version;
        Ok(Response::new(watch::watch(
            self.app.clone(),
            from,
            self.stop.child_token(),
        )))
    }

    async fn join_group(
        &self,
        request: Request<pb::JoinGroupRequest>,
    ) -> Reply<pb::JoinGroupResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .join_group(&r.conversation_id, &r.user_id, &r.message)
            .await;
        reply(result, |outcome| match outcome {
            JoinOutcome::Joined(member) => pb::JoinGroupResponse {
                joined: true,
                member: Some(wire::member(&member)),
                join_request: None,
            },
            JoinOutcome::Requested(request) => pb::JoinGroupResponse {
                joined: false,
                member: None,
                join_request: Some(wire::join_request(&request)),
            },
        })
    }

    async fn list_join_requests(
        &self,
        request: Request<pb::ListJoinRequestsRequest>,
    ) -> Reply<pb::ListJoinRequestsResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .list_join_requests(&r.conversation_id, &r.actor_id, &page(r.page))
            .await;
        reply(result, |paged| pb::ListJoinRequestsResponse {
            page_info: page_info(&paged),
            join_requests: paged.items.iter().map(wire::join_request).collect(),
        })
    }

    async fn approve_join_request(
        &self,
        request: Request<pb::ApproveJoinRequestRequest>,
    ) -> Reply<pb::ApproveJoinRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .approve_join_request(&r.request_id, &r.actor_id)
            .await;
        reply(result, |(request, member)| pb::ApproveJoinRequestResponse {
            join_request: Some(wire::join_request(&request)),
            member: Some(wire::member(&member)),
        })
    }

    async fn reject_join_request(
        &self,
        request: Request<pb::RejectJoinRequestRequest>,
    ) -> Reply<pb::RejectJoinRequestResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .reject_join_request(&r.request_id, &r.actor_id)
            .await;
        reply(result, |request| pb::RejectJoinRequestResponse {
            join_request: Some(wire::join_request(&request)),
        })
    }
}
