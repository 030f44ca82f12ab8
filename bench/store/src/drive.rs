//! The load: sends to many direct conversations on an open-loop schedule over gRPC, each
//! answer being the commit, then a read-back of every conversation.

use im_bench::metrics::Latency;
use im_bench::procstat::ProcWatch;
use im_bench::report::Step;
use im_bench::schedule::Schedule;
use im_contracts::v1 as pb;
use im_contracts::v1::message_service_client::MessageServiceClient;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// What to offer.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// The message service, `http://127.0.0.1:port`.
    pub target: String,
    /// Direct conversations the sends go round (two senders each).
    pub conversations: usize,
    pub rate: f64,
    pub duration: Duration,
    /// Sends awaiting their answer at most; beyond it the schedule's lateness shows in
    /// the latency.
    pub max_in_flight: usize,
    /// HTTP/2 connections the sends are spread over.
    pub channels: usize,
    /// How long to wait for the last answers after the schedule ends.
    pub drain: Duration,
    /// Processes whose CPU and memory are the server's.
    pub server_pids: Vec<u32>,
    /// Processes whose CPU is the database's.
    pub db_pids: Vec<u32>,
}

/// One answered send.
#[derive(Debug, Clone, Copy)]
struct Ack {
    conversation: usize,
    k: u64,
    seq: u64,
    issued: Instant,
    answered: Instant,
}

/// A send as its task saw it.
struct Answered {
    conversation: usize,
    k: u64,
    /// When the schedule meant it to go (latency counts from here).
    intended: Instant,
    /// When it went, past the in-flight limit.
    issued: Instant,
    answered: Instant,
    /// The stored seq, or why not.
    seq: Result<u64, tonic::Code>,
}

/// The answers so far.
struct Tally {
    acks: Vec<Ack>,
    latency: Latency,
    errors: BTreeMap<String, u64>,
    last_answer: Instant,
}

impl Tally {
    fn new(start: Instant) -> Self {
        Self {
            acks: Vec::new(),
            latency: Latency::new(),
            errors: BTreeMap::new(),
            last_answer: start,
        }
    }

    fn add(&mut self, joined: Result<Answered, tokio::task::JoinError>) {
        let Ok(answered) = joined else {
            *self.errors.entry("task_failed".to_owned()).or_default() += 1;
            return;
        };
        match answered.seq {
            Ok(seq) => {
                self.latency
                    .record_us(micros(answered.answered.duration_since(answered.intended)));
                self.last_answer = self.last_answer.max(answered.answered);
                self.acks.push(Ack {
                    conversation: answered.conversation,
                    k: answered.k,
                    seq,
                    issued: answered.issued,
                    answered: answered.answered,
                });
            }
            Err(code) => *self.errors.entry(format!("{code:?}")).or_default() += 1,
        }
    }
}

/// What a run found, besides its [`Step`].
#[derive(Debug, Default)]
pub struct Findings {
    /// Conversations whose stored seqs are not exactly 1..=n.
    pub gapped_conversations: u64,
    pub stored: u64,
}

fn conversation_id(tag: &str, c: usize) -> String {
    format!("{tag}-c{c}")
}

fn sender_id(tag: &str, c: usize, k: u64) -> String {
    format!("{tag}-u{c}-{}", k % 2)
}

fn client_msg_id(tag: &str, k: u64) -> String {
    format!("{tag}-{k}")
}

