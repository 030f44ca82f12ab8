//! The client's half of XEP-0198 stream management acks: every stanza written after
//! `<enable/>` gets the next number (from 1), and the server's `<a h='N'/>` says it
//! has handled the first N, so each bench message waits here for an `h` that covers it.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct AckQueue<T> {
    waiting: VecDeque<(u64, T)>,
    handled: u64,
}

impl<T> Default for AckQueue<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
            handled: 0,
        }
    }
}

impl<T> AckQueue<T> {
    /// `item` went out as stanza number `number` (numbers only grow).
    pub fn expect(&mut self, number: u64, item: T) {
        self.waiting.push_back((number, item));
    }

    /// The server reports `handled` stanzas handled: the items that covers, in the
    /// order they were written. An `h` below an earlier one acks nothing again.
    pub fn acknowledge(&mut self, handled: u64) -> Vec<T> {
        self.handled = self.handled.max(handled);
        let mut acked = Vec::new();
        while self
            .waiting
            .front()
            .is_some_and(|(number, _)| *number <= self.handled)
        {
            if let Some((_, item)) = self.waiting.pop_front() {
                acked.push(item);
            }
        }
        acked
    }

    /// Items written and not acked yet.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_covers_every_stanza_up_to_its_count_once() {
        let mut queue = AckQueue::default();
        // stanzas 1 and 3 were pings, not messages
        queue.expect(2, "a");
        queue.expect(4, "b");
        queue.expect(5, "c");
        assert!(queue.acknowledge(1).is_empty());
        assert_eq!(queue.acknowledge(4), ["a", "b"]);
        assert_eq!(queue.len(), 1);
        // a stale, lower count acks nothing, and nothing twice
        assert!(queue.acknowledge(3).is_empty());
        assert!(queue.acknowledge(4).is_empty());
        assert_eq!(queue.acknowledge(9), ["c"]);
        assert!(queue.is_empty());
    }

    #[test]
    fn an_item_written_after_a_high_count_waits_for_a_higher_one() {
        let mut queue = AckQueue::default();
        assert!(queue.acknowledge(3).is_empty());
        queue.expect(4, 'x');
        assert!(queue.acknowledge(3).is_empty());
        assert_eq!(queue.acknowledge(4), ['x']);
    }
}
