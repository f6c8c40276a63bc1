//! Writing persisted circuits to the store: in order, in batches, with write-behind on one timer per hub.
//!
//! Every save (eviction, shutdown, pause, write-behind) and removal goes through the hub's [`Saver`]: a circuit seals
//! its state under its lock and queues the blob before the lock is released; one task hands whatever has
//! queued up to [`CircuitStore::save_many`] (one Redis pipeline) and waits for it before taking the next
//! batch. Hence:
//! - the saves of one circuit reach the store in the order they were sealed, so an older write-behind copy
//!   never lands after (and over) the copy a shutdown or pause made;
//! - a thousand circuits persisting within a few milliseconds cost a few store round trips, not a thousand
//!   tasks and round trips (with Redis write-behind at 1,000 events a second, the per-save task, timer and
//!   `SET` cost more CPU than the events themselves).
//!
//! Write-behind: a circuit that rendered a change is listed once (its `write_behind_pending` flag) and one
//! timer per hub persists every listed circuit each interval. A circuit is therefore saved at most once per
//! interval and at most about one interval after a change, with no timer per circuit.
//!
//! Fencing and failures: the store answers each save `Saved` or `Fenced` (a newer generation of the circuit
//! is in the store: it was resumed elsewhere), and a fenced circuit's copy here ends. A write-behind save
//! that fails (the store is away) leaves its circuit listed, and the timer retries it after a backoff (the
//! interval doubling per failure, up to [`MAX_RETRY`]), with no further change needed; the first failure of
//! a streak is a warning, the retries debug lines, and the first success says the store is back. Every
//! store call is timed and every stored save counted in the hub's [`CircuitStoreMetrics`].
//!
//! The two tasks start on first use (inside the runtime the circuits run on) and end when the hub's
//! persistence is dropped.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::secret::CircuitId;
use super::store::{CircuitStore, SaveOutcome, StoredCircuit};
use crate::metrics::CircuitStoreMetrics;

/// The most saves handed to the store at once.
const MAX_BATCH: usize = 512;

/// A failing write-behind retries at most this far apart.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Why a circuit is being persisted (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PersistCause {
    Eviction,
    Shutdown,
    Pause,
    WriteBehind,
}

/// The live circuit a save came from, as the saver sees it: implemented by `Circuit` (in `persisting`),
/// so this queue knows nothing of the circuit's state.
pub(crate) trait SaveOwner: Send + Sync {
    /// A write-behind pass reached the circuit: it persists now, unless it ended. `false` when it is
    /// backing off after failed saves until after `now`; it then stays listed for a later pass.
    fn write_behind_pass(self: Arc<Self>, now: Instant) -> bool;
    /// Its write-behind save finished (`failed` or not); how many had failed in a row before it.
    fn write_behind_done(self: Arc<Self>, failed: bool) -> u32;
    /// The store refused its save for holding a newer generation: this copy ends (it moved on).
    fn fenced_out_by_store(self: Arc<Self>);
}

/// Answers whether the store took a queued save (`Err` when the saver is gone: not saved).
pub(crate) type SaveReceipt = oneshot::Receiver<bool>;

/// Work for the store, in queue order.
enum Job {
    Save(Save),
    /// The circuit ended for good: its entry leaves the store unless a newer generation holds it.
    Remove(CircuitId, u64),
}

/// One queued save.
struct Save {
    id: CircuitId,
    circuit: StoredCircuit,
    cause: PersistCause,
    span: tracing::Span,
    /// The live circuit, to end when the store fences it out and to book write-behind failures.
    owner: Weak<dyn SaveOwner>,
    done: oneshot::Sender<bool>,
}

/// A hub's queue of saves and its write-behind list (see the module docs).
pub(crate) struct Saver {
    store: Arc<dyn CircuitStore>,
    metrics: CircuitStoreMetrics,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
    /// Circuits changed since the last write-behind pass.
    dirty: Arc<Mutex<Vec<Weak<dyn SaveOwner>>>>,
    timer: OnceLock<()>,
}

impl Saver {
    pub(crate) fn new(store: Arc<dyn CircuitStore>, metrics: CircuitStoreMetrics) -> Self {
        Saver {
            store,
            metrics,
            queue: OnceLock::new(),
            dirty: Arc::default(),
            timer: OnceLock::new(),
        }
    }

