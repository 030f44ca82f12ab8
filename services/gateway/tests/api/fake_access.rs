//! The fake identity's AccessControl: rules in memory, seeded like a new deployment
//! (`default_rules()`, `DEFAULT_ROLE_LINKS`) plus `u-admin` holding `admin`, validated
//! like identity does, and every change announced with `AccessChanged` on the bus of
//! the gateways under test.

use crate::fake_identity::FakeState;
use im_access::{DEFAULT_ROLE_LINKS, Effect, IMPLICIT_ROLE, Rule, default_rules, validate_role};
use im_contracts::topics::IDENTITY_EVENTS;
use im_contracts::v1::access_control_server::AccessControl;
use im_contracts::v1::identity_event::Kind;
use im_contracts::v1::*;
use im_runtime::bus::Record;
use im_runtime::errors::status;
use prost::Message as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tonic::{Code, Request, Response, Status};

/// The administrator of [`crate::TestApp::admin_token`].
pub const ADMIN_ID: &str = "u-admin";

/// What the fake's AccessControl stores.
pub struct AccessStore {
    pub policies: Vec<Policy>,
    pub assignments: Vec<RoleAssignment>,
    pub links: Vec<RoleLink>,
    next_id: u64,
}

impl Default for AccessStore {
    fn default() -> Self {
        let mut store = Self {
            policies: Vec::new(),
            assignments: vec![RoleAssignment {
                user_id: ADMIN_ID.into(),
                role: "admin".into(),
            }],
            links: DEFAULT_ROLE_LINKS
                .iter()
                .map(|(role, parent)| RoleLink {
                    role: (*role).into(),
                    parent: (*parent).into(),
                })
                .collect(),
            next_id: 1,
        };
        for rule in default_rules() {
            store.insert(&rule);
        }
        store
    }
}

impl AccessStore {
    /// Stores a rule as given, valid or not (tests plant broken ones this way).
    pub fn insert(&mut self, rule: &Rule) -> Policy {
        let effect = match rule.effect {
            Effect::Allow => PolicyEffect::Allow,
            Effect::Deny => PolicyEffect::Deny,
        };
        self.insert_raw(&rule.subject, &rule.object, &rule.action, effect)
    }

    pub fn insert_raw(
        &mut self,
        subject: &str,
        object: &str,
        action: &str,
        effect: PolicyEffect,
    ) -> Policy {
        let policy = Policy {
            id: format!("p{}", self.next_id),
            subject: subject.into(),
            object: object.into(),
            action: action.into(),
            effect: effect.into(),
        };
        self.next_id += 1;
        self.policies.push(policy.clone());
        policy
    }
}

pub struct FakeAccess(pub Arc<FakeState>);

type Reply<T> = Result<Response<T>, Status>;

impl FakeAccess {
    fn refuse_when_down(&self) -> Result<(), Status> {
        if self.0.access_down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("access rules are down"));
        }
        Ok(())
    }

    /// Publishes `AccessChanged` where the gateways listen, as identity does.
    async fn announce(&self, user_id: &str) {
        let bus = self.0.bus.lock().unwrap().clone();
        if let Some(bus) = bus {
            let event = IdentityEvent {
                id: format!("access-{user_id}"),
                occurred_at_ms: chrono::Utc::now().timestamp_millis(),
                kind: Some(Kind::AccessChanged(AccessChanged {
                    user_id: user_id.into(),
                })),
            };
            bus.publish(
                IDENTITY_EVENTS,
                Record::new("access", event.encode_to_vec()),
            )
            .await
            .unwrap();
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, AccessStore> {
        self.0.access.lock().unwrap()
    }
}

fn effect_text(effect: i32) -> &'static str {
    match PolicyEffect::try_from(effect) {
        Ok(PolicyEffect::Allow) => "allow",
        Ok(PolicyEffect::Deny) => "deny",
        _ => "",
    }
}

