//! Members as delivery needs them: who they are and whether they moderate the group
//! (join requests go to the owner and admins).

use super::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
}

impl Member {
    /// The owner or an admin.
    pub fn moderates(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }
}
