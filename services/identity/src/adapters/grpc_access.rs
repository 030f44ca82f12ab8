//! The `im.v1.AccessControl` gRPC service: access rules and role assignments, for the
//! gateways' admin API. Errors go through the one mapping of [`super::grpc`].

use super::grpc::{Reply, reply};
use super::wire;
use crate::app::App;
use crate::ports::Ports;
use im_contracts::v1 as pb;
use im_contracts::v1::access_control_server::AccessControl;
use std::sync::Arc;
use tonic::Request;

pub struct AccessControlGrpc<P: Ports> {
    app: Arc<App<P>>,
}

impl<P: Ports> AccessControlGrpc<P> {
    pub fn new(app: Arc<App<P>>) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl<P: Ports> AccessControl for AccessControlGrpc<P> {
    async fn list_policies(
        &self,
        _request: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        let result = self.app.list_policies().await;
        reply(result, |policies| pb::ListPoliciesResponse {
            policies: policies.into_iter().map(wire::policy).collect(),
        })
    }

    async fn add_policy(
        &self,
        request: Request<pb::AddPolicyRequest>,
    ) -> Reply<pb::AddPolicyResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .add_policy(
                &r.subject,
                &r.object,
                &r.action,
                wire::effect_name(r.effect),
                &r.actor_id,
            )
            .await;
        reply(result, |policy| pb::AddPolicyResponse {
            policy: Some(wire::policy(policy)),
        })
    }

    async fn remove_policy(
        &self,
        request: Request<pb::RemovePolicyRequest>,
    ) -> Reply<pb::RemovePolicyResponse> {
        let r = request.into_inner();
        let result = self.app.remove_policy(&r.id, &r.actor_id).await;
        reply(result, |()| pb::RemovePolicyResponse {})
    }

    async fn list_role_assignments(
        &self,
        request: Request<pb::ListRoleAssignmentsRequest>,
    ) -> Reply<pb::ListRoleAssignmentsResponse> {
        let r = request.into_inner();
        let result = self.app.list_role_assignments(&r.role, &r.user_id).await;
        reply(result, |listed| pb::ListRoleAssignmentsResponse {
            assignments: listed
                .assignments
                .into_iter()
                .map(wire::role_assignment)
                .collect(),
            links: listed.links.into_iter().map(wire::role_link).collect(),
        })
    }

    async fn assign_role(
        &self,
        request: Request<pb::AssignRoleRequest>,
    ) -> Reply<pb::AssignRoleResponse> {
        let r = request.into_inner();
        let result = self.app.assign_role(&r.user_id, &r.role, &r.actor_id).await;
        reply(result, |assignment| pb::AssignRoleResponse {
            assignment: Some(wire::role_assignment(assignment)),
        })
    }

    async fn unassign_role(
        &self,
        request: Request<pb::UnassignRoleRequest>,
    ) -> Reply<pb::UnassignRoleResponse> {
        let r = request.into_inner();
        let result = self
            .app
            .unassign_role(&r.user_id, &r.role, &r.actor_id)
            .await;
        reply(result, |()| pb::UnassignRoleResponse {})
    }
}
