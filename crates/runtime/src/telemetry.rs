//! Logs: JSON lines through `tracing`, one object per event with the current span's
//! fields (service name, request id, trace id) flattened beside the message.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `IM_LOG` (an `EnvFilter` directive) overrides the
/// configured level. Safe to call twice: the second call is a no-op.
pub fn init_logging(config: &LogConfig) -> anyhow::Result<()> {
    let filter = match std::env::var("IM_LOG") {
        Ok(directive) => EnvFilter::try_new(directive)?,
        Err(_) => EnvFilter::try_new(&config.level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let installed = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // Already installed (tests that start several apps in one process): keep the first.
    let _ = installed;
    Ok(())
}

/// A fresh W3C trace id (32 lowercase hex digits) for a request that arrives without one.
pub fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The trace id of a W3C `traceparent` header (`00-<trace-id>-<span-id>-<flags>`), if valid.
pub fn trace_id_from_traceparent(header: &str) -> Option<&str> {
    let mut parts = header.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    let valid = trace_id.len() == 32
        && trace_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && trace_id.bytes().any(|b| b != b'0');
    valid.then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing() {
        assert_eq!(
            trace_id_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_from_traceparent("garbage"), None);
        assert_eq!(new_trace_id().len(), 32);
    }
}
