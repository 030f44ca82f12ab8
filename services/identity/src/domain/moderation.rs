//! Moderation: user bans and the IP / CIDR blacklist.

use super::{UserId, ValidationError, has_control, new_id};
use ipnet::IpNet;
use std::net::IpAddr;

/// Why a ban or block was made: at most 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.chars().count() <= 200 && !has_control(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Reason)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who made a change (an admin's user id, or `cli`), recorded for audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorId(String);

impl ActorId {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.chars().count() <= 128 && !has_control(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::ActorId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When a ban or block ends: `None` is forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Until(Option<i64>);

impl Until {
    /// `until_ms` as on the wire: 0 means forever, anything else must be after `now_ms`.
    pub fn parse(until_ms: i64, now_ms: i64) -> Result<Self, ValidationError> {
        match until_ms {
            0 => Ok(Self(None)),
            until if until > now_ms => Ok(Self(Some(until))),
            _ => Err(ValidationError::Until),
        }
    }

    pub fn ms(self) -> Option<i64> {
        self.0
    }
}

/// Whether something lasting until `until_ms` (`None`: forever) still holds at `now_ms`.
fn in_force(until_ms: Option<i64>, now_ms: i64) -> bool {
    until_ms.is_none_or(|until| until > now_ms)
}

/// A network in canonical form: `10.1.2.3/8` becomes `10.0.0.0/8`, a bare address
/// becomes `/32` (IPv4) or `/128` (IPv6), so equal ranges are equal strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.len() > 64 {
            return Err(ValidationError::Cidr);
        }
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => IpNet::from(text.parse::<IpAddr>().map_err(|_| ValidationError::Cidr)?),
        };
        Ok(Self(net.trunc()))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A user barred from logging in and from using any session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub user_id: UserId,
    pub reason: String,
    pub until_ms: Option<i64>,
    pub actor_id: String,
    pub created_at_ms: i64,
}

impl Ban {
    pub fn is_active(&self, now_ms: i64) -> bool {
        in_force(self.until_ms, now_ms)
    }
}

/// A blacklisted address range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    pub id: String,
    /// Canonical text of a [`Cidr`].
    pub cidr: String,
    pub reason: String,
    pub until_ms: Option<i64>,
    pub actor_id: String,
    pub created_at_ms: i64,
}

impl IpBlock {
    pub fn new(cidr: Cidr, reason: Reason, until: Until, actor: ActorId, now_ms: i64) -> Self {
        Self {
            id: new_id(),
            cidr: cidr.to_string(),
            reason: reason.0,
            until_ms: until.ms(),
            actor_id: actor.0,
            created_at_ms: now_ms,
        }
    }

    pub fn is_active(&self, now_ms: i64) -> bool {
        in_force(self.until_ms, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_are_normalised() {
        let cases = [
            ("10.1.2.3", "10.1.2.3/32"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            (" 192.168.0.0/16 ", "192.168.0.0/16"),
            ("2001:DB8::1", "2001:db8::1/128"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                Cidr::parse(input).unwrap().to_string(),
                canonical,
                "{input}"
            );
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0",
            "example.com",
            "10.0.0.1/8/8",
            "1.2.3.4' OR '1'='1",
            "::1/129",
        ] {
            assert_eq!(Cidr::parse(bad), Err(ValidationError::Cidr), "{bad:?}");
        }
    }

    #[test]
    fn until_is_forever_or_in_the_future() {
        assert_eq!(Until::parse(0, 1_000).unwrap().ms(), None);
        assert_eq!(Until::parse(1_001, 1_000).unwrap().ms(), Some(1_001));
        for past in [1_000, 999, 1, -5] {
            assert_eq!(Until::parse(past, 1_000), Err(ValidationError::Until));
        }
    }

    #[test]
    fn bans_hold_until_their_end() {
        let ban = |until_ms| Ban {
            user_id: UserId::generate(),
            reason: String::new(),
            until_ms,
            actor_id: String::new(),
            created_at_ms: 0,
        };
        assert!(ban(None).is_active(i64::MAX));
        assert!(ban(Some(10)).is_active(9));
        assert!(!ban(Some(10)).is_active(10));
    }

    #[test]
    fn reasons_and_actors_are_bounded() {
        assert!(Reason::parse(&"r".repeat(200)).is_ok());
        assert_eq!(
            Reason::parse(&"r".repeat(201)),
            Err(ValidationError::Reason)
        );
        assert!(Reason::parse("spam\r\nSet-Cookie: x").is_err());
        assert!(ActorId::parse(&"a".repeat(129)).is_err());
        assert_eq!(ActorId::parse(" cli ").unwrap().as_str(), "cli");
    }
}
