//! Access-control rules of IM, shared by identity (which stores them) and every gateway
//! (which enforces them with Casbin).
//!
//! A rule is `{subject, object, action, effect}`: `subject` is a role or a user id,
//! `object` a request path pattern, `action` an HTTP method pattern, `effect` allow or
//! deny. Patterns are regular expressions matched against the WHOLE path or method (they
//! are anchored here, so `/api/v1/admin/.*` never matches `/x/api/v1/admin/y`), with two
//! keyMatch-style conveniences: a `:name` segment matches one path segment and a trailing
//! `/*` matches everything below. A deny rule overrides any allow.

use regex::RegexBuilder;
use std::fmt;

/// The Casbin model every gateway enforces. `r.sub` is the user id; every signed-in user
/// implicitly has the role `user`, other roles come from `g` (user → role, role → role).
pub const MODEL: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = (p.sub == "user" || g(r.sub, p.sub)) && regexMatch(r.obj, p.obj) && regexMatch(r.act, p.act)
"#;

/// The role every signed-in user has without an assignment.
pub const IMPLICIT_ROLE: &str = "user";

/// Longest accepted pattern, so a rule cannot make every request expensive.
const MAX_PATTERN_LEN: usize = 512;
/// Compiled-size ceiling of one pattern's regular expression.
const MAX_REGEX_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("subject must be 1 to 64 characters of letters, digits, `_`, `-`, `.` or `:`")]
    InvalidSubject,
    #[error("role must be 1 to 32 characters of lowercase letters, digits, `_` or `-`")]
    InvalidRole,
    #[error("{field} pattern is invalid: {reason}")]
    InvalidPattern { field: &'static str, reason: String },
    #[error("effect must be `allow` or `deny`")]
    InvalidEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        match text {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(RuleError::InvalidEffect),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated rule as an administrator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub subject: String,
    pub object: String,
    pub action: String,
    pub effect: Effect,
}

impl Rule {
    /// Validates every part; the patterns must compile.
    pub fn parse(
        subject: &str,
        object: &str,
        action: &str,
        effect: &str,
    ) -> Result<Self, RuleError> {
        validate_subject(subject)?;
        object_regex(object)?;
        action_regex(action)?;
        Ok(Self {
            subject: subject.to_owned(),
            object: object.to_owned(),
            action: action.to_owned(),
            effect: Effect::parse(effect)?,
        })
    }

    /// The Casbin policy line `[sub, obj, act, eft]` with anchored regular expressions.
    pub fn to_casbin(&self) -> Result<Vec<String>, RuleError> {
        Ok(vec![
            self.subject.clone(),
            object_regex(&self.object)?,
            action_regex(&self.action)?,
            self.effect.as_str().to_owned(),
        ])
    }
}

pub fn validate_subject(subject: &str) -> Result<(), RuleError> {
    let valid = (1..=64).contains(&subject.len())
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if valid {
        Ok(())
    } else {
        Err(RuleError::InvalidSubject)
    }
}

pub fn validate_role(role: &str) -> Result<(), RuleError> {
    let valid = (1..=32).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(RuleError::InvalidRole)
    }
}

/// The anchored regular expression of a path pattern.
pub fn object_regex(pattern: &str) -> Result<String, RuleError> {
    let translated = translate_key_match(pattern);
    anchored("object", pattern, &translated)
}

/// The anchored regular expression of a method pattern (`GET`, `GET|POST`, `.*`, `*`).
pub fn action_regex(pattern: &str) -> Result<String, RuleError> {
    let translated = if pattern == "*" {
        ".*".to_owned()
    } else {
        pattern.to_owned()
    };
    anchored("action", pattern, &translated)
}

fn anchored(field: &'static str, original: &str, translated: &str) -> Result<String, RuleError> {
    let invalid = |reason: String| RuleError::InvalidPattern { field, reason };
    if original.trim().is_empty() {
        return Err(invalid("it is empty".into()));
    }
    if original.len() > MAX_PATTERN_LEN {
        return Err(invalid(format!(
            "it is longer than {MAX_PATTERN_LEN} characters"
        )));
    }
    let regex = format!("^(?:{translated})$");
    RegexBuilder::new(&regex)
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| {
            invalid(
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("does not compile")
                    .trim()
                    .to_owned(),
            )
        })?;
    Ok(regex)
}

