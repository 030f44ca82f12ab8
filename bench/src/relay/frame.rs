//! The relay's frames: text whose first word names the recipient, the rest opaque to
//! the relay. The bench's own frames after that word:
//! `m <conversation> <stamp>` (a message), `p <sent_us>` (a ping the sender addresses
//! to itself) and `ready` (the same, once, before traffic).

use crate::client::Stamp;

/// The user a frame is for: its first word.
pub fn recipient(frame: &str) -> Option<&str> {
    let (to, _) = frame.split_once(' ').unwrap_or((frame, ""));
    (!to.is_empty()).then_some(to)
}

pub fn message(to: &str, conversation: &str, stamp: &Stamp) -> String {
    format!("{to} m {conversation} {}", stamp.text())
}

pub fn ping(me: &str, sent_us: u64) -> String {
    format!("{me} p {sent_us}")
}

pub fn ready(me: &str) -> String {
    format!("{me} ready")
}

/// What a frame says, once its recipient word is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said<'a> {
    Message { conversation: &'a str, stamp: Stamp },
    Ping { sent_us: u64 },
    Ready,
    Other,
}

pub fn read(frame: &str) -> Said<'_> {
    let Some((_to, rest)) = frame.split_once(' ') else {
        return Said::Other;
    };
    if rest == "ready" {
        return Said::Ready;
    }
    if let Some(sent) = rest.strip_prefix("p ") {
        return sent
            .parse()
            .map_or(Said::Other, |sent_us| Said::Ping { sent_us });
    }
    let Some(message) = rest.strip_prefix("m ") else {
        return Said::Other;
    };
    let Some((conversation, text)) = message.split_once(' ') else {
        return Said::Other;
    };
    Stamp::parse(text).map_or(Said::Other, |stamp| Said::Message {
        conversation,
        stamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_name_their_recipient_and_read_back() {
        let stamp = Stamp {
            sent_us: 12,
            sender: 3,
            k: 99,
        };
        let frame = message("u4", "d1", &stamp);
        assert_eq!(recipient(&frame), Some("u4"));
        assert_eq!(
            read(&frame),
            Said::Message {
                conversation: "d1",
                stamp
            }
        );
        assert_eq!(read(&ping("u3", 777)), Said::Ping { sent_us: 777 });
        assert_eq!(read(&ready("u3")), Said::Ready);
        assert_eq!(recipient("u5"), Some("u5"));
        assert_eq!(recipient(" x"), None);
        assert_eq!(recipient(""), None);
        assert_eq!(read("u4 m d1 hello"), Said::Other);
        assert_eq!(read("u4 p soon"), Said::Other);
        assert_eq!(read("u4"), Said::Other);
    }
}
