//! The ledger of a run: what each connection received (an [`Inbox`]), what the server
//! acknowledged as stored ([`Acked`]), and their reconciliation ([`tally`]): every
//! stored message should reach every online member exactly once, in seq order.

use super::Latency;
use std::collections::{BTreeMap, HashMap};

/// A send the server confirmed as stored.
#[derive(Debug, Clone)]
pub struct Acked {
    pub conversation: String,
    pub seq: u64,
    pub sender: usize,
    pub sent_us: u64,
    pub acked_us: u64,
}

/// A bench message pushed to one connection.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// How often it arrived: more than once is a duplicate.
    pub count: u32,
    pub sender: usize,
    pub sent_us: u64,
    /// When it first arrived.
    pub at_us: u64,
}

/// Everything one connection (of user `owner`) received.
#[derive(Debug, Default)]
pub struct Inbox {
    pub owner: usize,
    /// Per conversation, per seq.
    pub arrivals: HashMap<String, BTreeMap<u64, Arrival>>,
    highest_seq: HashMap<String, u64>,
    /// Arrivals with a seq below one already seen in the same conversation.
    pub reordered: u64,
    /// `send.ack` replies to this connection's sends.
    pub acks: Vec<Acked>,
    /// `error` frames by code.
    pub errors: BTreeMap<String, u64>,
    /// Round trips of this connection's `ping` frames.
    pub pongs: Latency,
    /// Why the connection ended before the bench closed it, if it did.
    pub disconnected: Option<String>,
}

impl Inbox {
    pub fn new(owner: usize) -> Self {
        Self {
            owner,
            ..Self::default()
        }
    }

    /// Records a pushed message; `true` when it is the first arrival of that seq.
    pub fn arrive(
        &mut self,
        conversation: &str,
        seq: u64,
        sender: usize,
        sent_us: u64,
        at_us: u64,
    ) -> bool {
        let arrivals = self.arrivals.entry(conversation.to_owned()).or_default();
        if let Some(arrival) = arrivals.get_mut(&seq) {
            arrival.count += 1;
            return false;
        }
        arrivals.insert(
            seq,
            Arrival {
                count: 1,
                sender,
                sent_us,
                at_us,
            },
        );
        let highest = self.highest_seq.entry(conversation.to_owned()).or_default();
        if seq < *highest {
            self.reordered += 1;
        }
        *highest = (*highest).max(seq);
        true
    }

    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }
}

/// The reconciliation of acks against arrivals.
#[derive(Debug, Default)]
pub struct Tally {
    pub acked: u64,
    /// Stored messages times their online recipients (the sender's own devices included,
    /// as the protocol pushes to them too).
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Arrivals of bench messages that no ack accounts for (acks lost or late).
    pub unmatched_arrivals: u64,
    /// Send → push at each recipient other than the sender.
    pub end_to_end: Latency,
    /// Send → push at the last recipient other than the sender, per message.
    pub last_recipient: Latency,
    /// Send → stored (the ack).
    pub ack: Latency,
    /// Deliveries to recipients other than the sender.
    pub deliveries_to_others: u64,
    pub last_ack_us: u64,
    pub last_delivery_us: u64,
}

/// What a protocol promises, for the reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The server pushes each message to the sender's own connections too (IM does;
    /// XMPP without carbons and the raw relay do not).
    pub echo_to_sender: bool,
    /// Acks come from the server (IM's `send.ack`, XMPP stream management). Without
    /// them (the relay) an [`Acked`] records a written send, and no ack latency is kept.
    pub server_acks: bool,
}

impl Rules {
    pub const IM: Self = Self {
        echo_to_sender: true,
        server_acks: true,
    };
}

/// Reconciles `acks` with the `inboxes` of the connected users; `members` lists each
/// conversation's members (user indexes). IM's [`Rules`].
pub fn tally(acks: &[Acked], inboxes: &[Inbox], members: &HashMap<String, Vec<usize>>) -> Tally {
    reconcile(acks, inboxes, members, Rules::IM)
}

