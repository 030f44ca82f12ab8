//! Group commit: new messages are stored many per transaction, so a busy service pays
//! one commit (one fsync) and a handful of statements per batch rather than per message.
//!
//! A send queues its draft and then either finds a free writer slot, takes what is
//! queued (up to `send_batch` drafts) and stores it as one batch, or waits for the batch
//! that took its draft to answer. At low load a batch is the one draft that was waiting,
//! so nothing waits for company. The batch runs in its own task: a caller that goes
//! away does not abandon the drafts of others.
//!
//! Batches stored at the same time never share a conversation: a draft whose
//! conversation another batch is storing stays queued for the next one. So writers do
//! not queue on each other's conversation locks, and a writer that finishes takes what
//! is left before it frees its slot.
//!
//! One batch, one transaction of six statements however many drafts it holds: the
//! locks of all its conversations in ascending order together with a run of seqs per
//! conversation (queue order), the runs read back, one multi-row write each for
//! messages, senders' read cursors and outbox events, and the commit. Only then is
//! anyone answered. A retry of a stored message fails the insert on its unique client
//! key; the batch is then stored again with the stored drafts looked up first, and they
//! answer the original. A batch that fails answers every draft in it with the failure;
//! the senders retry with the same client message ids.
//!
//! Metrics: `im_message_send_batches_total`, `im_message_send_batch_drafts_total`,
//! `im_message_send_queue_wait_seconds` (queued to taken, per draft) and
//! `im_message_send_batch_seconds` (one batch stored, retries included).

use super::{AppError, AppResult, Sent, retrying};
use crate::domain::{
    ConversationId, Draft, EventEnvelope, Message, MessageEvent, MessageId, UserId,
};
use crate::ports::{ClientKey, ReadAdvance, SendBatch as _, Store};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

/// A draft waiting to be stored, and who waits for it.
struct Queued {
    draft: Draft,
    /// Whether storing it moves its sender's read cursor to it (a client's message).
    sender_reads: bool,
    /// When it was queued: its message's creation time, unless an earlier batch's is
    /// later (times never go back along a conversation's seqs).
    queued_ms: i64,
    /// For the queue wait metric.
    queued_at: Instant,
    answer: oneshot::Sender<AppResult<Sent>>,
}

/// What the writers share: the drafts not taken yet, and the conversations some batch
/// is storing now.
#[derive(Default)]
struct Pending {
    queue: VecDeque<Queued>,
    writing: HashSet<ConversationId>,
    /// The time of the latest batch taken.
    last_ms: i64,
}

/// One batch: its drafts in queue order, its conversations and its time.
struct Batch {
    drafts: Vec<Queued>,
    conversations: Vec<ConversationId>,
    now_ms: i64,
}

/// The queue of drafts and the writer slots.
pub(super) struct GroupCommit {
    pending: Arc<Mutex<Pending>>,
    writers: Arc<Semaphore>,
    max_batch: usize,
}

impl GroupCommit {
    /// `writers` batches at once, of at most `max_batch` drafts each.
    pub(super) fn new(writers: usize, max_batch: usize) -> Self {
        Self {
            pending: Arc::default(),
            writers: Arc::new(Semaphore::new(writers.max(1))),
            max_batch: max_batch.max(1),
        }
    }

    /// Stores `draft` in some batch and returns what became of it.
    pub(super) async fn store<S: Store + 'static>(
        &self,
        store: &Arc<S>,
        now_ms: impl Fn() -> i64,
        draft: Draft,
        sender_reads: bool,
    ) -> AppResult<Sent> {
        let (answer, mut answered) = oneshot::channel();
        lock(&self.pending).queue.push_back(Queued {
            draft,
            sender_reads,
            queued_ms: now_ms(),
            queued_at: Instant::now(),
            answer,
        });
        loop {
            let permit = tokio::select! {
                biased;
                result = &mut answered => return received(result),
                permit = self.writers.clone().acquire_owned() => {
                    permit.expect("the writer slots are never closed")
                }
            };
            let Some(batch) = take(&self.pending, self.max_batch, &[]) else {
                // Another writer took this draft, or will once its conversation is free:
                // the answer is coming.
                drop(permit);
                return received(answered.await);
            };
            let (store, pending, max_batch) = (store.clone(), self.pending.clone(), self.max_batch);
            tokio::spawn(async move {
                // A writer goes on while drafts wait: those of the conversations it just
                // stored may have been left for it.
                let mut batch = batch;
                loop {
                    let writing = Writing {
                        pending: &pending,
                        conversations: std::mem::take(&mut batch.conversations),
                    };
                    write(&*store, batch).await;
                    match take(&pending, max_batch, &writing.done()) {
                        Some(next) => batch = next,
                        None => break,
                    }
                }
                drop(permit);
            });
        }
    }
}