/// Runs the schedule, waits for the answers, reads every conversation back.
pub async fn drive(options: &DriveOptions) -> anyhow::Result<(Step, Findings)> {
    anyhow::ensure!(options.conversations > 0, "at least one conversation");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut channels = Vec::new();
    for _ in 0..options.channels.max(1) {
        let channel = Endpoint::from_shared(options.target.clone())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(MessageServiceClient::new(channel));
    }
    let server = ProcWatch::new(options.server_pids.clone());
    let database = ProcWatch::new(options.db_pids.clone());
    let (server_before, database_before) = (server.sample()?, database.sample()?);

    let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let mut sends: JoinSet<Answered> = JoinSet::new();
    let schedule = Schedule::new(options.rate, options.duration);
    let conversations = options.conversations;
    let mut tally = Tally::new(schedule.start());
    let paced = schedule
        .run(|k, intended| {
            let c = (k % conversations as u64) as usize;
            let request = pb::SendRequest {
                conversation_id: conversation_id(&tag, c),
                sender_id: sender_id(&tag, c, k / conversations as u64),
                client_msg_id: client_msg_id(&tag, k),
                r#type: pb::MessageType::Text as i32,
                body_json: format!(r#"{{"text":"store bench message {k} of {tag}"}}"#),
                ..Default::default()
            };
            let mut client = channels[(k % channels.len() as u64) as usize].clone();
            let in_flight = in_flight.clone();
            sends.spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                let issued = Instant::now();
                let answer = client.send(request).await;
                let answered = Instant::now();
                let seq = answer
                    .map(|a| a.into_inner().message.map_or(0, |m| m.seq))
                    .map_err(|status| status.code());
                Answered {
                    conversation: c,
                    k,
                    intended,
                    issued,
                    answered,
                    seq,
                }
            });
            // Finished sends are taken as the schedule goes: a long run would
            // otherwise keep every finished task until the end.
            while let Some(joined) = sends.try_join_next() {
                tally.add(joined);
            }
        })
        .await;

    let deadline = Instant::now() + options.drain;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, sends.join_next()).await {
        tally.add(joined);
    }
    let Tally {
        acks,
        latency,
        errors,
        last_answer,
    } = tally;
    let unanswered = sends.len() as u64;
    sends.abort_all();
    let elapsed = last_answer.duration_since(schedule.start());
    let (server_after, database_after) = (server.sample()?, database.sample()?);

    let mut step = Step {
        label: format!("{:.0}/s", options.rate),
        connections: channels.len() as u64,
        duration_s: elapsed.as_secs_f64(),
        offered_rate: Some(options.rate),
        sent: paced.emitted,
        acked: acks.len() as u64,
        errors,
        unanswered,
        throughput_per_s: (elapsed > Duration::ZERO)
            .then(|| acks.len() as f64 / elapsed.as_secs_f64()),
        reordered: reordered(&acks),
        scheduler_max_lag_ms: Some(paced.max_lag.as_secs_f64() * 1000.0),
        ..Step::default()
    };
    step.add_latency("commit", &latency);
    let acked = acks.len() as u64;
    if let (Some(before), Some(after)) = (server_before, server_after) {
        step.server = Some(server.usage(before, after, elapsed, acked));
    }
    if let (Some(before), Some(after)) = (database_before, database_after) {
        step.database = Some(database.usage(before, after, elapsed, acked));
    }
    let findings = read_back(&channels[0], &tag, conversations, &acks, &mut step).await?;
    Ok((step, findings))
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Sends answered before another of the same conversation was issued that got a higher
/// seq than it: what a client sending one message after the other would see reordered.
fn reordered(acks: &[Ack]) -> u64 {
    let mut by_conversation: HashMap<usize, Vec<&Ack>> = HashMap::new();
    for ack in acks {
        by_conversation
            .entry(ack.conversation)
            .or_default()
            .push(ack);
    }
    let mut reordered = 0;
    for mut issued in by_conversation.into_values() {
        let mut answered = issued.clone();
        issued.sort_by_key(|a| a.issued);
        answered.sort_by_key(|a| a.answered);
        // Sweep by issue time, with the highest seq of every send answered before it.
        let (mut next, mut highest) = (0, 0);
        for ack in issued {
            while next < answered.len() && answered[next].answered < ack.issued {
                highest = highest.max(answered[next].seq);
                next += 1;
            }
            if highest >= ack.seq {
                reordered += 1;
            }
        }
    }
    reordered
}

/// Reads every conversation's history back, newest first: each acked send must be
/// stored once, at the seq it was answered with, and seqs must run 1..=n.
async fn read_back(
    client: &MessageServiceClient<Channel>,
    tag: &str,
    conversations: usize,
    acks: &[Ack],
    step: &mut Step,
) -> anyhow::Result<Findings> {
    let mut expected: HashMap<(usize, u64), u64> = HashMap::with_capacity(acks.len());
    let mut doubled = 0;
    for ack in acks {
        if expected
            .insert((ack.conversation, ack.seq), ack.k)
            .is_some()
        {
            doubled += 1; // two sends answered with one seq
        }
    }
    let mut findings = Findings::default();
    let mut seen = 0;
    for c in 0..conversations {
        let mut client = client.clone();
        let mut stored: HashMap<String, u64> = HashMap::new();
        let mut seqs = Vec::new();
        let mut before_seq = 0;
        loop {
            let page = client
                .history(pb::HistoryRequest {
                    conversation_id: conversation_id(tag, c),
                    viewer_id: sender_id(tag, c, 0),
                    before_seq,
                    limit: 200,
                    direction: pb::HistoryDirection::Backward as i32,
                    ..Default::default()
                })
                .await?
                .into_inner();
            for message in &page.messages {
                *stored.entry(message.client_msg_id.clone()).or_default() += 1;
                seqs.push(message.seq);
                if let Some(k) = expected.get(&(c, message.seq))
                    && message.client_msg_id == client_msg_id(tag, *k)
                {
                    seen += 1;
                }
            }
            match page.messages.first() {
                Some(first) if page.has_more => before_seq = first.seq,
                _ => break,
            }
        }
        doubled += stored.values().filter(|n| **n > 1).count() as u64;
        findings.stored += seqs.len() as u64;
        seqs.sort_unstable();
        if seqs.iter().zip(1..).any(|(seq, n)| *seq != n) {
            findings.gapped_conversations += 1;
        }
    }
    step.lost = acks.len() as u64 - seen;
    step.duplicates = doubled;
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(conversation: usize, seq: u64, issued_ms: u64, answered_ms: u64) -> Ack {
        let zero = Instant::now();
        Ack {
            conversation,
            k: seq,
            seq,
            issued: zero + Duration::from_millis(issued_ms),
            answered: zero + Duration::from_millis(answered_ms),
        }
    }

    #[test]
    fn only_a_send_issued_after_an_answer_must_follow_it() {
        // Overlapping sends may take seqs in either order.
        assert_eq!(reordered(&[ack(0, 2, 0, 10), ack(0, 1, 5, 9)]), 0);
        // Issued after the other's answer, yet stored before it.
        assert_eq!(reordered(&[ack(0, 2, 0, 10), ack(0, 1, 11, 20)]), 1);
        // Other conversations do not count.
        assert_eq!(reordered(&[ack(0, 2, 0, 10), ack(1, 1, 11, 20)]), 0);
    }
}
