//! Graceful shutdown: persist every live circuit, tell connected browsers to resume, stop in bounded time.
//!
//! Order: stop accepting connections, and refuse starts, reconnects and resumes on the connections still
//! open (an answer the browser treats as an unreachable server, so it retries) → each circuit (under its
//! lock) is sealed, queued for the store and ended; its browser gets `T.Persisted(true)` and a close once
//! the store confirmed that save (sooner, and a tab quick to resume elsewhere could find nothing there
//! yet) → the store saves are awaited up to the deadline → a short grace lets the close frames reach the
//! sockets → the process may exit. Without a store, circuits are left alone
//! (their browsers reconnect, find them gone and reload, as after any restart).

use std::time::Duration;

use tokio::time::Instant;

use super::hub::CircuitHub;
use super::saver::PersistCause;

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Circuits live when the shutdown began.
    pub circuits: usize,
    /// Circuits whose state the store confirmed saved.
    pub persisted: usize,
    /// Saves that failed or did not finish before the deadline.
    pub lost: usize,
}

/// How long a shutdown lets the last messages (`T.Persisted`, closes) reach the sockets.
const FLUSH_GRACE: Duration = Duration::from_millis(200);

impl CircuitHub {
    /// Persists every live circuit to the store and ends it here, telling connected browsers to resume
    /// (on the next server up); waits for the store up to `deadline`. Call it once, when the process is
    /// about to exit ([`serve_until_signal`] does).
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        self.shared
            .closing
            .store(true, std::sync::atomic::Ordering::Release);
        let circuits = self.shared.registry.all();
        let mut report = ShutdownReport {
            circuits: circuits.len(),
            ..ShutdownReport::default()
        };
        if self.shared.env.persistence.is_none() {
            // Nothing to keep them in: leave the circuits as they are; when the process exits their
            // browsers reconnect, find them gone and reload, as after any restart.
            report.lost = report.circuits;
            tracing::info!(
                circuits = report.circuits,
                "circuit hub shut down without a store; live circuits are lost"
            );
            return report;
        }
        let mut saves = Vec::with_capacity(circuits.len());
        for circuit in circuits {
            let _entered = circuit.span.enter();
            let mut state = circuit.state.lock();
            if let Some(save) = circuit.persist_and_end_locked(&mut state, PersistCause::Shutdown) {
                saves.push(save);
            }
        }
        for save in saves {
            match tokio::time::timeout_at(until, save).await {
                Ok(Ok(true)) => report.persisted += 1,
                _ => report.lost += 1,
            }
        }
        let grace = until
            .saturating_duration_since(Instant::now())
            .min(FLUSH_GRACE);
        tokio::time::sleep(grace).await;
        tracing::info!(
            circuits = report.circuits,
            persisted = report.persisted,
            lost = report.lost,
            "circuit hub shut down"
        );
        report
    }
}

/// Serves `router` on `listener` (as [`crate::hub::serve`]) until SIGTERM or SIGINT (Ctrl-C), then shuts
/// `hub` down ([`CircuitHub::shutdown`]) within 10 seconds.
pub async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    hub: CircuitHub,
) -> std::io::Result<()> {
    tokio::select! {
        served = crate::hub::serve(listener, router) => served?,
        () = termination() => {}
    }
    tracing::info!("shutting down: persisting live circuits");
    hub.shutdown(Duration::from_secs(9)).await;
    Ok(())
}

async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