/// The conversations of a batch being stored. Should the writer stop without finishing
/// (a panic), dropping this frees them, so their queued drafts are not stuck.
struct Writing<'a> {
    pending: &'a Mutex<Pending>,
    conversations: Vec<ConversationId>,
}

impl Writing<'_> {
    /// The batch is stored: its conversations, for the next [`take`] to free.
    fn done(mut self) -> Vec<ConversationId> {
        std::mem::take(&mut self.conversations)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.conversations.is_empty() {
            let mut pending = lock(self.pending);
            for conversation in &self.conversations {
                pending.writing.remove(conversation);
            }
        }
    }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees the conversations of a stored batch (`done`), then takes the next batch: up to
/// `max` queued drafts, in queue order, of conversations no other batch is storing.
/// Drafts of a conversation being stored stay queued, in order, so two batches never
/// wait on each other's conversation locks and each conversation's drafts are stored in
/// the order they came.
fn take(pending: &Mutex<Pending>, max: usize, done: &[ConversationId]) -> Option<Batch> {
    let mut pending = lock(pending);
    for conversation in done {
        pending.writing.remove(conversation);
    }
    let Pending {
        queue,
        writing,
        last_ms,
    } = &mut *pending;
    let mut drafts = Vec::new();
    let mut kept = VecDeque::new();
    let mut conversations = Vec::new();
    let mut taken_here = HashSet::new();
    while let Some(queued) = queue.pop_front() {
        let conversation = &queued.draft.conversation_id;
        let free = taken_here.contains(conversation) || !writing.contains(conversation);
        if drafts.len() < max && free {
            if taken_here.insert(conversation.clone()) {
                conversations.push(conversation.clone());
            }
            drafts.push(queued);
        } else {
            kept.push_back(queued);
        }
        if drafts.len() == max {
            kept.extend(queue.drain(..));
        }
    }
    *queue = kept;
    if drafts.is_empty() {
        return None;
    }
    writing.extend(conversations.iter().cloned());
    let taken_at = Instant::now();
    for queued in &drafts {
        metrics::histogram!("im_message_send_queue_wait_seconds")
            .record(taken_at.duration_since(queued.queued_at));
    }
    let newest = drafts.iter().map(|q| q.queued_ms).max().unwrap_or(*last_ms);
    *last_ms = (*last_ms).max(newest);
    Some(Batch {
        drafts,
        conversations,
        now_ms: *last_ms,
    })
}

fn received(result: Result<AppResult<Sent>, oneshot::error::RecvError>) -> AppResult<Sent> {
    result.unwrap_or_else(|_| {
        Err(AppError::Unexpected(anyhow::anyhow!(
            "the batch storing this message stopped"
        )))
    })
}

/// Stores `batch` and answers each of its drafts.
async fn write<S: Store>(store: &S, batch: Batch) {
    let Batch {
        drafts: batch,
        now_ms,
        ..
    } = batch;
    metrics::counter!("im_message_send_batches_total").increment(1);
    metrics::counter!("im_message_send_batch_drafts_total").increment(batch.len() as u64);
    let drafts: Vec<(&Draft, bool)> = batch.iter().map(|q| (&q.draft, q.sender_reads)).collect();
    let started = Instant::now();
    let stored = retrying(store, || store_batch(store, &drafts, now_ms)).await;
    metrics::histogram!("im_message_send_batch_seconds").record(started.elapsed());
    match stored {
        Ok(sent) => {
            for (queued, sent) in batch.into_iter().zip(sent) {
                // A caller that went away no longer waits.
                let _ = queued.answer.send(Ok(sent));
            }
        }
        Err(error) => {
            for queued in batch {
                let _ = queued.answer.send(Err(shared(&error)));
            }
        }
    }
}

/// The same failure for every draft of a batch.
fn shared(error: &AppError) -> AppError {
    match error {
        AppError::Contention => AppError::Contention,
        other => AppError::Unexpected(anyhow::anyhow!("{other:#}")),
    }
}

fn key(draft: &Draft) -> ClientKey {
    ClientKey {
        conversation_id: draft.conversation_id.clone(),
        sender_id: draft.sender_id.clone(),
        client_msg_id: draft.client_msg_id.clone(),
    }
}

fn key_of(message: &Message) -> ClientKey {
    ClientKey {
        conversation_id: message.conversation_id.clone(),
        sender_id: message.sender_id.clone(),
        client_msg_id: message.client_msg_id.clone(),
    }
}

