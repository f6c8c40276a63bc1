//! A live circuit writing itself to the store: on eviction, shutdown and pause (`lifecycle`), shortly
//! after each change when the store asks for write-behind, and removal when it ends for good. The writes
//! themselves go through the hub's queue (`saver`), which reaches back to the circuit only through
//! `SaveOwner` (implemented here) and so does not depend on the circuit's state.
//!
//! Invariants:
//! - Sealing happens under the circuit's state lock (a consistent snapshot), and the sealed blob is queued
//!   before the lock is released, so one circuit's saves reach the store in the order they were sealed.
//! - Every save carries the circuit's generation. A save the store fences out (the circuit was resumed
//!   elsewhere) ends this copy with `EndReason::Moved` and removes nothing; so does a reconnect that finds
//!   a newer generation in a shared store (`fenced_out`).
//! - A write-behind persist runs at most once per interval per circuit, however many changes come; after
//!   failed saves it waits `saver::retry_delay`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::core::{Circuit, CircuitState, EndReason, Link};
use super::saver::{retry_delay, PersistCause, SaveOwner, SaveReceipt};

impl Circuit {
    /// This circuit's generation in the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Seals the circuit's state and queues it for the store (behind every earlier save, see `saver`).
    /// Returns the save's receipt, or `None` when there is no store, no application yet, or sealing
    /// failed (logged).
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
            self.user.as_deref().map(str::to_owned),
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
            Arc::downgrade(self) as Weak<dyn SaveOwner>,
            self.id,
            sealed,
            cause,
            self.span.clone(),
        ))
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

    /// Books a finished write-behind save (the saver calls it): a failure sets the next try after a
    /// backoff and keeps the circuit listed. Returns how many saves had failed in a row before this one.
    pub(crate) fn after_write_behind(self: &Arc<Self>, failed: bool) -> u32 {
        let mut state = self.state.lock();
        let before = state.write_behind_failures;
        if !failed {
            state.write_behind_failures = 0;
            state.write_behind_retry_at = None;
            return before;
        }
        state.write_behind_failures = before.saturating_add(1);
        if let Some(interval) = self.env.persistence.as_ref().and_then(|p| p.write_behind()) {
            let wait = retry_delay(interval, state.write_behind_failures);
            state.write_behind_retry_at = Some(tokio::time::Instant::now() + wait);
        }
        self.schedule_write_behind(&mut state);
        before
    }

    /// After a change (a rendered batch): when the store asks for write-behind, lists the circuit for the
    /// hub's next write-behind pass, so at most one persist per interval per circuit however many changes
    /// come meanwhile.
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
            .write_behind(Arc::downgrade(self) as Weak<dyn SaveOwner>, interval);
    }

    /// The circuit ended for good (closed or failed): with write-behind on, its last copy leaves the store
    /// (unless a newer generation holds the entry).
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

impl SaveOwner for Circuit {
    fn write_behind_pass(self: Arc<Self>, now: Instant) -> bool {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        if matches!(state.link, Link::Ended) {
            state.write_behind_pending = false;
            return true;
        }
        if state.write_behind_retry_at.is_some_and(|at| at > now) {
            return false;
        }
        state.write_behind_pending = false;
        self.persist_locked(&mut state, PersistCause::WriteBehind);
        true
    }

    fn write_behind_done(self: Arc<Self>, failed: bool) -> u32 {
        self.after_write_behind(failed)
    }

    fn fenced_out_by_store(self: Arc<Self>) {
        self.end_moved();
    }
}
