//! Contacts and how users become them: friend requests, the contact relation (one row
//! per side, each with its own remark) and blocks.

use super::{Refusal, RequestId, RequestMessage, UserId};

/// The lifecycle of a friend request: pending until accepted, rejected or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FriendRequestStatus {
    Pending,
    Accepted,
    Rejected,
    Cancelled,
}

impl FriendRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        match text {
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
}

/// Which side of friend requests a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestDirection {
    Incoming,
    Outgoing,
}

/// A request from one user to become another user's contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequest {
    pub id: RequestId,
    pub from: UserId,
    pub to: UserId,
    pub message: String,
    pub status: FriendRequestStatus,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

impl FriendRequest {
    pub fn new(from: UserId, to: UserId, message: RequestMessage, now_ms: i64) -> Self {
        Self {
            id: RequestId::generate(),
            from,
            to,
            message: message.into_string(),
            status: FriendRequestStatus::Pending,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            decided_at_ms: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.status == FriendRequestStatus::Pending
    }

    /// Moves a pending request to its final `status`.
    pub fn decide(&mut self, status: FriendRequestStatus, now_ms: i64) -> Result<(), Refusal> {
        if !self.is_pending() {
            return Err(Refusal::RequestNotPending);
        }
        self.status = status;
        self.updated_at_ms = now_ms;
        self.decided_at_ms = Some(now_ms);
        Ok(())
    }
}

/// One side of a contact relation: `contact_id` as seen by `user_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub user_id: UserId,
    pub contact_id: UserId,
    pub remark: String,
    pub created_at_ms: i64,
}

/// `blocked_user_id` as blocked by `user_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedUser {
    pub user_id: UserId,
    pub blocked_user_id: UserId,
    pub created_at_ms: i64,
}

/// The blocks between two users `a` and `b`, as asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocks {
    pub a_blocks_b: bool,
    pub b_blocks_a: bool,
}

impl Blocks {
    pub fn either(self) -> bool {
        self.a_blocks_b || self.b_blocks_a
    }
}

/// What a friend request from `from` to `to` amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Befriending {
    /// A new pending request, or the pending one refreshed with the new message.
    Pending(FriendRequest),
    /// `to` had already asked `from`: both requests are accepted, the users are contacts.
    Mutual {
        mine: FriendRequest,
        theirs: FriendRequest,
    },
}

/// The state of a pair a friend request is decided on (read under the pair's lock).
#[derive(Debug, Clone, Default)]
pub struct PairState {
    /// From the sender's point of view: `a` is the sender.
    pub blocks: Blocks,
    pub contacts: bool,
    /// The sender's pending request to the recipient.
    pub mine: Option<FriendRequest>,
    /// The recipient's pending request to the sender.
    pub theirs: Option<FriendRequest>,
}

/// Decides a friend request from `from` to `to`.
pub fn befriend(
    from: &UserId,
    to: &UserId,
    state: PairState,
    message: RequestMessage,
    now_ms: i64,
) -> Result<Befriending, Refusal> {
    if from == to {
        return Err(Refusal::CannotBefriendSelf);
    }
    if state.blocks.either() {
        return Err(Refusal::Blocked);
    }
    if state.contacts {
        return Err(Refusal::AlreadyContacts);
    }
    if let Some(mut theirs) = state.theirs {
        theirs.decide(FriendRequestStatus::Accepted, now_ms)?;
        let mut mine = match state.mine {
            Some(mine) => mine,
            None => FriendRequest::new(from.clone(), to.clone(), message, now_ms),
        };
        mine.decide(FriendRequestStatus::Accepted, now_ms)?;
        return Ok(Befriending::Mutual { mine, theirs });
    }
    Ok(Befriending::Pending(match state.mine {
        Some(mut mine) => {
            mine.message = message.into_string();
            mine.updated_at_ms = now_ms;
            mine
        }
        None => FriendRequest::new(from.clone(), to.clone(), message, now_ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn note(text: &str) -> RequestMessage {
        RequestMessage::parse(text).unwrap()
    }

    #[test]
    fn refusals_come_in_order_self_blocked_contacts() {
        let (a, b) = (user("a"), user("b"));
        let blocked = PairState {
            blocks: Blocks {
                a_blocks_b: false,
                b_blocks_a: true,
            },
            contacts: true,
            ..PairState::default()
        };
        assert_eq!(
            befriend(&a, &a, PairState::default(), note(""), 1),
            Err(Refusal::CannotBefriendSelf)
        );
        assert_eq!(
            befriend(&a, &b, blocked, note(""), 1),
            Err(Refusal::Blocked)
        );
        let contacts = PairState {
            contacts: true,
            ..PairState::default()
        };
        assert_eq!(
            befriend(&a, &b, contacts, note(""), 1),
            Err(Refusal::AlreadyContacts)
        );
    }

    #[test]
    fn a_repeated_request_refreshes_the_pending_one() {
        let (a, b) = (user("a"), user("b"));
        let first = FriendRequest::new(a.clone(), b.clone(), note("hi"), 1);
        let state = PairState {
            mine: Some(first.clone()),
            ..PairState::default()
        };
        let Ok(Befriending::Pending(again)) = befriend(&a, &b, state, note("hello?"), 5) else {
            panic!("expected a pending request");
        };
        assert_eq!((again.id, again.message.as_str()), (first.id, "hello?"));
        assert_eq!((again.created_at_ms, again.updated_at_ms), (1, 5));
    }

    #[test]
    fn asking_someone_who_asked_you_accepts_both() {
        let (a, b) = (user("a"), user("b"));
        let theirs = FriendRequest::new(b.clone(), a.clone(), note(""), 1);
        let state = PairState {
            theirs: Some(theirs),
            ..PairState::default()
        };
        let Ok(Befriending::Mutual { mine, theirs }) = befriend(&a, &b, state, note(""), 2) else {
            panic!("expected mutual acceptance");
        };
        assert_eq!(mine.status, FriendRequestStatus::Accepted);
        assert_eq!(theirs.status, FriendRequestStatus::Accepted);
        assert_eq!(theirs.decided_at_ms, Some(2));
    }

    #[test]
    fn only_pending_requests_are_decided() {
        let mut request = FriendRequest::new(user("a"), user("b"), note(""), 1);
        request.decide(FriendRequestStatus::Rejected, 2).unwrap();
        assert_eq!(
            request.decide(FriendRequestStatus::Accepted, 3),
            Err(Refusal::RequestNotPending)
        );
    }
}
