//! The message domain: ids and bodies that only hold valid values ("parse, don't
//! validate"), the message and its draft, the rules of sending, recalling and editing,
//! the system messages made from conversation changes, and the events the service
//! announces. Pure: no I/O, no async, no storage or wire types.

mod body;
mod error;
mod event;
mod ids;
mod message;
mod notice;

pub use body::{Body, MessageType};
pub use error::{Refusal, ValidationError};
pub use event::{EventEnvelope, MessageEvent};
pub use ids::{ClientMsgId, ConversationId, MessageId, UserId};
pub use message::{
    ConversationKind, Draft, Message, Recall, Role, SendCheck, decide_edit, decide_recall, mentions,
};
pub use notice::{Notice, SystemNotice};
