//! The bus URL, parsed: where the brokers are, the namespace scoping topic and group
//! names, and how new topics are laid out.

use im_runtime::bus::BusError;
use url::Url;

const DEFAULT_PORT: u16 = 9092;
/// Enough partitions for a handful of consumers per group to share the work.
const DEFAULT_PARTITIONS: i32 = 8;
const DEFAULT_REPLICATION: i32 = 1;

/// `kafka://host:port[/namespace][?brokers=h2:p2,h3:p3&partitions=8&replication=1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    /// `bootstrap.servers`: the URL's host first, then `brokers`.
    pub bootstrap: String,
    pub namespace: Option<String>,
    /// Partitions of the topics this adapter creates.
    pub partitions: i32,
    /// Replication factor of the topics this adapter creates.
    pub replication: i32,
}

fn invalid(reason: impl Into<String>) -> BusError {
    BusError::InvalidUrl(reason.into())
}

impl Address {
    pub fn parse(url: &str) -> Result<Self, BusError> {
        let url = Url::parse(url).map_err(|error| invalid(error.to_string()))?;
        if url.scheme() != "kafka" {
            return Err(BusError::UnsupportedScheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials are not supported in kafka:// urls"));
        }
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("kafka:// needs a broker host"))?;
        let mut brokers = vec![format!("{host}:{}", url.port().unwrap_or(DEFAULT_PORT))];

        let mut address = Self {
            bootstrap: String::new(),
            namespace: namespace(url.path())?,
            partitions: DEFAULT_PARTITIONS,
            replication: DEFAULT_REPLICATION,
        };
        for (name, value) in url.query_pairs() {
            match &*name {
                "brokers" => brokers.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|broker| !broker.is_empty())
                        .map(str::to_owned),
                ),
                "partitions" => address.partitions = positive(&name, &value)?,
                "replication" => address.replication = positive(&name, &value)?,
                other => return Err(invalid(format!("unknown parameter {other:?}"))),
            }
        }
        address.bootstrap = brokers.join(",");
        Ok(address)
    }

    /// The broker-side name of a topic or group: `<namespace>.<name>`.
    pub fn scoped(&self, name: &str) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}.{name}"),
            None => name.to_owned(),
        }
    }
}

/// Kafka names allow `[a-zA-Z0-9._-]`; the namespace becomes part of every one.
fn namespace(path: &str) -> Result<Option<String>, BusError> {
    let namespace = path.trim_matches('/');
    if namespace.is_empty() {
        return Ok(None);
    }
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !namespace.chars().all(legal) {
        return Err(invalid(format!(
            "namespace {namespace:?} may only hold letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(Some(namespace.to_owned()))
}

fn positive(name: &str, value: &str) -> Result<i32, BusError> {
    value
        .parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(format!("{name} must be a positive number, not {value:?}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_bare_url_names_one_broker_and_the_defaults() {
        let address = Address::parse("kafka://127.0.0.1:9092").unwrap();
        assert_eq!(
            address,
            Address {
                bootstrap: "127.0.0.1:9092".into(),
                namespace: None,
                partitions: 8,
                replication: 1,
            }
        );
        assert_eq!(address.scoped("message.events"), "message.events");
        assert_eq!(
            Address::parse("kafka://kafka").unwrap().bootstrap,
            "kafka:9092"
        );
    }

    #[test]
    fn every_part_of_the_url_is_read() {
        let address = Address::parse(
            "kafka://k1:9093/staging?brokers=k2:9094,k3:9095&partitions=12&replication=3",
        )
        .unwrap();
        assert_eq!(address.bootstrap, "k1:9093,k2:9094,k3:9095");
        assert_eq!(address.namespace.as_deref(), Some("staging"));
        assert_eq!(address.partitions, 12);
        assert_eq!(address.replication, 3);
        assert_eq!(address.scoped("message.events"), "staging.message.events");
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        for url in [
            "kafka://",
            "kafka://host/a/b",
            "kafka://host?partitions=0",
            "kafka://host?replication=x",
            "kafka://host?partition=3",
            "kafka://user:secret@host",
        ] {
            assert!(
                matches!(Address::parse(url), Err(BusError::InvalidUrl(_))),
                "{url}"
            );
        }
        assert!(matches!(
            Address::parse("memory://"),
            Err(BusError::UnsupportedScheme(_))
        ));
    }
}
