//! How one outbound call asks to be treated, marked on its `tonic::Request` (the mark
//! travels as a request extension down to [`super::ResilientChannel`]).
//!
//! Unmarked calls get the default deadline and the circuit breaker, and are never
//! retried: only the caller knows whether doing a call twice is harmless.

/// Marks a unary call whose repetition changes nothing (a read, a lookup, a health
/// check): it is retried with backoff after transport failures and UNAVAILABLE, within
/// its deadline. Never mark a write such as `SendMessage`, nor a streaming call.
pub fn idempotent<T>(mut request: tonic::Request<T>) -> tonic::Request<T> {
    request.extensions_mut().insert(Idempotent);
    request
}

/// Marks a long-lived call (`WatchMembership`, an upload or download stream): it gets
/// no default deadline (only one the caller set with `set_timeout`) and is never
/// retried. The circuit breaker still counts how it starts.
pub fn streaming<T>(mut request: tonic::Request<T>) -> tonic::Request<T> {
    request.extensions_mut().insert(Streaming);
    request
}

#[derive(Debug, Clone, Copy)]
struct Idempotent;

#[derive(Debug, Clone, Copy)]
struct Streaming;

/// The marks found on one outgoing request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CallKind {
    pub idempotent: bool,
    pub streaming: bool,
}

impl CallKind {
    pub fn of(extensions: &http::Extensions) -> Self {
        let streaming = extensions.get::<Streaming>().is_some();
        Self {
            // A stream cannot be replayed, whatever its caller claims.
            idempotent: extensions.get::<Idempotent>().is_some() && !streaming,
            streaming,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind<T>(request: tonic::Request<T>) -> CallKind {
        let (_, extensions, _) = request.into_parts();
        CallKind::of(&extensions)
    }

    #[test]
    fn marks_survive_and_streams_are_never_replayed() {
        assert_eq!(kind(tonic::Request::new(())), CallKind::default());
        assert!(kind(idempotent(tonic::Request::new(()))).idempotent);
        let both = kind(streaming(idempotent(tonic::Request::new(()))));
        assert_eq!(
            both,
            CallKind {
                idempotent: false,
                streaming: true
            }
        );
    }
}
