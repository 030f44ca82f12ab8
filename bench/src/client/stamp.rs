//! The text body of a bench message: `imb <sent_us> <sender> <k>`, carrying the
//! intended send time so that any receiver can compute the latency, and the sender and
//! a run-wide number so that arrivals can be matched to sends.

/// What a bench message says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Intended send time, microseconds since the run's [`crate::clock::Clock`] epoch.
    pub sent_us: u64,
    /// Index of the sending user.
    pub sender: usize,
    /// The send's number within the run.
    pub k: u64,
}

const PREFIX: &str = "imb ";

impl Stamp {
    pub fn text(&self) -> String {
        format!("{PREFIX}{} {} {}", self.sent_us, self.sender, self.k)
    }

    /// The stamp of a message text, or `None` for any other message.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.strip_prefix(PREFIX)?.split(' ');
        let stamp = Self {
            sent_us: parts.next()?.parse().ok()?,
            sender: parts.next()?.parse().ok()?,
            k: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(stamp)
    }

    /// The stamp of a message object (`{"body": {"text": …}, …}`) as the API returns it.
    pub fn of_message(message: &serde_json::Value) -> Option<Self> {
        Self::parse(message["body"]["text"].as_str()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_other_texts() {
        let stamp = Stamp {
            sent_us: 123_456,
            sender: 7,
            k: 42,
        };
        assert_eq!(Stamp::parse(&stamp.text()), Some(stamp));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("imb 1 2"), None);
        assert_eq!(Stamp::parse("imb 1 2 3 4"), None);
        let message = serde_json::json!({"body": {"text": stamp.text()}});
        assert_eq!(Stamp::of_message(&message), Some(stamp));
    }
}
