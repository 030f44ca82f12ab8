//! Deadlines of outbound calls: the budget of one call (the caller's `grpc-timeout`
//! when shorter than the default), and the `grpc-timeout` header that tells the server
//! how much of it is left.

use super::call::CallKind;
use http::{HeaderMap, HeaderValue};
use std::time::Duration;

/// The header of gRPC over HTTP/2 carrying a call's remaining time.
pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";

/// At most eight digits, by the gRPC wire spec.
const MAX_DIGITS: u64 = 99_999_999;

/// The time one call may take in all, its attempts and pauses included: the shorter of
/// the caller's `grpc-timeout` and `default`; for a streaming call only the caller's.
pub(crate) fn budget(headers: &HeaderMap, kind: CallKind, default: Duration) -> Option<Duration> {
    let asked = headers
        .get(GRPC_TIMEOUT)
        .and_then(|value| value.to_str().ok())
        .and_then(parse);
    match (asked, kind.streaming) {
        (asked, true) => asked,
        (Some(asked), false) => Some(asked.min(default)),
        (None, false) => Some(default),
    }
}

/// Tells the server how long it has: `left`, in the finest unit that fits.
pub(crate) fn announce(headers: &mut HeaderMap, left: Duration) {
    if let Ok(value) = HeaderValue::try_from(format(left)) {
        headers.insert(GRPC_TIMEOUT, value);
    }
}

/// `TimeoutValue TimeoutUnit`, e.g. `250m`, `3S`, `1500000u`.
pub(crate) fn parse(text: &str) -> Option<Duration> {
    let unit_at = text.len().checked_sub(1)?;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.saturating_mul(3600)),
        "M" => Duration::from_secs(value.saturating_mul(60)),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

fn format(duration: Duration) -> String {
    let units: [(u128, char); 5] = [
        (duration.as_nanos(), 'n'),
        (duration.as_micros(), 'u'),
        (duration.as_millis(), 'm'),
        (u128::from(duration.as_secs()), 'S'),
        (u128::from(duration.as_secs() / 60), 'M'),
    ];
    for (value, unit) in units {
        if value <= u128::from(MAX_DIGITS) {
            return format!("{value}{unit}");
        }
    }
    let hours = (duration.as_secs() / 3600).min(MAX_DIGITS);
    format!("{hours}H")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timeout: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(timeout) = timeout {
            headers.insert(GRPC_TIMEOUT, HeaderValue::from_str(timeout).unwrap());
        }
        headers
    }

    const UNARY: CallKind = CallKind {
        idempotent: false,
        streaming: false,
    };
    const STREAM: CallKind = CallKind {
        idempotent: false,
        streaming: true,
    };

    #[test]
    fn every_unary_call_gets_a_deadline_and_keeps_a_shorter_one() {
        let default = Duration::from_secs(3);
        assert_eq!(budget(&headers(None), UNARY, default), Some(default));
        assert_eq!(
            budget(&headers(Some("200m")), UNARY, default),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            budget(&headers(Some("10S")), UNARY, default),
            Some(default),
            "a longer deadline is capped"
        );
        assert_eq!(
            budget(&headers(Some("junk")), UNARY, default),
            Some(default)
        );
    }

    #[test]
    fn streams_are_not_cut_unless_their_caller_asked() {
        let default = Duration::from_secs(3);
        assert_eq!(budget(&headers(None), STREAM, default), None);
        assert_eq!(
            budget(&headers(Some("1H")), STREAM, default),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn the_header_round_trips_in_the_finest_unit_that_fits() {
        for duration in [
            Duration::from_nanos(1),
            Duration::from_micros(2500),
            Duration::from_millis(2999),
            Duration::from_secs(3),
            Duration::from_secs(86_400 * 400),
        ] {
            let text = format(duration);
            assert!(text.len() <= 9, "{text}");
            let back = parse(&text).unwrap();
            assert!(back <= duration, "{text} is longer than {duration:?}");
            assert!(
                duration - back < duration / 1000 + Duration::from_nanos(1),
                "{text} loses too much of {duration:?}"
            );
        }
        assert_eq!(format(Duration::from_millis(250)), "250000u");
        assert_eq!(parse("100000000m"), None, "nine digits");
        assert_eq!(parse("5x"), None);
        assert_eq!(parse("m"), None);
    }
}
