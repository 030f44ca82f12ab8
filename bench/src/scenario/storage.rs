//! M5: storage throughput. Many senders post messages over REST on an open-loop
//! schedule; a 201 comes only once the message is committed, so send→answer is the
//! commit latency. Afterwards every conversation's history is read back to check that
//! each acknowledged message is stored exactly once.

use super::{Bench, Outcome, per_second};
use crate::cli::StoreArgs;
use crate::client::{SendOutcome, Stamp};
use crate::metrics::{Acked, Latency};
use crate::population::{self, Account, Conversation};
use crate::report::Step;
use crate::schedule::Schedule;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub(super) async fn run(bench: &Bench, args: &StoreArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.users >= 2, "M5 needs at least 2 users");
    let accounts = bench.accounts(args.users).await?;
    let conversations = population::pairs(&bench.api, &accounts, bench.setup_concurrency).await?;
    let everyone = &accounts;
    let senders: Vec<(&Account, &Conversation)> = conversations
        .iter()
        .flat_map(|c| c.members.iter().map(move |m| (&everyone[*m], c)))
        .collect();

    let in_flight = Arc::new(Semaphore::new(args.max_in_flight.max(1)));
    let mut sends: JoinSet<(Stamp, String, anyhow::Result<SendOutcome>, u64)> = JoinSet::new();
    let before = bench.sample();
    let schedule = Schedule::new(args.rate, args.duration);
    let paced = schedule
        .run(|i, intended| {
            let (account, conversation) = senders[(i % senders.len() as u64) as usize];
            let stamp = Stamp {
                sent_us: bench.clock.at_us(intended),
                sender: account.index,
                k: i,
            };
            let (api, clock, in_flight) = (bench.api.clone(), bench.clock, in_flight.clone());
            let (token, id) = (account.token.clone(), conversation.id.clone());
            let client_msg_id = format!("{}-{i}", bench.tag);
            sends.spawn(async move {
                let outcome = match in_flight.acquire_owned().await {
                    Ok(_permit) => {
                        api.send_text(&token, &id, &client_msg_id, &stamp.text())
                            .await
                    }
                    Err(_) => Err(anyhow::anyhow!("semaphore closed")),
                };
                (stamp, id, outcome, clock.now_us())
            });
        })
        .await;

    let mut acks = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + bench.drain;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, sends.join_next()).await {
        let Ok((stamp, conversation, outcome, answered_us)) = joined else {
            *errors.entry("task_failed".to_owned()).or_default() += 1;
            continue;
        };
        match outcome {
            Ok(SendOutcome::Stored(message)) => acks.push(Acked {
                conversation,
                seq: message["seq"].as_u64().unwrap_or(0),
                sender: stamp.sender,
                sent_us: stamp.sent_us,
                acked_us: answered_us,
            }),
            Ok(SendOutcome::Refused(code)) => *errors.entry(code).or_default() += 1,
            Err(error) => *errors.entry(super::failure_label(&error)).or_default() += 1,
        }
    }
    sends.abort_all();
    let after = bench.sample();
    let elapsed = schedule.start().elapsed();

    let stored = verify(bench, &accounts, &conversations, &acks).await?;
    let mut commit = Latency::new();
    for ack in &acks {
        commit.record_us(ack.acked_us.saturating_sub(ack.sent_us));
    }
    let acked = acks.len() as u64;
    let failed: u64 = errors.values().sum();
    let usage = bench.usage(before, after, elapsed, acked);
    let last_ack_us = acks.iter().map(|a| a.acked_us).max().unwrap_or(0);
    let mut step = Step {
        label: format!("{}/s", args.rate),
        duration_s: args.duration.as_secs_f64(),
        offered_rate: Some(args.rate),
        sent: paced.emitted,
        acked,
        errors,
        unanswered: paced.emitted.saturating_sub(acked + failed),
        throughput_per_s: per_second(acked, bench.clock.at_us(schedule.start()), last_ack_us),
        lost: stored.missing,
        duplicates: stored.duplicates,
        unmatched_arrivals: stored.unacknowledged,
        scheduler_max_lag_ms: Some(paced.max_lag.as_secs_f64() * 1000.0),
        server: usage.server,
        bench_cpu_percent: usage.bench_cpu_percent,
        ..Step::default()
    };
    step.add_latency("send_to_commit", &commit);
    let summary = BTreeMap::from([(
        "stored_bench_messages".to_owned(),
        serde_json::json!(stored.found),
    )]);
    let params = serde_json::json!({
        "users": args.users,
        "conversations": conversations.len(),
        "rate": args.rate,
        "duration_s": args.duration.as_secs_f64(),
        "max_in_flight": args.max_in_flight,
    });
    Ok((
        "m5",
        "stored messages per second (REST sends)",
        params,
        vec![step],
        summary,
    ))
}

/// What the histories hold compared with the acks.
#[derive(Debug, Default)]
struct Stored {
    found: u64,
    /// Acked but not in the history.
    missing: u64,
    /// Bench messages stored more than once (same send number).
    duplicates: u64,
    /// Bench messages stored without an ack (answers lost or too late).
    unacknowledged: u64,
}

/// Reads every conversation's history back (bounded pages) and compares.
async fn verify(
    bench: &Bench,
    accounts: &[Account],
    conversations: &[Conversation],
    acks: &[Acked],
) -> anyhow::Result<Stored> {
    let acked: HashSet<(&str, u64)> = acks
        .iter()
        .map(|a| (a.conversation.as_str(), a.seq))
        .collect();
    let mut per_conversation: HashMap<&str, u64> = HashMap::new();
    for ack in acks {
        *per_conversation
            .entry(ack.conversation.as_str())
            .or_default() += 1;
    }
    let mut stored = Stored::default();
    let mut found: HashSet<(&str, u64)> = HashSet::new();
    let mut sends_seen: HashSet<u64> = HashSet::new();
    for conversation in conversations {
        let token = &accounts[conversation.members[0]].token;
        let expected = per_conversation
            .get(conversation.id.as_str())
            .copied()
            .unwrap_or(0);
        let max_pages = expected / 200 + 5; // a bound, should the server page oddly
        // Newest first, page by page toward seq 1.
        let mut before_seq = 0;
        for _ in 0..max_pages {
            let (items, has_more) = bench
                .api
                .history(token, &conversation.id, before_seq)
                .await?;
            let oldest = items.iter().filter_map(|m| m["seq"].as_u64()).min();
            for message in &items {
                let seq = message["seq"].as_u64().unwrap_or(0);
                let Some(stamp) = Stamp::of_message(message) else {
                    continue;
                };
                stored.found += 1;
                if !sends_seen.insert(stamp.k) {
                    stored.duplicates += 1;
                }
                if acked.contains(&(conversation.id.as_str(), seq)) {
                    found.insert((conversation.id.as_str(), seq));
                } else {
                    stored.unacknowledged += 1;
                }
            }
            match oldest {
                Some(oldest) if has_more && oldest > 1 => before_seq = oldest,
                _ => break,
            }
        }
    }
    stored.missing = acked.len().saturating_sub(found.len()) as u64;
    Ok(stored)
}
