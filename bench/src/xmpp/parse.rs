//! Reading an XMPP stream incrementally: the stream is one XML document that never
//! ends while the session lives, so it is cut into its top-level children (stanzas and
//! stream-level elements such as `<features/>`, `<success/>`, `<r/>`, `<a/>`), each
//! returned whole as a small [`Element`] tree once its end tag has arrived.

use anyhow::Context as _;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use tokio::io::AsyncBufRead;

/// One element with what the bench reads of it: local names only (namespaces are
/// implied by the protocol step), attribute values and text unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The text directly inside the element (entities resolved).
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// Children named `name` that declare namespace `xmlns`.
    pub fn children_in<'a>(
        &'a self,
        name: &'a str,
        xmlns: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.name == name && child.attr("xmlns") == Some(xmlns))
    }

    fn open(start: &BytesStart<'_>) -> anyhow::Result<Self> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.context("malformed attribute")?;
            // `xmlns` keeps its name; `xmlns:stream` and `xml:lang` become `stream`, `lang`
            let key = if attr.key.as_ref() == b"xmlns" {
                "xmlns".to_owned()
            } else {
                String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned()
            };
            let value = attr.unescape_value().context("malformed attribute value")?;
            attrs.push((key, value.into_owned()));
        }
        Ok(Self {
            name,
            attrs,
            ..Self::default()
        })
    }
}

/// What the reader hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// `<stream:stream …>`: the server's stream header (again after each restart).
    StreamOpen(Element),
    /// A complete top-level element.
    Stanza(Element),
    /// `</stream:stream>`: the server closed the stream.
    StreamEnd,
}

/// Cuts an XMPP byte stream into [`Incoming`] items.
pub struct StanzaReader<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
    /// Elements opened and not yet closed below the stream element.
    open: Vec<Element>,
}

impl<R: AsyncBufRead + Unpin> StanzaReader<R> {
    pub fn new(source: R) -> Self {
        let mut reader = Reader::from_reader(source);
        // The stream element stays open, and restarts nest a new header inside it:
        // the reader must not try to match end tags itself.
        reader.config_mut().check_end_names = false;
        Self {
            reader,
            buf: Vec::with_capacity(1024),
            open: Vec::new(),
        }
    }

    /// The next item, or `None` at the end of the input.
    pub async fn next(&mut self) -> anyhow::Result<Option<Incoming>> {
        loop {
            self.buf.clear();
            let event = self
                .reader
                .read_event_into_async(&mut self.buf)
                .await
                .context("malformed XML from the server")?;
            match event {
                Event::Start(start) => {
                    let element = Element::open(&start)?;
                    if self.open.is_empty() && element.name == "stream" {
                        return Ok(Some(Incoming::StreamOpen(element)));
                    }
                    self.open.push(element);
                }
                Event::Empty(start) => {
                    let element = Element::open(&start)?;
                    match self.open.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Ok(Some(Incoming::Stanza(element))),
                    }
                }
                Event::End(_) => match self.open.pop() {
                    None => return Ok(Some(Incoming::StreamEnd)),
                    Some(element) => match self.open.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Ok(Some(Incoming::Stanza(element))),
                    },
                },
                Event::Text(text) => {
                    if let Some(element) = self.open.last_mut() {
                        element
                            .text
                            .push_str(&text.decode().context("undecodable text")?);
                    }
                }
                Event::CData(data) => {
                    if let Some(element) = self.open.last_mut() {
                        element
                            .text
                            .push_str(&data.decode().context("undecodable CDATA")?);
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref().context("bad reference")? {
                        Some(c) => c,
                        None => predefined_entity(&reference.decode().context("bad reference")?)
                            .context("unknown entity")?,
                    };
                    if let Some(element) = self.open.last_mut() {
                        element.text.push(resolved);
                    }
                }
                Event::Eof => return Ok(None),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
    }
}

/// The five entities XML predefines (XMPP forbids any other).
fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ejabberd 23.01 actually sent in a login and a short exchange.
    const TRANSCRIPT: &str = "<?xml version='1.0'?><stream:stream id='1661' version='1.0' \
        xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' \
        xmlns='jabber:client'><stream:features><mechanisms \
        xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
        <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>\
        <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\
        <?xml version='1.0'?><stream:stream id='9954' version='1.0' xml:lang='en' \
        xmlns:stream='http://etherx.jabber.org/streams' from='localhost' \
        xmlns='jabber:client'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
        <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
        <sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>\
        <iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
        <jid>bench0@localhost/bench</jid></bind></iq>\n \
        <message to='bench1@localhost' from='bench0@localhost/bench' type='chat' id='x1'>\
        <archived by='bench1@localhost' id='17' xmlns='urn:xmpp:mam:tmp'/>\
        <body>imb 1 0 7 &amp; &lt;more&gt; &#x41;</body><thread>d0</thread></message>\
        <r xmlns='urn:xmpp:sm:3'/><a h='12' xmlns='urn:xmpp:sm:3'/></stream:stream>";

