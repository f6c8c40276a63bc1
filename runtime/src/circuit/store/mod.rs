//! Where persisted circuits wait to be resumed: the [`CircuitStore`] trait and the in-memory default
//! ([`InMemoryCircuitStore`]).
//!
//! A store keeps opaque, already sealed blobs (authenticated and encrypted by the circuit before they get
//! here) under the circuit's public id, next to a *claim*: the SHA-256 of the circuit's secret key. Knowing
//! the public id alone (it is in logs) therefore neither opens a blob nor lets anyone delete it.
//!
//! Fencing: every entry carries a *generation*. A circuit started fresh is generation 1; a circuit resumed
//! from an entry of generation `g` is generation `g + 1`. When a server crashes and another resumes the
//! circuit, the first may still hold a stale copy (a network cut rather than a crash); the generation stops
//! that copy from overwriting the newer state, and tells its server to end it.
//!
//! Invariants every implementation keeps:
//! - [`claim`](CircuitStore::claim) is atomic and single-use: of two concurrent claims of one circuit with the
//!   right claim, at most one gets the blob. The winner's entry is replaced by a *fence* (no blob) at the
//!   next generation, so a second claim finds nothing and a stale save is refused. A claim that does not
//!   match leaves the entry in place.
//! - [`save`](CircuitStore::save) replaces an earlier entry of the same circuit unless that entry (or fence)
//!   has a higher generation: then nothing changes and the answer is [`SaveOutcome::Fenced`]. The check and
//!   the write are one atomic step.
//! - [`remove`](CircuitStore::remove) removes only an entry of the given generation or older.
//! - Entries expire after the store's retention period; an expired entry is never returned.
//! - A store failure is an `Err`, never a panic or a hang: callers log it and go on without persistence.

mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use super::secret::CircuitId;

pub use self::memory::InMemoryCircuitStore;

/// The future a [`CircuitStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One persisted circuit as a store holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCircuit {
    /// The sealed state (opaque to the store).
    pub blob: Bytes,
    /// SHA-256 of the circuit's secret key: [`CircuitStore::claim`] hands the blob only to a caller who
    /// presents the same value.
    pub claim: [u8; 32],
    /// The circuit's generation (see the module docs on fencing).
    pub generation: u64,
}

/// What a [`CircuitStore::save`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The entry is stored.
    Saved,
    /// The store holds a newer generation of this circuit (it was resumed elsewhere): nothing was written.
    Fenced,
}

/// A circuit taken out of the store by [`CircuitStore::claim`].
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedCircuit {
    /// The sealed state.
    pub blob: Bytes,
    /// The generation it was saved with; the resumed circuit is the next one.
    pub generation: u64,
}

impl fmt::Debug for ClaimedCircuit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedCircuit")
            .field("blob_bytes", &self.blob.len())
            .field("generation", &self.generation)
            .finish()
    }
}

impl fmt::Debug for StoredCircuit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCircuit")
            .field("blob_bytes", &self.blob.len())
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Keeps persisted circuits until they are resumed or expire. Implementations: [`InMemoryCircuitStore`]
/// (one process, the default) and, behind the `redis` feature, a Redis store shared by several servers.
///
/// See the module docs for the invariants an implementation must keep.
pub trait CircuitStore: Send + Sync + 'static {
    /// Saves circuit `id`, replacing an earlier entry unless the store holds a newer generation.
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, SaveOutcome>;

    /// Atomically takes circuit `id` out of the store when `claim` matches its entry's claim, leaving a
    /// fence at the next generation: `Some` once, `None` when there is no (unexpired) entry with a blob or
    /// the claim does not match (the entry then stays).
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>>;

    /// Removes circuit `id` (it ended for good) when its entry is of `generation` or older. Removing a
    /// missing entry is not an error.
    fn remove(&self, id: CircuitId, generation: u64) -> StoreFuture<'_, ()>;

    /// The newest generation the store knows of circuit `id` (entry or fence), `None` when it has none.
    /// A server asks before letting a browser reconnect to a circuit it holds, when the store is shared
    /// (write-behind on): a higher generation means the circuit was resumed elsewhere.
    fn generation(&self, id: CircuitId) -> StoreFuture<'_, Option<u64>>;

    /// Saves several circuits in this order, each as [`save`](Self::save) would (a later entry of one
    /// circuit wins, fencing applies to each), answering one outcome per entry in the same order. The
    /// runtime hands every save through here in batches; a store that can write them in one round trip
    /// (Redis: one pipeline) should. The default saves them one after another.
    fn save_many(
        &self,
        circuits: Vec<(CircuitId, StoredCircuit)>,
    ) -> StoreFuture<'_, Vec<SaveOutcome>> {
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(circuits.len());
            for (id, circuit) in circuits {
                outcomes.push(self.save(id, circuit).await?);
            }
            Ok(outcomes)
        })
    }

    /// Write-behind: when `Some(interval)`, live circuits are also persisted shortly after they change, at
    /// most once per `interval` each, so that losing the process loses at most that much. `None` (the
    /// default, and the in-memory store's answer, since it dies with the process anyway) persists only on
    /// eviction, graceful shutdown and pause.
    fn write_behind(&self) -> Option<Duration> {
        None
    }
}

/// A shared store (several hubs in one process, or a store the application also keeps to inspect).
impl<S: CircuitStore + ?Sized> CircuitStore for std::sync::Arc<S> {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, SaveOutcome> {
        (**self).save(id, circuit)
    }

    fn save_many(
        &self,
        circuits: Vec<(CircuitId, StoredCircuit)>,
    ) -> StoreFuture<'_, Vec<SaveOutcome>> {
        (**self).save_many(circuits)
    }

    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>> {
        (**self).claim(id, claim)
    }

    fn remove(&self, id: CircuitId, generation: u64) -> StoreFuture<'_, ()> {
        (**self).remove(id, generation)
    }

    fn generation(&self, id: CircuitId) -> StoreFuture<'_, Option<u64>> {
        (**self).generation(id)
    }

    fn write_behind(&self) -> Option<Duration> {
        (**self).write_behind()
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error with a message for the log (for example "redis: connection refused").
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit store: {}", self.message)
    }
}

impl std::error::Error for StoreError {}
