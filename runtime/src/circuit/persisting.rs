//! A live circuit writing itself to the store: on eviction, shutdown and pause (`lifecycle`), shortly
//! after each change when the store asks for write-behind, and removal when it ends for good.
//!
//! Invariants:
//! - Sealing happens under the circuit's state lock (a consistent snapshot); the store call runs on a task,
//!   so a slow or absent store never holds the lock or the connection's task.
//! - Every save carries the circuit's generation. A save the store fences out (the circuit was resumed
//!   elsewhere) ends this copy with `EndReason::Moved` and removes nothing; so does a reconnect that finds
//!   a newer generation in a shared store (`fenced_out`).
//! - A write-behind persist runs at most once per interval per circuit, however many changes come.
//! - A write-behind save that fails (the store is away) is retried while the circuit lives, the wait
//!   doubling from the interval up to [`MAX_RETRY`]; the first failure of a streak is a warning, the rest
//!   are debug lines, and the first success after it says the store is back. The circuit itself, and
//!   everything in this process, carries on meanwhile.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::core::{Circuit, CircuitState, EndReason, Link};
use super::persist::PersistCause;
use super::store::SaveOutcome;

/// A failing write-behind retries at most this far apart.
const MAX_RETRY: Duration = Duration::from_secs(30);

impl Circuit {
    /// This circuit's generation in the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Seals the circuit's state and hands it to the store (on a task). Returns the save's join handle
    /// (`true` once stored), or `None` when there is no store, no application yet, or sealing failed
    /// (logged).
    pub(crate) fn persist_locked(
        self: &Arc<Self>,
        state: &mut CircuitState,
        cause: PersistCause,
    ) -> Option<tokio::task::JoinHandle<bool>> {
        let persistence = self.env.persistence.as_ref()?;
        let app = state.app.as_ref()?;
        let snapshot = match app.snapshot() {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                tracing::warn!(?cause, %reason, "the circuit could not be persisted");
                return None;
            }
        };
        let generation = self.generation();
        let sealed = persistence.seal(
            self.id,
            self.key.claim(),
            generation,
            self.user.clone(),
            snapshot,
        );
        let sealed = match sealed {
            Ok(sealed) => sealed,
            Err(reason) => {
                tracing::warn!(?cause, %reason, "the circuit could not be sealed");
                return None;
            }
        };
        let bytes = sealed.blob.len();
        let env = self.env.clone();
        let circuit = Arc::downgrade(self);
        let (id, span) = (self.id, self.span.clone());
        Some(tokio::spawn(async move {
            let persistence = env.persistence.as_ref().expect("checked above");
            let outcome = persistence.save(id, sealed).await;
            let saved = outcome == Ok(SaveOutcome::Saved);
            let failed_before = match (cause, circuit.upgrade()) {
                (PersistCause::WriteBehind, Some(circuit)) => {
                    circuit.after_write_behind(outcome.is_err())
                }
                _ => 0,
            };
            match outcome {
                Ok(SaveOutcome::Saved) if failed_before > 0 => {
                    tracing::info!(parent: &span, failed_before, "circuit persisted again: the store is back");
                }
                Ok(SaveOutcome::Saved) if cause == PersistCause::WriteBehind => {
                    tracing::debug!(parent: &span, bytes, "circuit persisted (write-behind)");
                }
                Ok(SaveOutcome::Saved) => {
                    tracing::info!(parent: &span, ?cause, bytes, "circuit persisted");
                }
                Ok(SaveOutcome::Fenced) => {
                    tracing::warn!(parent: &span, ?cause, generation, "persist refused: the store holds a newer generation of this circuit");
                    if let Some(circuit) = circuit.upgrade() {
                        circuit.end_moved();
                    }
                }
                Err(error) if cause == PersistCause::WriteBehind && failed_before > 0 => {
                    tracing::debug!(parent: &span, %error, failed_before, "write-behind failed again; retrying later");
                }
                Err(error) => {
                    tracing::warn!(parent: &span, ?cause, %error, "persisting the circuit failed");
                }
            }
            saved
        }))
    }

    /// Ends this copy: the circuit continues on another server.
    pub(crate) fn end_moved(self: &Arc<Self>) {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        self.end_locked(&mut state, EndReason::Moved);
    }

    /// Before a reconnect to this circuit: whether a shared store (write-behind on) holds a newer
    /// generation, meaning the circuit was resumed on another server. Then this copy ends and the reconnect
    /// is refused. A store that cannot answer does not block the reconnect (logged).
    pub(crate) async fn fenced_out(self: &Arc<Self>) -> bool {
        let Some(persistence) = &self.env.persistence else {
            return false;
        };
        if persistence.write_behind().is_none() {
            return false;
        }
        match persistence.generation(self.id).await {
            Ok(Some(newest)) if newest > self.generation() => {
                tracing::info!(parent: &self.span, newest, "reconnect refused: the circuit was resumed on another server");
                self.end_moved();
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(parent: &self.span, %error, "could not check the store before a reconnect; reconnecting");
                false
            }
        }
    }

    /// Books a finished write-behind save: on failure, schedules a retry after a backoff. Returns how
    /// many saves had failed in a row before this one.
    fn after_write_behind(self: &Arc<Self>, failed: bool) -> u32 {
        let mut state = self.state.lock();
        let before = state.write_behind_failures;
        if !failed {
            state.write_behind_failures = 0;
            return before;
        }
        state.write_behind_failures = before.saturating_add(1);
        if !matches!(state.link, Link::Ended) {
            self.schedule_write_behind(&mut state);
        }
        before
    }

    /// After a change (a rendered batch): when the store asks for write-behind, persists once its interval
    /// has passed, so at most one persist per interval per circuit however many changes come meanwhile.
    /// After failed saves the wait doubles per failure, up to [`MAX_RETRY`].
    pub(crate) fn schedule_write_behind(self: &Arc<Self>, state: &mut CircuitState) {
        if state.write_behind_pending {
            return;
        }
        let Some(interval) = self.env.persistence.as_ref().and_then(|p| p.write_behind()) else {
            return;
        };
        let backoff = 1u32 << state.write_behind_failures.min(16);
        let interval = interval
            .saturating_mul(backoff)
            .min(MAX_RETRY.max(interval));
        state.write_behind_pending = true;
        let circuit = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(interval).await;
            let Some(circuit) = circuit.upgrade() else {
                return;
            };
            let _entered = circuit.span.enter();
            let mut state = circuit.state.lock();
            state.write_behind_pending = false;
            if !matches!(state.link, Link::Ended) {
                circuit.persist_locked(&mut state, PersistCause::WriteBehind);
            }
        });
    }

    /// The circuit ended for good (closed or failed): with write-behind on, its last copy leaves the store
    /// (unless a newer generation holds the entry).
    pub(crate) fn forget_write_behind(&self) {
        let env = self.env.clone();
        let Some(persistence) = &env.persistence else {
            return;
        };
        if persistence.write_behind().is_none() {
            return;
        }
        let (id, generation) = (self.id, self.generation());
        tokio::spawn(async move {
            let persistence = env.persistence.as_ref().expect("checked above");
            if let Err(error) = persistence.remove(id, generation).await {
                tracing::warn!(circuit = %id, %error, "could not remove an ended circuit from the store");
            }
        });
    }
}