fn checked_role(role: &str) -> Result<(), Status> {
    validate_role(role)
        .map_err(|e| status(Code::InvalidArgument, "invalid_role", e.to_string()))?;
    if role == IMPLICIT_ROLE {
        return Err(status(
            Code::InvalidArgument,
            "implicit_role",
            "every user holds it",
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl AccessControl for FakeAccess {
    async fn list_policies(&self, _: Request<ListPoliciesRequest>) -> Reply<ListPoliciesResponse> {
        self.refuse_when_down()?;
        Ok(Response::new(ListPoliciesResponse {
            policies: self.store().policies.clone(),
        }))
    }

    async fn add_policy(&self, request: Request<AddPolicyRequest>) -> Reply<AddPolicyResponse> {
        self.0.access_writes.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        let rule = Rule::parse(
            &request.subject,
            &request.object,
            &request.action,
            effect_text(request.effect),
        )
        .map_err(|e| status(Code::InvalidArgument, "invalid_policy", e.to_string()))?;
        let policy = {
            let mut store = self.store();
            let exists = store.policies.iter().any(|p| {
                (
                    p.subject.as_str(),
                    p.object.as_str(),
                    p.action.as_str(),
                    p.effect,
                ) == (
                    request.subject.as_str(),
                    request.object.as_str(),
                    request.action.as_str(),
                    request.effect,
                )
            });
            if exists {
                return Err(status(
                    Code::AlreadyExists,
                    "policy_exists",
                    "that rule exists",
                ));
            }
            store.insert(&rule)
        };
        self.announce("").await;
        Ok(Response::new(AddPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn remove_policy(
        &self,
        request: Request<RemovePolicyRequest>,
    ) -> Reply<RemovePolicyResponse> {
        self.0.access_writes.fetch_add(1, Ordering::SeqCst);
        let id = request.into_inner().id;
        {
            let mut store = self.store();
            let before = store.policies.len();
            store.policies.retain(|p| p.id != id);
            if store.policies.len() == before {
                return Err(status(Code::NotFound, "policy_not_found", "no such rule"));
            }
        }
        self.announce("").await;
        Ok(Response::new(RemovePolicyResponse {}))
    }

    async fn list_role_assignments(
        &self,
        request: Request<ListRoleAssignmentsRequest>,
    ) -> Reply<ListRoleAssignmentsResponse> {
        self.refuse_when_down()?;
        let request = request.into_inner();
        let store = self.store();
        let assignments = store
            .assignments
            .iter()
            .filter(|a| request.role.is_empty() || a.role == request.role)
            .filter(|a| request.user_id.is_empty() || a.user_id == request.user_id)
            .cloned()
            .collect();
        Ok(Response::new(ListRoleAssignmentsResponse {
            assignments,
            links: store.links.clone(),
        }))
    }

    async fn assign_role(&self, request: Request<AssignRoleRequest>) -> Reply<AssignRoleResponse> {
        self.0.access_writes.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        checked_role(&request.role)?;
        if request.user_id == "missing" {
            return Err(status(Code::NotFound, "user_not_found", "no such user"));
        }
        let assignment = RoleAssignment {
            user_id: request.user_id.clone(),
            role: request.role,
        };
        {
            let mut store = self.store();
            if store.assignments.contains(&assignment) {
                return Err(status(
                    Code::AlreadyExists,
                    "role_assigned",
                    "the user holds that role",
                ));
            }
            store.assignments.push(assignment.clone());
        }
        self.announce(&request.user_id).await;
        Ok(Response::new(AssignRoleResponse {
            assignment: Some(assignment),
        }))
    }

    async fn unassign_role(
        &self,
        request: Request<UnassignRoleRequest>,
    ) -> Reply<UnassignRoleResponse> {
        self.0.access_writes.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        checked_role(&request.role)?;
        {
            let mut store = self.store();
            let before = store.assignments.len();
            store
                .assignments
                .retain(|a| !(a.user_id == request.user_id && a.role == request.role));
            if store.assignments.len() == before {
                return Err(status(
                    Code::NotFound,
                    "role_not_assigned",
                    "the user does not hold that role",
                ));
            }
        }
        self.announce(&request.user_id).await;
        Ok(Response::new(UnassignRoleResponse {}))
    }
}
