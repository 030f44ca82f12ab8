//! One step of WebSocket messaging traffic (M3, M4): connect the members, send on an
//! open-loop schedule, drain, close, and reconcile acks against arrivals.

use super::{Bench, add_errors, close_all, per_second, wait_until};
use crate::client::{Live, Stamp};
use crate::metrics::reconcile;
use crate::population::{self, Account, Conversation};
use crate::report::Step;
use crate::schedule::Schedule;
use crate::session::Outgoing;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Plan<'a> {
    pub label: String,
    pub accounts: &'a [Account],
    pub conversations: &'a [Conversation],
    /// Who sends the i-th message and where: `turns[i % turns.len()]` is
    /// (account index, conversation index).
    pub turns: Vec<(usize, usize)>,
    pub rate: f64,
    pub duration: Duration,
    /// Number of the plan's first send within the run (client message ids stay unique).
    pub first_k: u64,
}

pub(super) async fn run_step(bench: &Bench, plan: &Plan<'_>) -> anyhow::Result<Step> {
    anyhow::ensure!(!plan.turns.is_empty(), "nobody to send");
    let live = Arc::new(Live::default());
    let (connections, mut errors) = bench
        .connect(plan.accounts, &live, None, bench.setup_concurrency)
        .await;
    let mut by_account = vec![None; plan.accounts.len()];
    for (position, connection) in connections.iter().enumerate() {
        if let Some(slot) = by_account.get_mut(connection.owner()) {
            *slot = Some(position);
        }
    }
    let rules = bench.service.rules();
    // members online, for the drain's expected deliveries (conversations are alike;
    // the sender counts where the protocol echoes messages to it)
    let recipients = plan.conversations.first().map_or(0, |c| {
        let online = c
            .members
            .iter()
            .filter(|m| by_account.get(**m).is_some_and(Option::is_some))
            .count();
        if rules.echo_to_sender {
            online
        } else {
            online.saturating_sub(1)
        }
    }) as u64;

    let before = bench.sample();
    let schedule = Schedule::new(plan.rate, plan.duration);
    let mut unsent = 0_u64;
    let paced = schedule
        .run(|i, intended| {
            let (sender, conversation) = plan.turns[(i % plan.turns.len() as u64) as usize];
            let k = plan.first_k + i;
            let stamp = Stamp {
                sent_us: bench.clock.at_us(intended),
                sender,
                k,
            };
            let conversation = &plan.conversations[conversation];
            // one-to-one protocols address the other member (IM ignores this)
            let to = conversation
                .members
                .iter()
                .find(|m| **m != sender)
                .map_or("", |m| plan.accounts[*m].id.as_str());
            let message = Outgoing {
                k,
                stamp,
                conversation: &conversation.id,
                to,
                client_msg_id: &format!("{}-{k}", bench.tag),
            };
            let queued = by_account[sender].is_some_and(|p| connections[p].send(&message));
            if !queued {
                unsent += 1;
            }
        })
        .await;
    let sent = paced.emitted;
    let answered = || Live::get(&live.acks) + Live::get(&live.send_errors) + unsent >= sent;
    let delivered = || Live::get(&live.deliveries) >= Live::get(&live.acks) * recipients;
    wait_until(bench.drain, || answered() && delivered()).await;
    let after = bench.sample();
    let elapsed = schedule.start().elapsed();

    let inboxes = close_all(connections).await;
    let acks: Vec<_> = inboxes
        .iter()
        .flat_map(|inbox| inbox.acks.iter().cloned())
        .collect();
    let members = population::members(plan.conversations);
    let tally = reconcile(&acks, &inboxes, &members, rules);
    for inbox in &inboxes {
        add_errors(&mut errors, &inbox.errors);
    }
    if unsent > 0 {
        errors.insert("sender_not_connected".to_owned(), unsent);
    }
    let start_us = bench.clock.at_us(schedule.start());
    let usage = bench.usage(before, after, elapsed, tally.acked);
    let mut step = Step {
        label: plan.label.clone(),
        connections: inboxes.len() as u64,
        duration_s: plan.duration.as_secs_f64(),
        offered_rate: Some(plan.rate),
        sent,
        acked: tally.acked,
        errors,
        unanswered: sent.saturating_sub(tally.acked + Live::get(&live.send_errors) + unsent),
        throughput_per_s: per_second(tally.acked, start_us, tally.last_ack_us),
        deliveries_per_s: per_second(tally.deliveries_to_others, start_us, tally.last_delivery_us),
        expected_deliveries: Some(tally.expected_deliveries),
        delivered: Some(tally.delivered),
        lost: tally.lost,
        duplicates: tally.duplicates,
        reordered: tally.reordered,
        unmatched_arrivals: tally.unmatched_arrivals,
        disconnects: inboxes.iter().filter(|i| i.disconnected.is_some()).count() as u64,
        scheduler_max_lag_ms: Some(paced.max_lag.as_secs_f64() * 1000.0),
        server: usage.server,
        database: usage.database,
        bench_cpu_percent: usage.bench_cpu_percent,
        ..Step::default()
    };
    step.add_latency("end_to_end", &tally.end_to_end);
    step.add_latency("last_recipient", &tally.last_recipient);
    step.add_latency("ack", &tally.ack);
    Ok(step)
}
