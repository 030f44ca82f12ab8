//! M4: fan-out. One group with every member online; members take turns sending into
//! it at a fixed rate. Reports deliveries per second and send-to-last-recipient latency.

use super::traffic::{Plan, run_step};
use super::{Bench, Outcome};
use crate::cli::FanoutArgs;
use crate::population;
use std::collections::BTreeMap;

pub(super) async fn run(bench: &Bench, args: &FanoutArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.group_size >= 2, "M4 needs a group of at least 2");
    let accounts = bench.accounts(args.group_size).await?;
    let group = population::group(&bench.api, &accounts, &format!("bench {}", bench.tag)).await?;
    let senders = args
        .senders
        .unwrap_or(args.group_size)
        .clamp(1, args.group_size);
    let plan = Plan {
        label: format!("group of {}", args.group_size),
        accounts: &accounts,
        conversations: std::slice::from_ref(&group),
        turns: (0..senders).map(|sender| (sender, 0)).collect(),
        rate: args.rate,
        duration: args.duration,
        first_k: 0,
    };
    let step = run_step(bench, &plan).await?;
    let params = serde_json::json!({
        "group_size": args.group_size,
        "senders": senders,
        "rate": args.rate,
        "duration_s": args.duration.as_secs_f64(),
    });
    Ok((
        "m4",
        "fan-out in one group, everyone online",
        params,
        vec![step],
        BTreeMap::new(),
    ))
}