    /// Queues a sealed circuit behind every save queued before it.
    pub(crate) fn save(
        &self,
        owner: Weak<dyn SaveOwner>,
        id: CircuitId,
        circuit: StoredCircuit,
        cause: PersistCause,
        span: tracing::Span,
    ) -> SaveReceipt {
        let (done, receipt) = oneshot::channel();
        // A send fails only when the runtime dropped the task; the receipt then reads "not saved".
        let _ = self.queue().send(Job::Save(Save {
            id,
            circuit,
            cause,
            span,
            owner,
            done,
        }));
        receipt
    }

    /// Queues the removal of circuit `id` (of `generation` or older) from the store, behind its queued
    /// saves.
    pub(crate) fn remove(&self, id: CircuitId, generation: u64) {
        let _ = self.queue().send(Job::Remove(id, generation));
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Job> {
        self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(run_saves(self.store.clone(), self.metrics.clone(), jobs));
            queue
        })
    }

    /// Lists `circuit` for the next write-behind pass, every `interval`.
    pub(crate) fn write_behind(&self, circuit: Weak<dyn SaveOwner>, interval: Duration) {
        self.dirty.lock().push(circuit);
        self.timer.get_or_init(|| {
            tokio::spawn(run_write_behind(Arc::downgrade(&self.dirty), interval));
        });
    }
}

/// Hands queued work to the store, a batch at a time, until the saver is dropped.
async fn run_saves(
    store: Arc<dyn CircuitStore>,
    metrics: CircuitStoreMetrics,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let (mut batch, mut saves) = (Vec::with_capacity(MAX_BATCH), Vec::new());
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for job in batch.drain(..) {
            match job {
                Job::Save(save) => saves.push(save),
                Job::Remove(id, generation) => {
                    // The saves queued before it land first, so none of them brings the entry back.
                    flush(&*store, &metrics, &mut saves).await;
                    let started = std::time::Instant::now();
                    let removed = store.remove(id, generation).await;
                    metrics.store_latency.observe(started.elapsed());
                    if let Err(error) = removed {
                        tracing::warn!(circuit = %id, %error, "could not remove an ended circuit from the store");
                    }
                }
            }
        }
        flush(&*store, &metrics, &mut saves).await;
    }
}

async fn flush(store: &dyn CircuitStore, metrics: &CircuitStoreMetrics, saves: &mut Vec<Save>) {
    if saves.is_empty() {
        return;
    }
    let entries = saves
        .iter()
        .map(|save| (save.id, save.circuit.clone()))
        .collect();
    let started = std::time::Instant::now();
    let outcome = store.save_many(entries).await;
    metrics.store_latency.observe(started.elapsed());
    for (i, save) in saves.drain(..).enumerate() {
        let result = match &outcome {
            Ok(outcomes) => Ok(outcomes.get(i).copied().unwrap_or(SaveOutcome::Saved)),
            Err(error) => Err(error),
        };
        let saved = result == Ok(SaveOutcome::Saved);
        if saved {
            metrics.persisted.inc();
        }
        let failed_before = match (save.cause, save.owner.upgrade()) {
            (PersistCause::WriteBehind, Some(circuit)) => {
                circuit.write_behind_done(result.is_err())
            }
            _ => 0,
        };
        let (span, cause, bytes) = (&save.span, save.cause, save.circuit.blob.len());
        match result {
            Ok(SaveOutcome::Saved) if failed_before > 0 => {
                tracing::info!(parent: span, failed_before, "circuit persisted again: the store is back");
            }
            Ok(SaveOutcome::Saved) if cause == PersistCause::WriteBehind => {
                tracing::debug!(parent: span, bytes, "circuit persisted (write-behind)");
            }
            Ok(SaveOutcome::Saved) => {
                tracing::info!(parent: span, ?cause, bytes, "circuit persisted");
            }
            Ok(SaveOutcome::Fenced) => {
                let generation = save.circuit.generation;
                tracing::warn!(parent: span, ?cause, generation, "persist refused: the store holds a newer generation of this circuit");
                if let Some(circuit) = save.owner.upgrade() {
                    circuit.fenced_out_by_store();
                }
            }
            Err(error) if cause == PersistCause::WriteBehind && failed_before > 0 => {
                tracing::debug!(parent: span, %error, failed_before, "write-behind failed again; retrying later");
            }
            Err(error) => {
                tracing::warn!(parent: span, ?cause, %error, "persisting the circuit failed");
            }
        }
        let _ = save.done.send(saved);
    }
}

/// How long a circuit whose write-behind failed `failures` times in a row waits before the next try:
/// the interval, doubling per failure, at most [`MAX_RETRY`].
pub(crate) fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let backoff = 1u32 << failures.min(16);
    interval
        .saturating_mul(backoff)
        .min(MAX_RETRY.max(interval))
}

