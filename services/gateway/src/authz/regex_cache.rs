//! `regexMatch` for the Casbin matcher, with compiled patterns kept.
//!
//! Casbin's own compiles the policy's pattern on every evaluation (once per rule per
//! request) and panics on one that does not compile. Patterns come only from policies,
//! which are few, so keeping them compiled is cheap; the cache is process-wide because
//! Casbin takes plain function pointers.

use casbin::function_map::dynamic_to_str;
use casbin::rhai::Dynamic;
use regex::Regex;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

/// Beyond this many distinct patterns the cache starts over (policies churned a lot).
const MAX_PATTERNS: usize = 1024;

/// Pattern → compiled regex, or `None` for a pattern that does not compile.
static COMPILED: LazyLock<RwLock<HashMap<String, Option<Regex>>>> = LazyLock::new(RwLock::default);

/// Whether `subject` matches the regular expression `pattern`; a pattern that does not
/// compile matches nothing.
pub fn regex_match(subject: Dynamic, pattern: Dynamic) -> Dynamic {
    is_match(&dynamic_to_str(&subject), &dynamic_to_str(&pattern)).into()
}

fn is_match(subject: &str, pattern: &str) -> bool {
    if let Some(compiled) = COMPILED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(pattern)
    {
        return compiled
            .as_ref()
            .is_some_and(|regex| regex.is_match(subject));
    }
    let compiled = Regex::new(pattern).ok();
    let matched = compiled
        .as_ref()
        .is_some_and(|regex| regex.is_match(subject));
    let mut cache = COMPILED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= MAX_PATTERNS {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), compiled);
    matched
}

/// Whether `pattern` was compiled and kept (tests make sure Casbin calls this one).
#[cfg(test)]
pub fn is_cached(pattern: &str) -> bool {
    COMPILED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .contains_key(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_a_regex_and_never_panics() {
        assert!(is_match("/api/v1/users", "^(?:/api/v1/.*)$"));
        assert!(
            is_match("/api/v1/users", "^(?:/api/v1/.*)$"),
            "from the cache"
        );
        assert!(!is_match("/x/api/v1/users", "^(?:/api/v1/.*)$"));
        assert!(!is_match("/api/(", "/api/("));
        assert!(!is_match("anything", "("));
    }
}
