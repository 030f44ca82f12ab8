//! Sync: what a user missed, given the last seq they hold per conversation. Messages
//! come in seq order per conversation, conversations in id order, at most `limit` per
//! call; the reply's cursors continue where this page stopped, so a client repeating
//! with them until `done` gets every visible message it missed exactly once.
//!
//! Each conversation is read up to the newest seq seen at the start of the call: seqs
//! are committed with their messages, so nothing below it can still appear.

use super::{App, AppResult};
use crate::domain::{ConversationId, Message, UserId, ValidationError};
use crate::ports::{Direction, Membership, Ports, SeqRange, Store};
use std::collections::{BTreeMap, HashSet};

const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;
/// The most cursors one sync names.
const MAX_CURSORS: usize = 10_000;
/// Membership checks of one sync in flight at once.
const CONCURRENT_CHECKS: usize = 16;

/// A sync as asked: the user's positions (conversation id, last seq held), a page size
/// over all conversations (0 for the default), and whether the user's other
/// conversations count as held from seq 0.
#[derive(Debug, Clone, Copy)]
pub struct SyncQuery<'a> {
    pub user_id: &'a str,
    pub cursors: &'a [(String, u64)],
    pub limit: u32,
    pub include_unlisted: bool,
}

/// Missed messages of one conversation.
#[derive(Debug, Clone)]
pub struct SyncBatch {
    pub conversation_id: ConversationId,
    pub messages: Vec<Message>,
    /// More of this conversation remain after the last message here.
    pub has_more: bool,
    pub max_seq: u64,
    pub read_seq: u64,
}

#[derive(Debug, Clone)]
pub struct SyncPage {
    pub batches: Vec<SyncBatch>,
    /// Every conversation of the user that the sync covers, with the seq to continue
    /// after; conversations the user is not a member of are dropped.
    pub next_cursors: Vec<(ConversationId, u64)>,
    /// Nothing more is missed.
    pub done: bool,
}

impl<P: Ports> App<P> {
    pub async fn sync(&self, query: SyncQuery<'_>) -> AppResult<SyncPage> {
        let user = UserId::parse_person(query.user_id)?;
        if query.cursors.len() > MAX_CURSORS {
            return Err(ValidationError::TooManyConversations { max: MAX_CURSORS }.into());
        }
        let mut listed = BTreeMap::new();
        for (id, seq) in query.cursors {
            let id = ConversationId::parse(id)?;
            let held = listed.entry(id).or_insert(*seq);
            *held = (*held).max(*seq);
        }
        let limit = match query.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let mut member_of: HashSet<ConversationId> = self
            .membership
            .conversations_of(&user, self.settings.sync_conversation_limit)
            .await?
            .into_iter()
            .collect();
        // The list is paged by activity, so a conversation that became active while it
        // was read can be missing from it: ask about listed ones one by one.
        let unconfirmed: Vec<ConversationId> = listed
            .keys()
            .filter(|id| !member_of.contains(*id))
            .cloned()
            .collect();
        let confirmed = self
            .member_of(&user, unconfirmed, CONCURRENT_CHECKS)
            .await?;
        member_of.extend(confirmed);
        let mut positions: BTreeMap<ConversationId, u64> = listed
            .into_iter()
            .filter(|(id, _)| member_of.contains(id))
            .collect();
        if query.include_unlisted {
            for id in member_of {
                positions.entry(id).or_insert(0);
            }
        }
        let ids: Vec<ConversationId> = positions.keys().cloned().collect();
        let max_seqs = self.store.max_seqs(&ids).await?;
        let read_seqs = self.store.read_seqs(&user, &ids).await?;

        let mut budget = u64::from(limit);
        let mut batches = Vec::new();
        let mut done = true;
        for (id, held) in &mut positions {
            let max_seq = max_seqs.get(id).copied().unwrap_or(0);
            if *held >= max_seq {
                continue;
            }
            if budget == 0 {
                done = false;
                continue;
            }
            let range = SeqRange {
                after: *held,
                before: Some(max_seq + 1),
            };
            let wanted = budget;
            let messages = self
                .store
                .page(id, &user, range, Direction::Forward, wanted)
                .await?;
            let count = messages.len() as u64;
            budget -= count;
            // A short page reached the newest seq (messages the user hid are skipped).
            *held = match messages.last() {
                Some(last) if count == wanted => last.seq,
                _ => max_seq,
            };
            let has_more = *held < max_seq;
            done &= !has_more;
            if !messages.is_empty() {
                batches.push(SyncBatch {
                    conversation_id: id.clone(),
                    messages,
                    has_more,
                    max_seq,
                    read_seq: read_seqs.get(id).copied().unwrap_or(0),
                });
            }
        }
        Ok(SyncPage {
            batches,
            next_cursors: positions.into_iter().collect(),
            done,
        })
    }
}
