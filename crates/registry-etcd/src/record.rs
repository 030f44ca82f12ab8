//! How one instance is written in etcd: the key `{prefix}/services/{service}/{id}` (ids
//! hold slashes, `node-1/presence`, so the id is everything after the service) and a JSON
//! value naming its endpoint.

use im_runtime::ServiceName;
use im_runtime::registry::{Instance, validate_endpoint};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Record {
    endpoint: String,
}

/// The keys of one registry, all under `{prefix}/services/`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `{prefix}/services/`: the trailing slash keeps `/im` from matching `/im2`.
    root: String,
}

impl Layout {
    pub fn new(prefix: &str) -> Self {
        Self {
            root: format!("{prefix}/services/"),
        }
    }

    /// Every instance of every service lives under this prefix.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn key(&self, instance: &Instance) -> String {
        format!("{}{}/{}", self.root, instance.service, instance.id)
    }

    pub fn value(instance: &Instance) -> String {
        serde_json::json!({ "endpoint": instance.endpoint }).to_string()
    }

    /// The instance a key/value pair describes; `None` for anything this version does
    /// not understand (unknown service, foreign key, malformed value or endpoint).
    pub fn decode(&self, key: &[u8], value: &[u8]) -> Option<Instance> {
        let key = std::str::from_utf8(key).ok()?;
        let (service, id) = self.service_and_id(key)?;
        let record: Record = serde_json::from_slice(value).ok()?;
        validate_endpoint(service, &record.endpoint).ok()?;
        Some(Instance {
            service,
            id: id.to_owned(),
            endpoint: record.endpoint,
        })
    }

    /// `(service, id)` of a key, enough to forget a deleted instance.
    pub fn service_and_id<'k>(&self, key: &'k str) -> Option<(ServiceName, &'k str)> {
        let (service, id) = key.strip_prefix(&self.root)?.split_once('/')?;
        if id.is_empty() {
            return None;
        }
        Some((service.parse().ok()?, id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn gateway() -> Instance {
        Instance {
            service: ServiceName::MediaSignal,
            id: "node-7/media-signal".into(),
            endpoint: "http://10.0.0.7:7008".into(),
        }
    }

    #[test]
    fn an_instance_survives_the_round_trip() {
        let layout = Layout::new("/im");
        let instance = gateway();
        let key = layout.key(&instance);
        assert_eq!(key, "/im/services/media-signal/node-7/media-signal");
        assert_eq!(
            layout.decode(key.as_bytes(), Layout::value(&instance).as_bytes()),
            Some(instance)
        );
    }

    #[test]
    fn foreign_or_malformed_entries_are_ignored() {
        let layout = Layout::new("/im");
        let value = Layout::value(&gateway());
        for key in [
            "/im2/services/presence/n/presence",
            "/im/services/billing/n/billing",
            "/im/services/presence/",
            "/im/services/presence",
        ] {
            assert_eq!(
                layout.decode(key.as_bytes(), value.as_bytes()),
                None,
                "{key}"
            );
        }
        let key = "/im/services/presence/n/presence";
        for value in ["", "{}", r#"{"endpoint":"not a url"}"#] {
            assert_eq!(
                layout.decode(key.as_bytes(), value.as_bytes()),
                None,
                "{value}"
            );
        }
    }
}
