//! Graceful shutdown: one small token passed down to every server and task.

use tokio_util::sync::CancellationToken;

/// Cloneable shutdown signal. Servers stop accepting when it fires, then drain.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.0.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes once shutdown has been triggered.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// An owned future for APIs that take `impl Future + 'static`.
    pub fn signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone().cancelled_owned()
    }

    /// Triggers this shutdown on SIGINT or SIGTERM.
    pub fn trigger_on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let this = self.clone();
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
                () = this.wait() => return,
            };
            tracing::info!(signal = which, "shutting down");
            this.trigger();
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clones_see_the_trigger() {
        let shutdown = Shutdown::new();
        let signal = shutdown.clone().signal();
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        signal.await;
        assert!(shutdown.clone().is_triggered());
    }
}
