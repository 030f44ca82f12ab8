//! Who a frame goes to: the conversation's members (listed page by page from the
//! conversation service, cached per conversation), filtered, plus the named users.

use super::{App, AppError, AppResult, lock};
use crate::domain::{Addressed, ConversationId, Fanout, Member, MemberFilter};
use crate::ports::{Conversations, LookupError, Ports};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// A conversation with more pages than this is listed only this far (100 000 members
/// at the conversation service's page size), so a looping cursor cannot stall delivery.
const MAX_PAGES: usize = 1000;

impl<P: Ports> App<P> {
    /// Drops the conversation's cached members after a membership change.
    pub fn forget_members(&self, conversation: &ConversationId) {
        lock(&self.members).forget(conversation);
    }

    /// The conversation's members, cached; `None` when it does not exist (or no longer).
    pub(crate) async fn members(
        &self,
        conversation: &ConversationId,
    ) -> AppResult<Option<Arc<[Member]>>> {
        let ticket = {
            let mut cache = lock(&self.members);
            if let Some(members) = cache.get(conversation, Instant::now()) {
                metrics::counter!("im_delivery_member_cache_total", "result" => "hit").increment(1);
                return Ok(Some(members));
            }
            cache.ticket()
        };
        metrics::counter!("im_delivery_member_cache_total", "result" => "miss").increment(1);
        let mut members = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let page = match self.conversations.list_members(conversation, &cursor).await {
                Ok(page) => page,
                Err(LookupError::NotFound) => return Ok(None),
                Err(LookupError::Unavailable(cause)) => {
                    return Err(AppError::ConversationUnavailable(cause));
                }
            };
            members.extend(page.members);
            if page.next_cursor.is_empty() || page.next_cursor == cursor {
                break;
            }
            cursor = page.next_cursor;
        }
        let members: Arc<[Member]> = members.into();
        lock(&self.members).insert(
            conversation.clone(),
            members.clone(),
            ticket,
            Instant::now(),
        );
        Ok(Some(members))
    }

    /// The users of the fanout's audience, distinct, members first. An unknown
    /// conversation contributes no one.
    pub(crate) async fn address(&self, fanout: Fanout) -> AppResult<Addressed> {
        let Fanout { frame, audience } = fanout;
        let mut seen = HashSet::new();
        let mut users = Vec::new();
        if let Some((conversation, filter)) = &audience.members_of {
            let members = self.members(conversation).await?.unwrap_or_default();
            let wanted = members.iter().filter(|member| match filter {
                MemberFilter::Everyone => true,
                MemberFilter::Moderators => member.moderates(),
            });
            for member in wanted {
                if seen.insert(member.user_id.clone()) {
                    users.push(member.user_id.clone());
                }
            }
        }
        for user in audience.users {
            if seen.insert(user.clone()) {
                users.push(user);
            }
        }
        Ok(Addressed {
            frame: Arc::new(frame),
            users,
            exclude_session: audience.exclude_session,
        })
    }
}