/// Every `interval`, persists the circuits listed since the last pass, until the saver is dropped. A
/// circuit backing off after failed saves stays listed until its retry time.
async fn run_write_behind(dirty: Weak<Mutex<Vec<Weak<dyn SaveOwner>>>>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut listed, mut later) = (Vec::new(), Vec::new());
    loop {
        ticks.tick().await;
        let Some(dirty) = dirty.upgrade() else {
            return;
        };
        std::mem::swap(&mut *dirty.lock(), &mut listed);
        let now = Instant::now();
        for weak in listed.drain(..) {
            let Some(circuit) = weak.upgrade() else {
                continue;
            };
            if !circuit.write_behind_pass(now) {
                later.push(weak);
            }
        }
        dirty.lock().append(&mut later);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::store::{ClaimedCircuit, StoreError, StoreFuture};
    use crate::circuit::CircuitSecret;
    use bytes::Bytes;

    /// Saves whose circuit is gone (a weak reference that never upgrades).
    fn no_owner() -> Weak<dyn SaveOwner> {
        Weak::<Gone>::new()
    }

    struct Gone;

    impl SaveOwner for Gone {
        fn write_behind_pass(self: Arc<Self>, _: Instant) -> bool {
            true
        }
        fn write_behind_done(self: Arc<Self>, _: bool) -> u32 {
            0
        }
        fn fenced_out_by_store(self: Arc<Self>) {}
    }

    /// Records what reaches it, in order.
    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>);

    impl CircuitStore for Recording {
        fn save(&self, _: CircuitId, _: StoredCircuit) -> StoreFuture<'_, SaveOutcome> {
            unreachable!("the saver hands saves over in batches")
        }

        fn save_many(
            &self,
            circuits: Vec<(CircuitId, StoredCircuit)>,
        ) -> StoreFuture<'_, Vec<SaveOutcome>> {
            Box::pin(async move {
                let blobs: Vec<_> = circuits
                    .iter()
                    .map(|(_, c)| String::from_utf8_lossy(&c.blob).into_owned())
                    .collect();
                self.0.lock().push(format!("save {}", blobs.join(" ")));
                Ok(vec![SaveOutcome::Saved; circuits.len()])
            })
        }

        fn claim(&self, _: CircuitId, _: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>> {
            Box::pin(async { Err(StoreError::new("not used")) })
        }

        fn remove(&self, _: CircuitId, _: u64) -> StoreFuture<'_, ()> {
            Box::pin(async move {
                self.0.lock().push("remove".into());
                Ok(())
            })
        }

        fn generation(&self, _: CircuitId) -> StoreFuture<'_, Option<u64>> {
            Box::pin(async { Ok(None) })
        }
    }

    fn stored(blob: &'static str) -> StoredCircuit {
        StoredCircuit {
            blob: Bytes::from_static(blob.as_bytes()),
            claim: [0; 32],
            generation: 1,
        }
    }

    #[tokio::test]
    async fn saves_reach_the_store_in_queue_order_in_batches_and_a_removal_waits_for_them() {
        let store = Arc::new(Recording::default());
        let metrics = crate::metrics::Metrics::new().circuit_store();
        let saver = Saver::new(store.clone(), metrics.clone());
        let (a, b) = (
            CircuitSecret::generate().id(),
            CircuitSecret::generate().id(),
        );
        let span = tracing::Span::none;
        // Queued before the saver task first runs (one thread): the saves before the removal go as one
        // batch, in order; the removal waits for them, and the save after it goes after it.
        let first = saver.save(
            no_owner(),
            a,
            stored("a1"),
            PersistCause::WriteBehind,
            span(),
        );
        let second = saver.save(
            no_owner(),
            a,
            stored("a2"),
            PersistCause::WriteBehind,
            span(),
        );
        let third = saver.save(no_owner(), b, stored("b1"), PersistCause::Shutdown, span());
        saver.remove(a, 1);
        let last = saver.save(no_owner(), b, stored("b2"), PersistCause::Pause, span());
        for receipt in [first, second, third, last] {
            assert_eq!(receipt.await, Ok(true));
        }
        assert_eq!(*store.0.lock(), ["save a1 a2 b1", "remove", "save b2"]);
        assert_eq!(metrics.persisted.get(), 4);
        assert_eq!(metrics.store_latency.count(), 3);
    }
}
