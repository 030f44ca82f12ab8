//! Who is calling: the peer address, or the client named in `X-Forwarded-For` when —
//! and only when — the peer is one of the configured trusted proxies.

use super::denylist::parse_network;
use anyhow::Context as _;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The caller's address as this gateway believes it; `None` when the server did not
/// say who the peer is (a router driven directly, as in unit tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        entries
            .iter()
            .map(|entry| {
                parse_network(entry).with_context(|| {
                    format!("gateway.trusted_proxies: {entry:?} is not an address or CIDR")
                })
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client: walking `X-Forwarded-For` from the nearest hop outwards, the first
    /// address that is not a trusted proxy. Hops beyond it could be forged by the client.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientIp {
        let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
            return ClientIp(None);
        };
        if !self.trusts(peer) {
            return ClientIp(Some(peer));
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Whoever wrote this hop is not to be believed further.
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        ClientIp(Some(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(FORWARDED_FOR, HeaderValue::from_str(xff).unwrap());
        headers
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let proxies = TrustedProxies::default();
        let got = proxies.client_ip(ip("198.51.100.7"), &headers("1.2.3.4"));
        assert_eq!(got, ClientIp(ip("198.51.100.7")));
    }

    #[test]
    fn trusted_proxies_name_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let got = proxies.client_ip(ip("10.0.0.2"), &headers("6.6.6.6, 1.2.3.4, 10.0.0.9"));
        assert_eq!(
            got,
            ClientIp(ip("1.2.3.4")),
            "the spoofable leftmost hop is not believed"
        );
        let got = proxies.client_ip(ip("10.0.0.2"), &headers("junk, 10.0.0.3"));
        assert_eq!(got, ClientIp(ip("10.0.0.3")));
        let got = proxies.client_ip(ip("::ffff:10.0.0.2"), &HeaderMap::new());
        assert_eq!(got, ClientIp(ip("10.0.0.2")));
    }

    #[test]
    fn no_peer_is_no_client_ip() {
        let proxies = TrustedProxies::parse(&["0.0.0.0/0".into()]).unwrap();
        assert_eq!(proxies.client_ip(None, &headers("1.2.3.4")), ClientIp(None));
    }

    #[test]
    fn bad_configuration_is_an_error() {
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }
}
