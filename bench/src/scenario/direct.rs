//! M3: 1:1 end-to-end latency. Users in pairs, each pair in its direct conversation,
//! both sides sending in turn; one step per offered rate, and the highest rate whose
//! end-to-end p99 stays under the target with nothing lost.

use super::traffic::{Plan, run_step};
use super::{Bench, Outcome};
use crate::cli::DirectArgs;
use std::collections::BTreeMap;

pub(super) async fn run(bench: &Bench, args: &DirectArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.users >= 2, "M3 needs at least 2 users");
    anyhow::ensure!(!args.rate.is_empty(), "M3 needs at least one --rate");
    let accounts = bench.accounts(args.users).await?;
    let conversations = bench.pairs(&accounts).await?;
    // every pair once per round, the first members first, then the second ones
    let turns: Vec<(usize, usize)> = (0..2)
        .flat_map(|side| {
            conversations
                .iter()
                .enumerate()
                .map(move |(c, conversation)| (conversation.members[side], c))
        })
        .collect();

    let mut steps = Vec::new();
    let mut first_k = 0;
    for &rate in &args.rate {
        let plan = Plan {
            label: format!("{rate}/s"),
            accounts: &accounts,
            conversations: &conversations,
            turns: turns.clone(),
            rate,
            duration: args.duration,
            first_k,
        };
        let step = run_step(bench, &plan).await?;
        first_k += step.sent;
        steps.push(step);
    }

    let kept = steps
        .iter()
        .filter(|step| {
            let p99 = step.latency.get("end_to_end").map(|p| p.p99_ms);
            step.lost == 0
                && step.unanswered == 0
                && p99.is_some_and(|p99| p99 < args.p99_target_ms)
        })
        .filter_map(|step| step.offered_rate)
        .fold(None, |best: Option<f64>, rate| {
            Some(best.map_or(rate, |b| b.max(rate)))
        });
    let summary = BTreeMap::from([
        (
            "p99_target_ms".to_owned(),
            serde_json::json!(args.p99_target_ms),
        ),
        (
            "highest_rate_within_target".to_owned(),
            serde_json::json!(kept),
        ),
    ]);
    let params = serde_json::json!({
        "users": args.users,
        "conversations": conversations.len(),
        "rates": args.rate,
        "duration_s": args.duration.as_secs_f64(),
    });
    Ok((
        "m3",
        "1:1 end-to-end latency at fixed rates",
        params,
        steps,
        summary,
    ))
}