/// Stores `drafts`; the answers are in their order. Retries of stored messages are
/// rare, so the first transaction assumes there are none and lets the unique client key
/// say otherwise ([`AppError::Raced`]); the batch is then stored at once with the stored
/// drafts looked up. A race lost by that second one goes back to the caller's retries.
async fn store_batch<S: Store>(
    store: &S,
    drafts: &[(&Draft, bool)],
    now_ms: i64,
) -> AppResult<Vec<Sent>> {
    match store_batch_once(store, drafts, now_ms, false).await {
        Err(AppError::Raced) => store_batch_once(store, drafts, now_ms, true).await,
        other => other,
    }
}

/// One transaction storing `drafts`; the answers are in their order.
///
/// Without `look_up`, every draft whose key is new to the batch is taken as new: its
/// seq is taken with the locks in one statement, and a retry of a stored message makes
/// the insert fail on the unique client key ([`AppError::Raced`]). With `look_up`, the
/// locks come first, then the stored drafts are read, then seqs are taken for the
/// others.
async fn store_batch_once<S: Store>(
    store: &S,
    drafts: &[(&Draft, bool)],
    now_ms: i64,
    look_up: bool,
) -> AppResult<Vec<Sent>> {
    let keys: Vec<ClientKey> = drafts.iter().map(|(draft, _)| key(draft)).collect();
    let mut tx = store.begin_batch().await?;
    let mut known: HashMap<ClientKey, Message> = HashMap::new();
    if look_up {
        let conversations: BTreeMap<ConversationId, u64> = keys
            .iter()
            .map(|key| (key.conversation_id.clone(), 0))
            .collect();
        tx.take_seqs(&conversations.into_iter().collect::<Vec<_>>())
            .await?;
        known = tx
            .stored(&keys)
            .await?
            .into_iter()
            .map(|message| (key_of(&message), message))
            .collect();
    }

    // The first draft of each key not stored yet is new; later copies are retries.
    let mut fresh = HashSet::new();
    let mut new = vec![false; drafts.len()];
    let mut counts: BTreeMap<ConversationId, u64> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        if !known.contains_key(key) && fresh.insert(key) {
            new[i] = true;
            *counts.entry(key.conversation_id.clone()).or_default() += 1;
        }
    }
    if !counts.is_empty() {
        let counts: Vec<(ConversationId, u64)> = counts.into_iter().collect();
        let mut next = tx.take_seqs(&counts).await?;
        let mut messages = Vec::new();
        let mut cursors: BTreeMap<(ConversationId, UserId), u64> = BTreeMap::new();
        for (i, (draft, sender_reads)) in drafts.iter().enumerate() {
            if !new[i] {
                continue;
            }
            let seq = next
                .get_mut(&draft.conversation_id)
                .ok_or_else(|| anyhow::anyhow!("no seqs taken for {}", draft.conversation_id))?;
            let message = draft.stored(MessageId::generate(), *seq, now_ms);
            *seq += 1;
            if *sender_reads {
                // Sending implies having read everything before.
                let cursor = (message.conversation_id.clone(), message.sender_id.clone());
                let read = cursors.entry(cursor).or_default();
                *read = (*read).max(message.seq);
            }
            known.insert(keys[i].clone(), message.clone());
            messages.push(message);
        }
        tx.insert_messages(&messages).await?;
        let cursors: Vec<ReadAdvance> = cursors
            .into_iter()
            .map(|((conversation_id, user_id), seq)| ReadAdvance {
                conversation_id,
                user_id,
                seq,
                at_ms: now_ms,
            })
            .collect();
        if !cursors.is_empty() {
            tx.advance_reads(&cursors).await?;
        }
        let events: Vec<EventEnvelope> = messages
            .into_iter()
            .map(|message| EventEnvelope {
                event: MessageEvent::Stored(message),
                occurred_at_ms: now_ms,
            })
            .collect();
        tx.enqueue(&events).await?;
    }
    tx.commit().await?;
    keys.iter()
        .zip(new)
        .map(|(key, new)| {
            let message = known.get(key).cloned().ok_or_else(|| {
                anyhow::anyhow!("a draft of the batch was neither stored nor found")
            })?;
            Ok(Sent {
                message,
                duplicate: !new,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Body, ClientMsgId, MessageType};

    fn queue(pending: &Mutex<Pending>, conversation: &str, n: usize, queued_ms: i64) {
        let draft = Draft {
            conversation_id: ConversationId::parse(conversation).unwrap(),
            sender_id: UserId::parse("ann").unwrap(),
            client_msg_id: ClientMsgId::parse(&format!("{conversation}-{n}")).unwrap(),
            kind: MessageType::Text,
            body: Body::parse(MessageType::Text, r#"{"text":"hi"}"#).unwrap(),
            reply_to: None,
            mentions: Vec::new(),
            mention_all: false,
        };
        lock(pending).queue.push_back(Queued {
            draft,
            sender_reads: true,
            queued_ms,
            queued_at: Instant::now(),
            answer: oneshot::channel().0,
        });
    }

    /// `(conversation, n)` of each draft, in order.
    fn names(drafts: &[Queued]) -> Vec<String> {
        drafts
            .iter()
            .map(|q| q.draft.client_msg_id.as_str().to_owned())
            .collect()
    }

    fn ids(names: &[&str]) -> Vec<ConversationId> {
        names
            .iter()
            .map(|n| ConversationId::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn batches_at_the_same_time_share_no_conversation_and_keep_each_ones_order() {
        let pending = Mutex::new(Pending::default());
        queue(&pending, "a", 1, 10);
        queue(&pending, "b", 1, 11);
        let first = take(&pending, 8, &[]).unwrap();
        assert_eq!(names(&first.drafts), ["a-1", "b-1"]);
        assert_eq!(first.conversations, ids(&["a", "b"]));

        // While `a` and `b` are being stored, only `c` can go.
        queue(&pending, "a", 2, 12);
        queue(&pending, "c", 1, 13);
        queue(&pending, "b", 2, 14);
        queue(&pending, "a", 3, 15);
        let second = take(&pending, 8, &[]).unwrap();
        assert_eq!(names(&second.drafts), ["c-1"]);
        assert!(
            take(&pending, 8, &[]).is_none(),
            "the rest waits for a and b"
        );
        assert_eq!(
            names(lock(&pending).queue.make_contiguous()),
            ["a-2", "b-2", "a-3"]
        );

        // The first writer, done, takes what was left for it, in queue order.
        let third = take(&pending, 8, &first.conversations).unwrap();
        assert_eq!(names(&third.drafts), ["a-2", "b-2", "a-3"]);
        assert!(lock(&pending).queue.is_empty());
        assert_eq!(
            lock(&pending).writing,
            HashSet::from_iter(ids(&["a", "b", "c"]))
        );
    }

    #[test]
    fn a_full_batch_leaves_the_rest_queued_in_order() {
        let pending = Mutex::new(Pending::default());
        for n in 1..=3 {
            queue(&pending, "a", n, 10);
        }
        queue(&pending, "b", 1, 10);
        let first = take(&pending, 2, &[]).unwrap();
        assert_eq!(names(&first.drafts), ["a-1", "a-2"]);
        let second = take(&pending, 2, &[]).unwrap();
        assert_eq!(names(&second.drafts), ["b-1"], "a-3 waits behind a's batch");
        let third = take(&pending, 2, &first.conversations).unwrap();
        assert_eq!(names(&third.drafts), ["a-3"]);
    }

    #[test]
    fn a_writer_that_stops_midway_frees_its_conversations() {
        let pending = Mutex::new(Pending::default());
        queue(&pending, "a", 1, 10);
        let first = take(&pending, 8, &[]).unwrap();
        queue(&pending, "a", 2, 11);
        assert!(take(&pending, 8, &[]).is_none(), "a is being stored");
        drop(Writing {
            pending: &pending,
            conversations: first.conversations,
        });
        assert_eq!(names(&take(&pending, 8, &[]).unwrap().drafts), ["a-2"]);

        // A finished batch hands its conversations to `take` instead.
        let writing = Writing {
            pending: &pending,
            conversations: ids(&["a"]),
        };
        assert_eq!(writing.done(), ids(&["a"]));
        assert!(
            lock(&pending).writing.contains(&ids(&["a"])[0]),
            "still held"
        );
    }

    #[test]
    fn a_batch_time_never_goes_back() {
        let pending = Mutex::new(Pending::default());
        queue(&pending, "a", 1, 50);
        queue(&pending, "a", 2, 40);
        assert_eq!(take(&pending, 8, &[]).unwrap().now_ms, 50);
        // Queued earlier than the last batch's time (a slow sender): still not before it.
        queue(&pending, "b", 1, 30);
        assert_eq!(take(&pending, 8, &[]).unwrap().now_ms, 50);
        queue(&pending, "c", 1, 70);
        assert_eq!(take(&pending, 8, &[]).unwrap().now_ms, 70);
    }
}
