//! The group commit's own account of a run, read from the server's Prometheus metrics:
//! how many batches it stored, how big and how long they were.

use serde_json::{Value, json};

/// Totals of one metric family in Prometheus text, summed over its label sets.
fn total(metrics: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `name value` or `name{labels} value`, not a longer name sharing the prefix.
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value: f64 = rest.rsplit(' ').next()?.parse().ok()?;
        *found.get_or_insert(0.0) += value;
    }
    found
}

/// Batches, drafts per batch, and mean batch and queue times (ms), as JSON.
pub fn group_commit(metrics: &str) -> Value {
    let batches = total(metrics, "im_message_send_batches_total");
    let drafts = total(metrics, "im_message_send_batch_drafts_total");
    let mean_ms = |family: &str| {
        let sum = total(metrics, &format!("{family}_sum"))?;
        let count = total(metrics, &format!("{family}_count"))?;
        (count > 0.0).then(|| sum / count * 1000.0)
    };
    json!({
        "batches": batches,
        "drafts_per_batch": batches
            .zip(drafts)
            .and_then(|(b, d)| (b > 0.0).then(|| d / b)),
        "batch_mean_ms": mean_ms("im_message_send_batch_seconds"),
        "queue_wait_mean_ms": mean_ms("im_message_send_queue_wait_seconds"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_families_and_ignores_longer_names() {
        let text = "\
# TYPE im_message_send_batches_total counter
im_message_send_batches_total 4
im_message_send_batch_drafts_total 10
im_message_send_batch_seconds_sum 0.2
im_message_send_batch_seconds_count 4
im_message_send_batch_seconds_bucket{le=\"0.1\"} 4
im_message_send_queue_wait_seconds_sum{service=\"a\"} 1
im_message_send_queue_wait_seconds_sum{service=\"b\"} 1
im_message_send_queue_wait_seconds_count 10
";
        let summary = group_commit(text);
        assert_eq!(summary["batches"], 4.0);
        assert_eq!(summary["drafts_per_batch"], 2.5);
        assert_eq!(summary["batch_mean_ms"], 50.0);
        assert_eq!(summary["queue_wait_mean_ms"], 200.0);
        assert_eq!(total(text, "im_message_send_batch"), None);
    }
}
