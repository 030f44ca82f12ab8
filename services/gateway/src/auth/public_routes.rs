//! The whitelist: routes that need no access token, from `gateway.public_routes`.
//! An entry is `METHOD /path`; METHOD may be `*`, and a path ending in `/*` matches
//! everything below it (not the directory itself). `GET` entries also admit `HEAD`.

use anyhow::{Context as _, bail};
use axum::http::Method;

#[derive(Debug, Clone, Default)]
pub struct PublicRoutes(Vec<Entry>);

#[derive(Debug, Clone)]
struct Entry {
    /// `None` for `*`.
    method: Option<Method>,
    path: PathPattern,
}

#[derive(Debug, Clone)]
enum PathPattern {
    Exact(String),
    /// Everything strictly below this prefix, which ends with `/`.
    Below(String),
}

impl PublicRoutes {
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        entries
            .iter()
            .map(|entry| {
                parse_entry(entry).with_context(|| format!("gateway.public_routes: {entry:?}"))
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    pub fn is_public(&self, method: &Method, path: &str) -> bool {
        self.0.iter().any(|entry| {
            let method_matches = match &entry.method {
                None => true,
                Some(allowed) => {
                    allowed == method || (*allowed == Method::GET && *method == Method::HEAD)
                }
            };
            method_matches
                && match &entry.path {
                    PathPattern::Exact(exact) => exact == path,
                    PathPattern::Below(prefix) => {
                        path.len() > prefix.len() && path.starts_with(prefix.as_str())
                    }
                }
        })
    }
}

fn parse_entry(entry: &str) -> anyhow::Result<Entry> {
    let mut words = entry.split_whitespace();
    let (Some(method), Some(path), None) = (words.next(), words.next(), words.next()) else {
        bail!("expected `METHOD /path`");
    };
    let method = match method {
        "*" => None,
        name => Some(
            Method::from_bytes(name.to_ascii_uppercase().as_bytes()).context("unknown method")?,
        ),
    };
    if !path.starts_with('/') {
        bail!("the path must start with `/`");
    }
    let path = match path.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => PathPattern::Below(prefix.to_owned()),
        Some(_) => bail!("`*` is only allowed as the last segment, as in `/files/*`"),
        None => PathPattern::Exact(path.to_owned()),
    };
    Ok(Entry { method, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(entries: &[&str]) -> PublicRoutes {
        PublicRoutes::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_entries_match_method_and_path() {
        let public = routes(&["POST /api/v1/auth/login", "GET /healthz"]);
        assert!(public.is_public(&Method::POST, "/api/v1/auth/login"));
        assert!(!public.is_public(&Method::GET, "/api/v1/auth/login"));
        assert!(!public.is_public(&Method::POST, "/api/v1/auth/login/x"));
        assert!(public.is_public(&Method::HEAD, "/healthz"));
    }

    #[test]
    fn wildcards_match_any_method_and_everything_below() {
        let public = routes(&["* /public/*"]);
        assert!(public.is_public(&Method::DELETE, "/public/a"));
        assert!(public.is_public(&Method::GET, "/public/a/b"));
        assert!(!public.is_public(&Method::GET, "/public/"));
        assert!(!public.is_public(&Method::GET, "/public"));
        assert!(!public.is_public(&Method::GET, "/publicity"));
    }

    #[test]
    fn malformed_entries_are_configuration_errors() {
        for bad in ["GET", "GET /a /b", "GET a", "GET /a*", "G(T /a"] {
            assert!(PublicRoutes::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
