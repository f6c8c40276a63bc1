//! A live circuit writing itself to the store: on eviction, shutdown and pause (`lifecycle`), shortly
//! after each change when the store asks for write-behind, and removal when it ends for good.
//!
//! Invariants:
//! - Sealing happens under the circuit's state lock (a consistent snapshot); the store call runs on the
//!   hub's saver task (`saver`: in order, batched), so a slow or absent store never holds the lock or the
//!   connection's task.
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
use super::saver::SaveReceipt;
use super::store::{SaveOutcome, StoreError};

/// A failing write-behind retries at most this far apart.
const MAX_RETRY: Duration = Duration::from_secs(30);

impl Circuit {
    /// This circuit's generation in the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Seals the circuit's state and queues it for the store (behind every earlier save, see `saver`).
    /// Returns the save's receipt (`true` once stored), or `None` when there is no store, no application
    /// yet, or sealing failed (logged).
    pub(crate) fn persist_locked(
        self: &Arc<Self>,
        state: &mut CircuitState,
        cause: PersistCause,
    ) -> Option<SaveReceipt> {
        let persistence = self.env.persistence.as_ref()?;
        let app = state.app.as_ref()?;
        let snapshot = match app.snapshot() {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                tracing::warn!(?cause, %reason, "the circuit could not be persisted");
                return None;
            }
        };
        let sealed = persistence.seal(
            self.id,
            self.key.claim(),
            self.generation(),
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
        Some(persistence.saver.save(
            self.id,
            sealed,
            cause,
            Arc::downgrade(self),
            self.span.clone(),
        ))
    }

    /// Told by the saver what became of a save of this circuit: a fenced-out save ends this copy; a
    /// write-behind save books its success or failure (see `after_write_behind`). Returns how many
    /// write-behind saves had failed in a row before this one.
    pub(crate) fn saved(
        self: &Arc<Self>,
        cause: PersistCause,
        result: &Result<SaveOutcome, &StoreError>,
    ) -> u32 {
        if *result == Ok(SaveOutcome::Fenced) {
            self.end_moved();
            return 0;
        }
        if cause != PersistCause::WriteBehind {
            return 0;
        }
        self.after_write_behind(result.is_err())
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

    /// Books a finished write-behind save: on failure, lists the circuit again after a backoff (the
    /// interval doubling per failure, up to [`MAX_RETRY`]); changes meanwhile do not list it sooner.
    /// Returns how many saves had failed in a row before this one.
    fn after_write_behind(self: &Arc<Self>, failed: bool) -> u32 {
        let mut state = self.state.lock();
        let before = state.write_behind_failures;
        if !failed {
            state.write_behind_failures = 0;
            return before;
        }
        state.write_behind_failures = before.saturating_add(1);
        let Some(interval) = self.env.persistence.as_ref().and_then(|p| p.write_behind()) else {
            return before;
        };
        if matches!(state.link, Link::Ended) || state.write_behind_pending {
            return before;
        }
        // Held pending through the wait, so a render meanwhile does not list the circuit sooner.
        state.write_behind_pending = true;
        let backoff = 1u32 << state.write_behind_failures.min(16);
        let wait = interval
            .saturating_mul(backoff)
            .min(MAX_RETRY.max(interval))
            .saturating_sub(interval);
        let circuit = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(circuit) = circuit.upgrade() else {
                return;
            };
            let mut state = circuit.state.lock();
            state.write_behind_pending = false;
            if !matches!(state.link, Link::Ended) {
                circuit.schedule_write_behind(&mut state);
            }
        });
        before
    }

    /// After a change (a rendered batch): when the store asks for write-behind, lists the circuit for the
    /// hub's next write-behind pass, so it persists at most once per interval however many changes come.
    pub(crate) fn schedule_write_behind(self: &Arc<Self>, state: &mut CircuitState) {
        if state.write_behind_pending {
            return;
        }
        let Some(persistence) = &self.env.persistence else {
            return;
        };
        let Some(interval) = persistence.write_behind() else {
            return;
        };
        state.write_behind_pending = true;
        persistence
            .saver
            .write_behind(Arc::downgrade(self), interval);
    }

    /// The circuit ended for good (closed or failed): with write-behind on, its last copy leaves the store
    /// (unless a newer generation holds the entry), behind its queued saves.
    pub(crate) fn forget_write_behind(&self) {
        let Some(persistence) = &self.env.persistence else {
            return;
        };
        if persistence.write_behind().is_none() {
            return;
        }
        persistence.saver.remove(self.id, self.generation());
    }
}
