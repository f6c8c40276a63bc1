//! Where persisted circuits wait to be resumed: the [`CircuitStore`] trait and the in-memory default
//! ([`InMemoryCircuitStore`]).
//!
//! A store keeps opaque, already sealed blobs (authenticated and encrypted by the circuit before they get
//! here) under the circuit's public id, next to a *claim*: the SHA-256 of the circuit's secret key. Knowing
//! the public id alone (it is in logs) therefore neither opens a blob nor lets anyone delete it.
//!
//! Invariants every implementation keeps:
//! - [`claim`](CircuitStore::claim) is atomic and single-use: of two concurrent claims of one circuit with the
//!   right claim, at most one gets the blob, and after it the entry is gone. A claim that does not match
//!   leaves the entry in place.
//! - [`save`](CircuitStore::save) replaces any earlier entry of the same circuit (a later persist wins).
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
}

impl fmt::Debug for StoredCircuit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCircuit")
            .field("blob_bytes", &self.blob.len())
            .finish_non_exhaustive()
    }
}

/// Keeps persisted circuits until they are resumed or expire. Implementations: [`InMemoryCircuitStore`]
/// (one process, the default) and, behind the `redis` feature, a Redis store shared by several servers.
///
/// See the module docs for the invariants an implementation must keep.
pub trait CircuitStore: Send + Sync + 'static {
    /// Saves circuit `id`, replacing an earlier entry.
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()>;

    /// Atomically takes circuit `id` out of the store when `claim` matches its entry's claim: `Some(blob)`
    /// once, `None` when there is no (unexpired) entry or the claim does not match (the entry then stays).
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>>;

    /// Removes circuit `id` (it ended for good). Removing a missing entry is not an error.
    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()>;

    /// Saves several circuits in this order, each as [`save`](Self::save) would (a later entry of one
    /// circuit wins). The runtime hands every save through here in batches; a store that can write them in
    /// one round trip (Redis: one pipeline) should. The default saves them one after another.
    fn save_many(&self, circuits: Vec<(CircuitId, StoredCircuit)>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            for (id, circuit) in circuits {
                self.save(id, circuit).await?;
            }
            Ok(())
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
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()> {
        (**self).save(id, circuit)
    }

    fn save_many(&self, circuits: Vec<(CircuitId, StoredCircuit)>) -> StoreFuture<'_, ()> {
        (**self).save_many(circuits)
    }

    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
        (**self).claim(id, claim)
    }

    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()> {
        (**self).remove(id)
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