/// `:name` segments become `[^/]+`; a trailing `/*` becomes "this path or anything below".
fn translate_key_match(pattern: &str) -> String {
    let (body, below) = match pattern.strip_suffix("/*") {
        Some(body) => (body, true),
        None => (pattern, false),
    };
    let body = body
        .split('/')
        .map(|segment| {
            let is_param = segment.len() > 1
                && segment.starts_with(':')
                && segment[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if is_param { "[^/]+" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/");
    if below {
        format!("{body}(?:/.*)?")
    } else {
        body
    }
}

/// The rules seeded into a new deployment: users may use the user-facing API,
/// administrators (who inherit `user`) also the admin API. Anonymous callers only reach
/// the gateway's public routes, which are not subject to rules.
pub fn default_rules() -> Vec<Rule> {
    let user_facing = "/api/v1/(auth|users|sessions|contacts|friend-requests|blocks|conversations|groups|messages|sync|files|presence|calls|ws)(/.*)?";
    [
        ("user", user_facing, ".*"),
        ("admin", "/api/v1/admin/.*", ".*"),
    ]
    .into_iter()
    .map(|(subject, object, action)| Rule {
        subject: subject.into(),
        object: object.into(),
        action: action.into(),
        effect: Effect::Allow,
    })
    .collect()
}

/// Role inheritance seeded into a new deployment: `(role, parent)`.
pub const DEFAULT_ROLE_LINKS: [(&str, &str); 1] = [("admin", "user")];

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        regex::Regex::new(&object_regex(pattern).unwrap())
            .unwrap()
            .is_match(path)
    }

    #[test]
    fn patterns_are_anchored() {
        assert!(matches("/api/v1/admin/.*", "/api/v1/admin/users"));
        assert!(!matches("/api/v1/admin/.*", "/evil/api/v1/admin/users"));
        assert!(!matches("/api/v1/users", "/api/v1/users/me"));
        assert!(matches("/api/v1/(users|sessions)", "/api/v1/sessions"));
    }

    #[test]
    fn key_match_conveniences() {
        assert!(matches("/api/v1/users/:id", "/api/v1/users/42"));
        assert!(!matches("/api/v1/users/:id", "/api/v1/users/42/ban"));
        assert!(matches(
            "/api/v1/admin/users/:id/ban",
            "/api/v1/admin/users/u-1/ban"
        ));
        assert!(matches("/api/v1/admin/*", "/api/v1/admin"));
        assert!(matches("/api/v1/admin/*", "/api/v1/admin/policies/7"));
        assert!(!matches("/api/v1/admin/*", "/api/v1/administrators"));
    }

    #[test]
    fn methods() {
        let get_or_post = regex::Regex::new(&action_regex("GET|POST").unwrap()).unwrap();
        assert!(get_or_post.is_match("GET") && get_or_post.is_match("POST"));
        assert!(!get_or_post.is_match("DELETE") && !get_or_post.is_match("GETX"));
        assert_eq!(action_regex("*").unwrap(), "^(?:.*)$");
    }

    #[test]
    fn malformed_rules_are_rejected() {
        assert!(matches!(
            Rule::parse("user", "/api/(", "GET", "allow"),
            Err(RuleError::InvalidPattern {
                field: "object",
                ..
            })
        ));
        assert!(matches!(
            Rule::parse("user", "/x", "[", "allow"),
            Err(RuleError::InvalidPattern {
                field: "action",
                ..
            })
        ));
        assert!(matches!(
            Rule::parse("user", "", "GET", "allow"),
            Err(RuleError::InvalidPattern { .. })
        ));
        assert!(matches!(
            Rule::parse("user", &"a".repeat(600), "GET", "allow"),
            Err(RuleError::InvalidPattern { .. })
        ));
        assert!(matches!(
            Rule::parse("user", "(a{1000}){1000}", "GET", "allow"),
            Err(RuleError::InvalidPattern { .. })
        ));
        assert_eq!(
            Rule::parse("us er", "/x", "GET", "allow"),
            Err(RuleError::InvalidSubject)
        );
        assert_eq!(
            Rule::parse("user", "/x", "GET", "maybe"),
            Err(RuleError::InvalidEffect)
        );
        assert!(
            Rule::parse(
                "moderator",
                "/api/v1/admin/users/:id/ban",
                "POST|DELETE",
                "allow"
            )
            .is_ok()
        );
    }

    #[test]
    fn roles() {
        assert!(validate_role("moderator").is_ok());
        assert!(validate_role("Moderator").is_err());
        assert!(validate_role("").is_err());
        assert!(validate_role(&"a".repeat(33)).is_err());
    }

    #[test]
    fn defaults_are_valid() {
        for rule in default_rules() {
            assert!(rule.to_casbin().is_ok(), "{rule:?}");
        }
    }
}
