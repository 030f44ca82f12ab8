//! Group commit: new messages are stored many per transaction, so a busy service pays
//! one commit (one fsync) and a handful of statements per batch rather than per message.
//!
//! A send queues its draft and then either finds a free writer slot, takes everything
//! queued (up to `send_batch` drafts) and stores it as one batch, or waits for the batch
//! that took its draft to answer. At low load a batch is the one draft that was waiting,
//! so nothing waits for company. The batch runs in its own task: a caller that goes
//! away does not abandon the drafts of others.
//!
//! One batch: the locks of all its conversations in ascending order, the drafts already
//! stored (retries answer the original), a run of seqs per conversation in queue order,
//! then one multi-row write each for messages, senders' read cursors and outbox events,
//! and the commit. Only then is anyone answered. A batch that fails answers every draft
//! in it with the failure; the senders retry with the same client message ids.

use super::{AppError, AppResult, Sent, retrying};
use crate::domain::{
    ConversationId, Draft, EventEnvelope, Message, MessageEvent, MessageId, UserId,
};
use crate::ports::{ClientKey, ReadAdvance, SendBatch as _, Store};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Semaphore, oneshot};

/// A draft waiting to be stored, and who waits for it.
struct Queued {
    draft: Draft,
    /// Whether storing it moves its sender's read cursor to it (a client's message).
    sender_reads: bool,
    answer: oneshot::Sender<AppResult<Sent>>,
}

/// The queue of drafts and the writer slots.
pub(super) struct GroupCommit {
    queue: Mutex<VecDeque<Queued>>,
    writers: Arc<Semaphore>,
    max_batch: usize,
}

impl GroupCommit {
    /// `writers` batches at once, of at most `max_batch` drafts each.
    pub(super) fn new(writers: usize, max_batch: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            writers: Arc::new(Semaphore::new(writers.max(1))),
            max_batch: max_batch.max(1),
        }
    }

    fn push(&self, queued: Queued) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(queued);
    }

    fn take(&self) -> Vec<Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let n = queue.len().min(self.max_batch);
        queue.drain(..n).collect()
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
        self.push(Queued {
            draft,
            sender_reads,
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
            let batch = self.take();
            if batch.is_empty() {
                // Another writer took this draft: its answer is coming.
                drop(permit);
                return received(answered.await);
            }
            let (store, now) = (store.clone(), now_ms());
            tokio::spawn(async move {
                write(&*store, batch, now).await;
                drop(permit);
            });
        }
    }
}

fn received(result: Result<AppResult<Sent>, oneshot::error::RecvError>) -> AppResult<Sent> {
    result.unwrap_or_else(|_| {
        Err(AppError::Unexpected(anyhow::anyhow!(
            "the batch storing this message stopped"
        )))
    })
}

/// Stores `batch` and answers each of its drafts.
async fn write<S: Store>(store: &S, batch: Vec<Queued>, now_ms: i64) {
    metrics::counter!("im_message_send_batches_total").increment(1);
    metrics::counter!("im_message_send_batch_drafts_total").increment(batch.len() as u64);
    let drafts: Vec<(&Draft, bool)> = batch.iter().map(|q| (&q.draft, q.sender_reads)).collect();
    match retrying(store, || store_batch(store, &drafts, now_ms)).await {
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

/// One attempt at storing `drafts` in one transaction; the answers are in their order.
async fn store_batch<S: Store>(
    store: &S,
    drafts: &[(&Draft, bool)],
    now_ms: i64,
) -> AppResult<Vec<Sent>> {
    let conversations: Vec<ConversationId> = drafts
        .iter()
        .map(|(draft, _)| draft.conversation_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tx = store.begin_batch(&conversations).await?;
    let keys: Vec<ClientKey> = drafts.iter().map(|(draft, _)| key(draft)).collect();
    let mut known: HashMap<ClientKey, Message> = tx
        .stored(&keys)
        .await?
        .into_iter()
        .map(|message| (key_of(&message), message))
        .collect();

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
