//! The process signals that start a graceful shutdown.

use std::io;

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed by this call, not when the future is first polled: from
/// here on a signal starts a graceful shutdown instead of killing the process, even one
/// that arrives while the server is still starting (a test, or an orchestrator, may send
/// it as soon as the server logs that it listens). Call it before binding.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
                _ = terminate.recv() => tracing::info!("SIGTERM received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => tracing::info!("Ctrl-C received"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for Ctrl-C");
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}