    async fn read_all(bytes: &[u8], chunk: usize) -> Vec<Incoming> {
        // a tiny buffer splits tags, attributes and entities across reads
        let source = tokio::io::BufReader::with_capacity(chunk, bytes);
        let mut reader = StanzaReader::new(source);
        let mut items = Vec::new();
        while let Some(item) = reader.next().await.unwrap() {
            items.push(item);
        }
        items
    }

    #[tokio::test]
    async fn cuts_a_real_session_into_stanzas_whatever_the_read_sizes() {
        let whole = read_all(TRANSCRIPT.as_bytes(), 8192).await;
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(
                read_all(TRANSCRIPT.as_bytes(), chunk).await,
                whole,
                "{chunk}"
            );
        }
        let names: Vec<String> = whole
            .iter()
            .map(|item| match item {
                Incoming::StreamOpen(_) => "<stream>".to_owned(),
                Incoming::Stanza(element) => element.name.clone(),
                Incoming::StreamEnd => "</stream>".to_owned(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "<stream>",
                "features",
                "success",
                "<stream>",
                "features",
                "iq",
                "message",
                "r",
                "a",
                "</stream>"
            ]
        );
        let Incoming::StreamOpen(header) = &whole[0] else {
            panic!("{whole:?}")
        };
        assert_eq!(header.attr("from"), Some("localhost"));
        assert_eq!(header.attr("lang"), Some("en"));

        let Incoming::Stanza(features) = &whole[1] else {
            panic!()
        };
        let mechanisms: Vec<&str> = features
            .child("mechanisms")
            .unwrap()
            .children
            .iter()
            .map(|m| m.text.as_str())
            .collect();
        assert_eq!(mechanisms, ["PLAIN", "SCRAM-SHA-1"]);

        let Incoming::Stanza(features) = &whole[4] else {
            panic!()
        };
        assert_eq!(features.children_in("sm", "urn:xmpp:sm:3").count(), 1);
        assert!(
            features
                .child("session")
                .unwrap()
                .child("optional")
                .is_some()
        );

        let Incoming::Stanza(iq) = &whole[5] else {
            panic!()
        };
        let jid = &iq.child("bind").unwrap().child("jid").unwrap().text;
        assert_eq!(jid, "bench0@localhost/bench");

        let Incoming::Stanza(message) = &whole[6] else {
            panic!()
        };
        assert_eq!(message.attr("type"), Some("chat"));
        assert_eq!(message.child("body").unwrap().text, "imb 1 0 7 & <more> A");
        assert_eq!(message.child("thread").unwrap().text, "d0");
        // whitespace between stanzas is not text of anything
        assert_eq!(message.text, "");

        let Incoming::Stanza(ack) = &whole[8] else {
            panic!()
        };
        assert_eq!(ack.attr("h"), Some("12"));
    }

    #[tokio::test]
    async fn an_unfinished_stanza_is_not_handed_out() {
        let cut = "<stream:stream xmlns:stream='s'><message><body>imb 1 0";
        let items = read_all(cut.as_bytes(), 4).await;
        assert!(
            matches!(items.as_slice(), [Incoming::StreamOpen(_)]),
            "{items:?}"
        );
    }

    #[tokio::test]
    async fn malformed_input_is_an_error() {
        let source = tokio::io::BufReader::new(&b"<stream:stream><message a='1' a='2'/>"[..]);
        let mut reader = StanzaReader::new(source);
        assert!(matches!(
            reader.next().await,
            Ok(Some(Incoming::StreamOpen(_)))
        ));
        assert!(reader.next().await.is_err());
    }
}
