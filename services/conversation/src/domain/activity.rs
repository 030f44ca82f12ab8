//! Message activity as this service sees it: a projection of the message service's
//! events (the newest message, the highest seq, each member's read cursor), kept
//! idempotent and order-safe so redelivered or late events change nothing.

/// A message as the message service announced it, kept as the conversation's preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSnapshot {
    pub id: String,
    pub seq: u64,
    pub sender_id: String,
    pub client_msg_id: String,
    /// The message service's `MessageType` number; this service does not interpret it.
    pub message_type: i32,
    pub body_json: String,
    pub reply_to: String,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub created_at_ms: i64,
    pub edited_at_ms: i64,
    pub recalled: bool,
}

impl MessageSnapshot {
    /// Later states of one message rank higher: edits by time, a recall above all.
    fn revision(&self) -> (bool, i64) {
        (self.recalled, self.edited_at_ms)
    }
}

/// A conversation's message activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    pub max_seq: u64,
    pub last_message: Option<MessageSnapshot>,
    /// What the conversation list sorts by: creation, then each new message.
    pub last_activity_ms: i64,
    /// Bumped by every change, so concurrent writers compare and swap.
    pub revision: i64,
}

impl Activity {
    pub fn starting(now_ms: i64) -> Self {
        Self {
            last_activity_ms: now_ms,
            ..Self::default()
        }
    }

    /// The activity after `message` (stored, edited or recalled) is known, or `None` when
    /// it changes nothing: an older seq, a duplicate, or an older state of the newest
    /// message.
    pub fn apply(&self, message: &MessageSnapshot) -> Option<Self> {
        if message.seq > self.max_seq {
            return Some(Self {
                max_seq: message.seq,
                last_message: Some(message.clone()),
                last_activity_ms: self.last_activity_ms.max(message.created_at_ms),
                revision: self.revision + 1,
            });
        }
        let last = self.last_message.as_ref()?;
        (last.seq == message.seq && message.revision() > last.revision()).then(|| Self {
            last_message: Some(message.clone()),
            revision: self.revision + 1,
            ..self.clone()
        })
    }
}

/// Messages after the reader's cursor; never negative.
pub fn unread(max_seq: u64, read_seq: u64) -> u64 {
    max_seq.saturating_sub(read_seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, created_at_ms: i64) -> MessageSnapshot {
        MessageSnapshot {
            id: format!("m{seq}"),
            seq,
            body_json: format!("{{\"text\":\"{seq}\"}}"),
            created_at_ms,
            ..MessageSnapshot::default()
        }
    }

    #[test]
    fn newer_messages_advance_older_and_duplicates_do_not() {
        let start = Activity::starting(100);
        let one = start.apply(&message(1, 150)).unwrap();
        assert_eq!((one.max_seq, one.last_activity_ms), (1, 150));
        let three = one.apply(&message(3, 170)).unwrap();
        assert_eq!(three.max_seq, 3);
        assert_eq!(three.apply(&message(2, 160)), None, "late message");
        assert_eq!(three.apply(&message(3, 170)), None, "duplicate");
    }

    #[test]
    fn edits_and_recalls_replace_only_the_newest_message_and_only_forward() {
        let activity = Activity::starting(0).apply(&message(2, 10)).unwrap();
        let mut edited = message(2, 10);
        edited.body_json = "{\"text\":\"fixed\"}".into();
        edited.edited_at_ms = 20;
        let after_edit = activity.apply(&edited).unwrap();
        assert_eq!(
            after_edit.last_message.as_ref().unwrap().body_json,
            edited.body_json
        );
        assert_eq!(after_edit.max_seq, 2);
        assert_eq!(
            after_edit.apply(&message(2, 10)),
            None,
            "the stale original"
        );

        let mut recalled = message(2, 10);
        recalled.recalled = true;
        let after_recall = after_edit.apply(&recalled).unwrap();
        assert!(after_recall.last_message.as_ref().unwrap().recalled);
        assert_eq!(
            after_recall.apply(&edited),
            None,
            "a late edit after the recall"
        );

        let mut old_edit = message(1, 5);
        old_edit.edited_at_ms = 30;
        assert_eq!(
            after_recall.apply(&old_edit),
            None,
            "not the newest message"
        );
    }

    #[test]
    fn unread_is_clamped() {
        assert_eq!(unread(10, 4), 6);
        assert_eq!(unread(3, 5), 0);
    }
}
