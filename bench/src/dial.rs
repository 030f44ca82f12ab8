//! Where the bench's client sockets come from. By default the kernel picks the source
//! address (127.0.0.1 towards a loopback server), which leaves one address's ephemeral
//! ports (about 28,000) for every connection of a run. `--source-addrs` spreads them
//! over several loopback source addresses instead, round-robin, each socket bound to
//! its address before it connects.
//!
//! Only the long-lived client sockets (WebSocket, XMPP) go through here; the REST calls
//! of the setup keep the default source.

use anyhow::{Context as _, bail};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The most source addresses one run may name: far more than any run needs, and a
/// typo such as `127.0.0.1-127.255.0.0` is refused instead of listed.
const MAX_SOURCES: usize = 1024;

/// A WebSocket over a plain TCP stream, as both dialling paths return it.
pub type WebSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Loopback source addresses, each once, in the order given: parsed from
/// `127.0.0.1-127.0.0.8`, `127.0.0.1,127.0.0.2`, `::1`, or a mix of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddrs(Vec<IpAddr>);

impl SourceAddrs {
    /// Parses a comma-separated list of addresses and inclusive ranges (`first-last`,
    /// both of one family). Every address must be a loopback address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut addrs: Vec<IpAddr> = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(format!("an empty item in {text:?}"));
            }
            let range = match item.split_once('-') {
                Some((first, last)) => range(parse_ip(first)?, parse_ip(last)?)?,
                None => vec![parse_ip(item)?],
            };
            for addr in range {
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
                if addrs.len() > MAX_SOURCES {
                    return Err(format!(
                        "more than {MAX_SOURCES} source addresses in {text:?}"
                    ));
                }
            }
        }
        Ok(Self(addrs))
    }

    pub fn addrs(&self) -> &[IpAddr] {
        &self.0
    }
}

/// One loopback address.
fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let text = text.trim();
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let addr: IpAddr = bare
        .parse()
        .map_err(|_| format!("not an IP address: {text:?}"))?;
    if !addr.is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: the benchmarks load 127.0.0.0/8 and ::1 only"
        ));
    }
    Ok(addr)
}

/// `first..=last`, both loopback and of one family.
fn range(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, String> {
    let (from, to, v4) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), true)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), false),
        _ => return Err(format!("{first}-{last} mixes IPv4 and IPv6")),
    };
    if from > to {
        return Err(format!("{first}-{last} runs backwards"));
    }
    if to - from >= MAX_SOURCES as u128 {
        return Err(format!(
            "{first}-{last} holds more than {MAX_SOURCES} addresses"
        ));
    }
    Ok((from..=to)
        .map(|n| {
            if v4 {
                IpAddr::V4(Ipv4Addr::from(n as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(n))
            }
        })
        .collect())
}

