//! Consumes the conversation service's events (`im.v1.ConversationEvent` on
//! [`im_contracts::topics::CONVERSATION_EVENTS`], consumer group `message`) into system
//! messages: members joining, leaving or changing role, ownership moving, a group being
//! created, updated or dissolved. A delivery is committed only after its message is
//! stored (at-least-once; the event id keys the message, so a redelivery stores nothing
//! new); a failing database is retried with backoff, an undecodable or irrelevant record
//! is skipped.

use crate::app::{App, AppError};
use crate::domain::{ConversationId, Notice, SystemNotice};
use crate::ports::Ports;
use im_contracts::topics::CONVERSATION_EVENTS;
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_event::Kind;
use im_runtime::bus::{self, Backoff, Bus, Delivery};
use prost::Message as _;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The consumer group of this service on the conversation topic.
pub const GROUP: &str = "message";

/// Runs until `stop` is cancelled (see [`im_runtime::bus::consume`]).
pub async fn consume<P: Ports>(bus: Arc<dyn Bus>, app: Arc<App<P>>, stop: CancellationToken) {
    let handler_stop = stop.clone();
    bus::consume(bus, CONVERSATION_EVENTS, GROUP, stop, |delivery| {
        let (app, stop) = (app.clone(), handler_stop.clone());
        async move { apply(&app, &delivery, &stop).await }
    })
    .await;
}

/// Stores the delivery's system message, retrying until the database takes it; false
/// when stopped first.
async fn apply<P: Ports>(app: &App<P>, delivery: &Delivery, stop: &CancellationToken) -> bool {
    let Some(notice) = decode(delivery) else {
        return true;
    };
    let mut backoff = Backoff::default();
    loop {
        match app.record_notice(&notice).await {
            Ok(_) => return true,
            Err(AppError::Invalid(error)) => {
                tracing::warn!(%error, event = notice.event_id, "skipping a conversation event");
                return true;
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    offset = delivery.offset,
                    "cannot store a system message; retrying"
                );
            }
        }
        if !backoff.pause(stop).await {
            return false;
        }
    }
}

fn decode(delivery: &Delivery) -> Option<SystemNotice> {
    match pb::ConversationEvent::decode(delivery.record.payload.clone()) {
        Ok(event) => notice(event),
        Err(error) => {
            tracing::warn!(%error, offset = delivery.offset, "skipping an undecodable conversation event");
            None
        }
    }
}

fn role(role: pb::MemberRole) -> &'static str {
    match role {
        pb::MemberRole::Owner => "owner",
        pb::MemberRole::Admin => "admin",
        pb::MemberRole::Member | pb::MemberRole::Unspecified => "member",
    }
}

/// The system message an event leaves, if any (contacts, blocks and join requests
/// leave none; neither does creating a direct conversation).
fn notice(event: pb::ConversationEvent) -> Option<SystemNotice> {
    let (conversation_id, notice) = match event.kind? {
        Kind::ConversationCreated(created) => {
            let conversation = created.conversation?;
            if conversation.kind() != pb::ConversationKind::Group {
                return None;
            }
            let member_ids = created.members.into_iter().map(|m| m.user_id).collect();
            (
                conversation.id,
                Notice::GroupCreated {
                    name: conversation.name,
                    member_ids,
                },
            )
        }
        Kind::ConversationUpdated(updated) => {
            let conversation = updated.conversation?;
            (
                conversation.id,
                Notice::GroupUpdated {
                    name: conversation.name,
                    mute_all: updated.settings.is_some_and(|s| s.mute_all),
                },
            )
        }
        Kind::ConversationDissolved(dissolved) => {
            (dissolved.conversation_id, Notice::GroupDissolved)
        }
        Kind::MembersJoined(joined) => {
            let method = match joined.method() {
                pb::JoinMethod::Invited => "invited",
                pb::JoinMethod::Approved => "approved",
                pb::JoinMethod::Joined | pb::JoinMethod::Unspecified => "joined",
            };
            let user_ids = joined.members.into_iter().map(|m| m.user_id).collect();
            (
                joined.conversation_id,
                Notice::MembersJoined { user_ids, method },
            )
        }
        Kind::MemberRemoved(removed) => {
            let reason = match removed.reason() {
                pb::RemovalReason::Left => "left",
                pb::RemovalReason::Kicked => "kicked",
                pb::RemovalReason::Unspecified => "removed",
            };
            (
                removed.conversation_id,
                Notice::MemberRemoved {
                    user_id: removed.user_id,
                    reason,
                },
            )
        }
        Kind::MemberUpdated(updated) => {
            let member = updated.member?;
            (
                updated.conversation_id,
                Notice::MemberUpdated {
                    role: role(member.role()),
                    user_id: member.user_id,
                    muted_until_ms: member.muted_until_ms,
                },
            )
        }
        Kind::OwnershipTransferred(transferred) => (
            transferred.conversation_id,
            Notice::OwnershipTransferred {
                previous_owner_id: transferred.previous_owner_id,
                new_owner_id: transferred.new_owner_id,
            },
        ),
        Kind::FriendRequestChanged(_)
        | Kind::ContactAdded(_)
        | Kind::ContactRemoved(_)
        | Kind::BlockChanged(_)
        | Kind::JoinRequestChanged(_) => return None,
    };
    let Ok(conversation_id) = ConversationId::parse(&conversation_id) else {
        tracing::warn!(
            event = event.id,
            "skipping a conversation event without a valid conversation id"
        );
        return None;
    };
    Some(SystemNotice {
        event_id: event.id,
        conversation_id,
        actor_id: event.actor_id,
        notice,
    })
}
