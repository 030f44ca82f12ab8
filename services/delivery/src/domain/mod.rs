//! What delivery decides without talking to anyone: who a frame is for, which gateway
//! node gets which part of it, how requests are cut to size, and the member cache's
//! rules. Pure: no I/O, no async.

mod audience;
mod error;
mod frame;
mod ids;
mod member;
mod member_cache;
mod routing;

pub use audience::{Addressed, Audience, Fanout, MAX_RECIPIENTS, MemberFilter};
pub use error::ValidationError;
pub use frame::Frame;
pub use ids::{ConversationId, NodeId, SessionId, UserId};
pub use member::{Member, Role};
pub use member_cache::MemberCache;
pub use routing::{Device, PushItem, PushLimits, by_node, chunk, to_every_node};
