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
//! The two tasks start on first use (inside the runtime the circuits run on) and end when the hub's
//! persistence is dropped.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::core::{Circuit, Link};
use super::persist::PersistCause;
use super::secret::CircuitId;
use super::store::{CircuitStore, StoredCircuit};

/// The most saves handed to the store at once.
const MAX_BATCH: usize = 512;

/// Answers whether the store took a queued save (`Err` when the saver is gone: not saved).
pub(crate) type SaveReceipt = oneshot::Receiver<bool>;

/// Work for the store, in queue order.
enum Job {
    Save(Save),
    /// The circuit ended for good: its entry leaves the store.
    Remove(CircuitId),
}

/// One queued save.
struct Save {
    id: CircuitId,
    circuit: StoredCircuit,
    cause: PersistCause,
    span: tracing::Span,
    done: oneshot::Sender<bool>,
}

/// A hub's queue of saves and its write-behind list (see the module docs).
pub(crate) struct Saver {
    store: Arc<dyn CircuitStore>,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
    /// Circuits changed since the last write-behind pass.
    dirty: Arc<Mutex<Vec<Weak<Circuit>>>>,
    timer: OnceLock<()>,
}

impl Saver {
    pub(crate) fn new(store: Arc<dyn CircuitStore>) -> Self {
        Saver {
            store,
            queue: OnceLock::new(),
            dirty: Arc::default(),
            timer: OnceLock::new(),
        }
    }

    /// Queues a sealed circuit behind every save queued before it.
    pub(crate) fn save(
        &self,
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
            done,
        }));
        receipt
    }

    /// Queues the removal of circuit `id` from the store, behind its queued saves.
    pub(crate) fn remove(&self, id: CircuitId) {
        let _ = self.queue().send(Job::Remove(id));
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Job> {
        self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(run_saves(self.store.clone(), jobs));
            queue
        })
    }

    /// Lists `circuit` for the next write-behind pass, every `interval`.
    pub(crate) fn write_behind(&self, circuit: Weak<Circuit>, interval: Duration) {
        self.dirty.lock().push(circuit);
        self.timer.get_or_init(|| {
            tokio::spawn(run_write_behind(Arc::downgrade(&self.dirty), interval));
        });
    }
}

/// Hands queued work to the store, a batch at a time, until the saver is dropped.
async fn run_saves(store: Arc<dyn CircuitStore>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let (mut batch, mut saves) = (Vec::with_capacity(MAX_BATCH), Vec::new());
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for job in batch.drain(..) {
            match job {
                Job::Save(save) => saves.push(save),
                Job::Remove(id) => {
                    // The saves queued before it land first, so none of them brings the entry back.
                    flush(&*store, &mut saves).await;
                    if let Err(error) = store.remove(id).await {
                        tracing::warn!(circuit = %id, %error, "could not remove an ended circuit from the store");
                    }
                }
            }
        }
        flush(&*store, &mut saves).await;
    }
}

async fn flush(store: &dyn CircuitStore, saves: &mut Vec<Save>) {
    if saves.is_empty() {
        return;
    }
    let entries = saves
        .iter()
        .map(|save| (save.id, save.circuit.clone()))
        .collect();
    let outcome = store.save_many(entries).await;
    for save in saves.drain(..) {
        let bytes = save.circuit.blob.len();
        let saved = match &outcome {
            Ok(()) if save.cause == PersistCause::WriteBehind => {
                tracing::debug!(parent: &save.span, bytes, "circuit persisted (write-behind)");
                true
            }
            Ok(()) => {
                tracing::info!(parent: &save.span, cause = ?save.cause, bytes, "circuit persisted");
                true
            }
            Err(error) => {
                tracing::warn!(parent: &save.span, cause = ?save.cause, %error, "persisting the circuit failed");
                false
            }
        };
        let _ = save.done.send(saved);
    }
}

/// Every `interval`, persists the circuits listed since the last pass, until the saver is dropped.
async fn run_write_behind(dirty: Weak<Mutex<Vec<Weak<Circuit>>>>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut listed = Vec::new();
    loop {
        ticks.tick().await;
        let Some(dirty) = dirty.upgrade() else {
            return;
        };
        std::mem::swap(&mut *dirty.lock(), &mut listed);
        drop(dirty);
        for circuit in listed.drain(..).filter_map(|c| c.upgrade()) {
            let _entered = circuit.span.enter();
            let mut state = circuit.state.lock();
            state.write_behind_pending = false;
            if !matches!(state.link, Link::Ended) {
                circuit.persist_locked(&mut state, PersistCause::WriteBehind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::store::{StoreError, StoreFuture};
    use crate::circuit::CircuitSecret;
    use bytes::Bytes;

    /// Records what reaches it, in order.
    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>);

    impl CircuitStore for Recording {
        fn save(&self, _: CircuitId, _: StoredCircuit) -> StoreFuture<'_, ()> {
            unreachable!("the saver hands saves over in batches")
        }

        fn save_many(&self, circuits: Vec<(CircuitId, StoredCircuit)>) -> StoreFuture<'_, ()> {
            Box::pin(async move {
                let blobs: Vec<_> = circuits
                    .iter()
                    .map(|(_, c)| String::from_utf8_lossy(&c.blob).into_owned())
                    .collect();
                self.0.lock().push(format!("save {}", blobs.join(" ")));
                Ok(())
            })
        }

        fn claim(&self, _: CircuitId, _: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
            Box::pin(async { Err(StoreError::new("not used")) })
        }

        fn remove(&self, _: CircuitId) -> StoreFuture<'_, ()> {
            Box::pin(async move {
                self.0.lock().push("remove".into());
                Ok(())
            })
        }
    }

    fn stored(blob: &'static str) -> StoredCircuit {
        StoredCircuit {
            blob: Bytes::from_static(blob.as_bytes()),
            claim: [0; 32],
        }
    }

    #[tokio::test]
    async fn saves_reach_the_store_in_queue_order_in_batches_and_a_removal_waits_for_them() {
        let store = Arc::new(Recording::default());
        let saver = Saver::new(store.clone());
        let (a, b) = (
            CircuitSecret::generate().id(),
            CircuitSecret::generate().id(),
        );
        let span = tracing::Span::none;
        // Queued before the saver task first runs (one thread): the saves before the removal go as one
        // batch, in order; the removal waits for them, and the save after it goes after it.
        let first = saver.save(a, stored("a1"), PersistCause::WriteBehind, span());
        let second = saver.save(a, stored("a2"), PersistCause::WriteBehind, span());
        let third = saver.save(b, stored("b1"), PersistCause::Shutdown, span());
        saver.remove(a);
        let last = saver.save(b, stored("b2"), PersistCause::Pause, span());
        for receipt in [first, second, third, last] {
            assert_eq!(receipt.await, Ok(true));
        }
        assert_eq!(*store.0.lock(), ["save a1 a2 b1", "remove", "save b2"]);
    }
}
