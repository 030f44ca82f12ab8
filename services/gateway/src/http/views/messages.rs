//! Messages, as the message service stores them (and the conversation service keeps the
//! last one of each conversation): the shape shared with WebSocket frames lives in
//! `im_contracts::views`.

use super::malformed;
use crate::http::ApiError;
use im_contracts::v1 as pb;
pub use im_contracts::views::MessageView;

/// The client's view of a stored message; a message without a type is the message
/// service's broken contract.
pub fn message_view(message: pb::Message) -> Result<MessageView, ApiError> {
    MessageView::try_from(message).map_err(|_| malformed("message.type"))
}