/// [`tally`] under a protocol's own [`Rules`].
pub fn reconcile(
    acks: &[Acked],
    inboxes: &[Inbox],
    members: &HashMap<String, Vec<usize>>,
    rules: Rules,
) -> Tally {
    let by_owner: HashMap<usize, &Inbox> =
        inboxes.iter().map(|inbox| (inbox.owner, inbox)).collect();
    let mut tally = Tally {
        reordered: inboxes.iter().map(|inbox| inbox.reordered).sum(),
        ..Tally::default()
    };
    let mut matched = 0_u64;
    for ack in acks {
        tally.acked += 1;
        if rules.server_acks {
            tally
                .ack
                .record_us(ack.acked_us.saturating_sub(ack.sent_us));
        }
        tally.last_ack_us = tally.last_ack_us.max(ack.acked_us);
        let recipients = members
            .get(&ack.conversation)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut last: Option<u64> = None;
        let mut everyone = true;
        for recipient in recipients {
            if !rules.echo_to_sender && *recipient == ack.sender {
                continue;
            }
            let Some(inbox) = by_owner.get(recipient) else {
                continue; // not online in this run
            };
            tally.expected_deliveries += 1;
            let arrival = inbox
                .arrivals
                .get(&ack.conversation)
                .and_then(|seqs| seqs.get(&ack.seq));
            let Some(arrival) = arrival else {
                tally.lost += 1;
                everyone = false;
                continue;
            };
            matched += 1;
            tally.delivered += 1;
            tally.duplicates += u64::from(arrival.count - 1);
            tally.last_delivery_us = tally.last_delivery_us.max(arrival.at_us);
            if *recipient != ack.sender {
                tally.deliveries_to_others += 1;
                tally
                    .end_to_end
                    .record_us(arrival.at_us.saturating_sub(ack.sent_us));
                last = last.max(Some(arrival.at_us));
            }
        }
        if let (true, Some(last)) = (everyone, last) {
            tally
                .last_recipient
                .record_us(last.saturating_sub(ack.sent_us));
        }
    }
    let arrived: u64 = inboxes
        .iter()
        .flat_map(|inbox| inbox.arrivals.values())
        .map(|seqs| seqs.len() as u64)
        .sum();
    tally.unmatched_arrivals = arrived.saturating_sub(matched);
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(seq: u64, sender: usize) -> Acked {
        Acked {
            conversation: "c".into(),
            seq,
            sender,
            sent_us: seq * 1000,
            acked_us: seq * 1000 + 300,
        }
    }

    #[test]
    fn counts_loss_duplicates_and_reordering() {
        let members = HashMap::from([("c".to_owned(), vec![0, 1])]);
        let mut alice = Inbox::new(0);
        let mut bob = Inbox::new(1);
        for seq in 1..=3 {
            alice.arrive("c", seq, 0, seq * 1000, seq * 1000 + 500);
        }
        // bob: 2 before 1, 2 twice, 3 never
        assert!(bob.arrive("c", 2, 0, 2000, 4000));
        assert!(bob.arrive("c", 1, 0, 1000, 4100));
        assert!(!bob.arrive("c", 2, 0, 2000, 4200));
        let acks: Vec<Acked> = (1..=3).map(|seq| ack(seq, 0)).collect();
        let tally = tally(&acks, &[alice, bob], &members);
        assert_eq!(tally.acked, 3);
        assert_eq!(tally.expected_deliveries, 6);
        assert_eq!(tally.delivered, 5);
        assert_eq!(tally.lost, 1);
        assert_eq!(tally.duplicates, 1);
        assert_eq!(tally.reordered, 1);
        assert_eq!(tally.unmatched_arrivals, 0);
        assert_eq!(tally.deliveries_to_others, 2);
        assert_eq!(tally.end_to_end.count(), 2);
        // message 3 never reached bob: no last-recipient time for it
        assert_eq!(tally.last_recipient.count(), 2);
        assert_eq!(tally.ack.count(), 3);
    }

    #[test]
    fn without_echo_only_the_others_are_expected_and_without_server_acks_no_ack_latency() {
        let members = HashMap::from([("c".to_owned(), vec![0, 1])]);
        let alice = Inbox::new(0); // the sender: gets nothing back
        let mut bob = Inbox::new(1);
        bob.arrive("c", 1, 0, 1000, 1500);
        let rules = Rules {
            echo_to_sender: false,
            server_acks: false,
        };
        let counted = reconcile(&[ack(1, 0), ack(2, 0)], &[alice, bob], &members, rules);
        assert_eq!(counted.acked, 2);
        assert_eq!(counted.expected_deliveries, 2);
        assert_eq!((counted.delivered, counted.lost), (1, 1));
        assert_eq!(counted.end_to_end.count(), 1);
        assert_eq!(counted.ack.count(), 0);
        // under IM's rules the same inboxes miss the sender's own copies
        let members = HashMap::from([("c".to_owned(), vec![0, 1])]);
        let mut bob = Inbox::new(1);
        bob.arrive("c", 1, 0, 1000, 1500);
        let im = tally(&[ack(1, 0)], &[Inbox::new(0), bob], &members);
        assert_eq!((im.expected_deliveries, im.lost, im.ack.count()), (2, 1, 1));
    }

    #[test]
    fn arrivals_without_an_ack_are_unmatched() {
        let members = HashMap::from([("c".to_owned(), vec![0, 1])]);
        let mut bob = Inbox::new(1);
        bob.arrive("c", 7, 0, 0, 10);
        let tally = tally(&[], &[bob], &members);
        assert_eq!(tally.unmatched_arrivals, 1);
        assert_eq!(tally.lost, 0);
    }
}
