//! What the client writes: the stream header, SASL PLAIN, resource binding, presence,
//! stream management (XEP-0198), pings (XEP-0199) and chat messages.

use base64::Engine as _;
use quick_xml::escape::escape;

pub const SM: &str = "urn:xmpp:sm:3";

/// Opens (or, after authentication, reopens) the client stream to `domain`.
pub fn stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream to='{}' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
        escape(domain)
    )
}

pub const STREAM_CLOSE: &str = "</stream:stream>";

/// SASL PLAIN (RFC 4616): `\0user\0password`, base64, as the `<auth/>` text.
pub fn auth_plain(user: &str, password: &str) -> String {
    let credentials = format!("\0{user}\0{password}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{encoded}</auth>")
}

pub fn bind(id: &str, resource: &str) -> String {
    format!(
        "<iq type='set' id='{}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
         <resource>{}</resource></bind></iq>",
        escape(id),
        escape(resource)
    )
}

/// RFC 3921's session establishment, for servers that still require it.
pub fn session(id: &str) -> String {
    format!(
        "<iq type='set' id='{}'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
        escape(id)
    )
}

/// Initial presence: without it the server delivers nothing addressed to the bare JID.
pub const PRESENCE: &str = "<presence/>";

pub fn enable_sm() -> String {
    format!("<enable xmlns='{SM}'/>")
}

/// Asks the server how many stanzas it has handled (`<a h=…/>` answers).
pub fn ack_request() -> String {
    format!("<r xmlns='{SM}'/>")
}

/// Tells the server how many stanzas this client has received.
pub fn ack_answer(handled: u64) -> String {
    format!("<a xmlns='{SM}' h='{handled}'/>")
}

/// An XEP-0199 ping of the server.
pub fn ping(id: &str, domain: &str) -> String {
    format!(
        "<iq type='get' id='{}' to='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
        escape(id),
        escape(domain)
    )
}

/// The empty result of an `iq` the server sent (its pings).
pub fn iq_result(id: &str, to: &str) -> String {
    format!(
        "<iq type='result' id='{}' to='{}'/>",
        escape(id),
        escape(to)
    )
}

/// A one-to-one chat message; `thread` names the bench conversation.
pub fn chat(to: &str, thread: &str, body: &str) -> String {
    format!(
        "<message type='chat' to='{}'><body>{}</body><thread>{}</thread></message>",
        escape(to),
        escape(body),
        escape(thread)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::parse::{Incoming, StanzaReader};

    #[test]
    fn sasl_plain_encodes_the_credentials() {
        // base64("\0bench0\0bench")
        assert_eq!(
            auth_plain("bench0", "bench"),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\
             AGJlbmNoMABiZW5jaA==</auth>"
        );
    }

    #[tokio::test]
    async fn a_chat_message_reads_back_as_written_even_with_markup_in_it() {
        let xml = format!(
            "<stream:stream xmlns:stream='s'>{}",
            chat("b'1@x", "d<0>", "imb 1 2 3 & <b>")
        );
        let mut reader = StanzaReader::new(tokio::io::BufReader::new(xml.as_bytes()));
        assert!(matches!(
            reader.next().await,
            Ok(Some(Incoming::StreamOpen(_)))
        ));
        let Ok(Some(Incoming::Stanza(message))) = reader.next().await else {
            panic!("no message")
        };
        assert_eq!(message.attr("to"), Some("b'1@x"));
        assert_eq!(message.attr("type"), Some("chat"));
        assert_eq!(message.child("body").unwrap().text, "imb 1 2 3 & <b>");
        assert_eq!(message.child("thread").unwrap().text, "d<0>");
    }

    #[test]
    fn stream_management_elements() {
        assert_eq!(ack_request(), "<r xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(ack_answer(42), "<a xmlns='urn:xmpp:sm:3' h='42'/>");
        assert_eq!(enable_sm(), "<enable xmlns='urn:xmpp:sm:3'/>");
    }
}