/// Opens client sockets from the configured source addresses, round-robin.
#[derive(Debug, Default)]
pub struct Dialer {
    sources: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Dialer {
    /// Sockets from `sources` in turn; with none, from the kernel's choice.
    pub fn new(sources: Option<&SourceAddrs>) -> Self {
        Self {
            sources: sources.map(|s| s.0.clone()).unwrap_or_default(),
            next: AtomicUsize::new(0),
        }
    }

    pub fn sources(&self) -> &[IpAddr] {
        &self.sources
    }

    /// Refuses, before any load, a target no source address can reach: a source of
    /// one family cannot connect to an address of the other. `endpoint` is a URL
    /// (`http://127.0.0.1:8080/…`, `ws://…`) or `host:port`.
    pub async fn check_reaches(&self, endpoint: &str) -> anyhow::Result<()> {
        if self.sources.is_empty() {
            return Ok(());
        }
        let targets = resolve(endpoint).await?;
        for source in &self.sources {
            if !targets.iter().any(|t| t.is_ipv4() == source.is_ipv4()) {
                bail!(
                    "source address {source} cannot reach {endpoint} ({}): another address family",
                    list(&targets)
                );
            }
        }
        Ok(())
    }

    /// A TCP connection to `endpoint` (URL or `host:port`), bound first to the next
    /// source address when there are any.
    pub async fn connect(&self, endpoint: &str) -> anyhow::Result<TcpStream> {
        let Some(source) = self.next_source() else {
            let authority = authority(endpoint);
            return TcpStream::connect(authority.as_str())
                .await
                .with_context(|| format!("connect to {authority}"));
        };
        let targets = resolve(endpoint).await?;
        let target = targets
            .iter()
            .find(|t| t.is_ipv4() == source.is_ipv4())
            .with_context(|| format!("no address of {endpoint} in the family of {source}"))?;
        let socket = if source.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .context("create a socket")?;
        socket
            .bind(SocketAddr::new(source, 0))
            .with_context(|| format!("bind to {source}"))?;
        socket
            .connect(*target)
            .await
            .with_context(|| format!("connect to {target} from {source}"))
    }

    /// A WebSocket client handshake with `url` (`ws://…`). Without source addresses
    /// this is `tokio_tungstenite::connect_async`; with them, the same handshake over
    /// a socket bound to the next one. Callers bound it in time.
    pub async fn websocket(&self, url: &str) -> anyhow::Result<WebSocket> {
        if self.sources.is_empty() {
            let (socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .context("WebSocket handshake")?;
            return Ok(socket);
        }
        let stream = self.connect(url).await.context("WebSocket handshake")?;
        let (socket, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .context("WebSocket handshake")?;
        Ok(socket)
    }

    fn next_source(&self) -> Option<IpAddr> {
        if self.sources.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        Some(self.sources[turn % self.sources.len()])
    }
}

/// The local address of a WebSocket's socket: which source it was bound to.
pub fn local_addr(socket: &WebSocket) -> Option<SocketAddr> {
    match socket.get_ref() {
        MaybeTlsStream::Plain(stream) => stream.local_addr().ok(),
        _ => None,
    }
}

/// `host:port` of a URL (`scheme://host:port/path?query`) or of `host:port` itself;
/// port 80 when none is given.
fn authority(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_scheme, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    }
}

async fn resolve(endpoint: &str) -> anyhow::Result<Vec<SocketAddr>> {
    let authority = authority(endpoint);
    let targets: Vec<SocketAddr> = tokio::net::lookup_host(authority.as_str())
        .await
        .with_context(|| format!("resolve {authority}"))?
        .collect();
    if targets.is_empty() {
        bail!("{authority} resolves to no address");
    }
    Ok(targets)
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_lists_and_their_mix() {
        let parsed = SourceAddrs::parse("127.0.0.1-127.0.0.3").unwrap();
        assert_eq!(
            parsed.addrs(),
            [v4("127.0.0.1"), v4("127.0.0.2"), v4("127.0.0.3")]
        );
        let parsed = SourceAddrs::parse("127.0.0.9, 127.0.0.1-127.0.0.2,::1,127.0.0.2").unwrap();
        assert_eq!(
            parsed.addrs(),
            [v4("127.0.0.9"), v4("127.0.0.1"), v4("127.0.0.2"), v4("::1")]
        );
        // a range may cross an octet
        let parsed = SourceAddrs::parse("127.0.0.255-127.0.1.0").unwrap();
        assert_eq!(parsed.addrs(), [v4("127.0.0.255"), v4("127.0.1.0")]);
        assert_eq!(SourceAddrs::parse("[::1]").unwrap().addrs(), [v4("::1")]);
    }

    #[test]
    fn refuses_what_is_not_loopback_or_not_a_range() {
        let refused = |text: &str| SourceAddrs::parse(text).unwrap_err();
        assert!(refused("10.0.0.1").contains("not a loopback address"));
        assert!(refused("127.0.0.1,192.168.1.2").contains("192.168.1.2 is not a loopback"));
        assert!(refused("127.0.0.1-128.0.0.1").contains("not a loopback"));
        assert!(refused("::2").contains("not a loopback"));
        assert!(refused("127.0.0.1-::1").contains("mixes"));
        assert!(refused("127.0.0.5-127.0.0.1").contains("backwards"));
        assert!(refused("127.0.0.1-127.1.0.0").contains("more than"));
        assert!(refused("127.0.0.1,,127.0.0.2").contains("empty"));
        assert!(refused("localhost").contains("not an IP address"));
    }

    #[test]
    fn authorities_of_urls_and_addresses() {
        assert_eq!(
            authority("ws://127.0.0.1:8080/api/v1/ws?access_token=x"),
            "127.0.0.1:8080"
        );
        assert_eq!(authority("http://[::1]:9000"), "[::1]:9000");
        assert_eq!(authority("http://[::1]/x"), "[::1]:80");
        assert_eq!(authority("127.0.0.1:5222"), "127.0.0.1:5222");
        assert_eq!(authority("ws://localhost?x=1"), "localhost:80");
    }

    #[test]
    fn sources_are_taken_in_turn() {
        let sources = SourceAddrs::parse("127.0.0.1-127.0.0.3").unwrap();
        let dialer = Dialer::new(Some(&sources));
        let turns: Vec<IpAddr> = (0..7).filter_map(|_| dialer.next_source()).collect();
        let [a, b, c] = [v4("127.0.0.1"), v4("127.0.0.2"), v4("127.0.0.3")];
        assert_eq!(turns, [a, b, c, a, b, c, a]);
        assert_eq!(Dialer::new(None).next_source(), None);
    }

    #[tokio::test]
    async fn binds_each_socket_to_its_source_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sources = SourceAddrs::parse("127.0.0.1,127.0.0.2").unwrap();
        let dialer = Dialer::new(Some(&sources));
        let endpoint = format!("http://127.0.0.1:{port}/");
        dialer.check_reaches(&endpoint).await.unwrap();
        for expected in ["127.0.0.1", "127.0.0.2", "127.0.0.1"] {
            let client = dialer.connect(&endpoint).await.unwrap();
            let (_server_side, peer) = listener.accept().await.unwrap();
            assert_eq!(client.local_addr().unwrap().ip(), v4(expected));
            assert_eq!(peer.ip(), v4(expected), "the server sees the source");
        }
        let v6 = SourceAddrs::parse("::1").unwrap();
        let error = Dialer::new(Some(&v6))
            .check_reaches(&endpoint)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("another address family"),
            "{error}"
        );
    }
}
