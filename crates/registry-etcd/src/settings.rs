//! What an `etcd://` registry URL says: which etcd members to talk to, under which key
//! prefix the instances live, and how long an instance outlives its last renewal.

use im_runtime::registry::RegistryError;
use im_runtime::secret::SecretUrl;
use std::time::Duration;

/// Keys live under `/im/services/…` unless the URL names another prefix.
pub const DEFAULT_PREFIX: &str = "/im";
/// How long an instance stays listed after its process stopped renewing it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `host:port` of each etcd member.
    pub endpoints: Vec<String>,
    /// Without a trailing slash, e.g. `/im`.
    pub prefix: String,
    /// Whole seconds: etcd leases know no finer unit.
    pub ttl: Duration,
}

impl Settings {
    pub fn parse(url: &SecretUrl) -> Result<Self, RegistryError> {
        // Errors show the redacted form: the URL may one day carry credentials.
        let invalid = |reason: String| RegistryError::InvalidEndpoint {
            service: "registry".to_owned(),
            endpoint: url.redacted(),
            reason,
        };
        if url.scheme() != "etcd" {
            return Err(RegistryError::UnsupportedScheme(url.scheme().to_owned()));
        }
        let parsed = url::Url::parse(url.expose()).map_err(|e| invalid(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("etcd credentials are not supported".to_owned()));
        }
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("expected etcd://host:port".to_owned()))?;
        let mut endpoints = vec![member(host, parsed.port())];

        let mut ttl = DEFAULT_TTL;
        for (name, value) in parsed.query_pairs() {
            match &*name {
                "ttl" => ttl = parse_ttl(&value).map_err(invalid)?,
                "endpoints" => {
                    for extra in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                        endpoints.push(parse_member(extra).map_err(invalid)?);
                    }
                }
                other => return Err(invalid(format!("unknown parameter {other:?}"))),
            }
        }

        let path = parsed.path().trim_end_matches('/');
        let prefix = if path.is_empty() {
            DEFAULT_PREFIX.to_owned()
        } else {
            path.to_owned()
        };
        Ok(Self {
            endpoints,
            prefix,
            ttl,
        })
    }
}

fn member(host: &str, port: Option<u16>) -> String {
    format!("{host}:{}", port.unwrap_or(2379))
}

/// One entry of `?endpoints=`: `host[:port]`.
fn parse_member(text: &str) -> Result<String, String> {
    let url = url::Url::parse(&format!("etcd://{text}"))
        .map_err(|e| format!("endpoint {text:?}: {e}"))?;
    match url.host_str() {
        Some(host) if !host.is_empty() && url.path().is_empty() => Ok(member(host, url.port())),
        _ => Err(format!("endpoint {text:?}: expected host:port")),
    }
}

/// `10s`, `2m` or a bare number of seconds.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let (digits, unit) = match text.strip_suffix('s') {
        Some(digits) => (digits, 1),
        None => match text.strip_suffix('m') {
            Some(digits) => (digits, 60),
            None => (text, 1),
        },
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * unit)),
        _ => Err(format!(
            "ttl {text:?}: expected a whole number of seconds or minutes, e.g. 10s"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(url: &str) -> Result<Settings, RegistryError> {
        Settings::parse(&SecretUrl::new(url))
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parse("etcd://127.0.0.1:2379").unwrap(),
            Settings {
                endpoints: vec!["127.0.0.1:2379".into()],
                prefix: "/im".into(),
                ttl: Duration::from_secs(10),
            }
        );
        assert_eq!(
            parse("etcd://etcd/").unwrap().endpoints,
            vec!["etcd:2379".to_owned()]
        );
    }

    #[test]
    fn prefix_ttl_and_more_members() {
        let settings =
            parse("etcd://10.0.0.1:2379/prod/im/?ttl=2s&endpoints=10.0.0.2:2379,10.0.0.3").unwrap();
        assert_eq!(
            settings.endpoints,
            ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"]
        );
        assert_eq!(settings.prefix, "/prod/im");
        assert_eq!(settings.ttl, Duration::from_secs(2));
        assert_eq!(
            parse("etcd://e:1?ttl=1m").unwrap().ttl,
            Duration::from_secs(60)
        );
        assert_eq!(
            parse("etcd://e:1?ttl=7").unwrap().ttl,
            Duration::from_secs(7)
        );
    }

    #[test]
    fn mistakes_are_refused() {
        for url in [
            "etcd://",
            "etcd://e:1?ttl=0s",
            "etcd://e:1?ttl=500ms",
            "etcd://e:1?tll=5s",
            "etcd://e:1?endpoints=a:1/x",
            "etcd://e:99999",
            "etcd://root:pw@e:1",
        ] {
            assert!(parse(url).is_err(), "{url} should be refused");
        }
        assert!(matches!(
            parse("static://"),
            Err(RegistryError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn a_refused_url_never_shows_its_password() {
        let error = parse("etcd://root:hunter2@e:1").unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
