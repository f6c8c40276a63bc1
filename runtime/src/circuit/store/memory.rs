//! [`InMemoryCircuitStore`]: persisted circuits in this process's memory, bounded by count and by age
//! (Blazor's defaults: 1,000 circuits, 2 hours). It survives a circuit's eviction, not the process.
//! Claims leave fences (see [the store docs](super)); fences count toward the limit like entries.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::{CircuitStore, ClaimedCircuit, SaveOutcome, StoreFuture, StoredCircuit};
use crate::circuit::secret::CircuitId;

/// Persisted circuits in memory. When more than `max_circuits` are held, the oldest save is dropped;
/// entries older than `retention` are never returned. Cheap operations under one short lock.
#[derive(Debug)]
pub struct InMemoryCircuitStore {
    max_circuits: usize,
    retention: Duration,
    state: Mutex<State>,
}

/// A saved circuit, or the fence a claim leaves (`blob: None`).
#[derive(Debug)]
struct Entry {
    claim: [u8; 32],
    generation: u64,
    blob: Option<Bytes>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<CircuitId, (Entry, Instant, u64)>,
    /// Saves in order: (circuit, save generation). Stale pairs (saved again, claimed, removed) are skipped.
    order: VecDeque<(CircuitId, u64)>,
    next_generation: u64,
}

impl Default for InMemoryCircuitStore {
    fn default() -> Self {
        Self::new(1_000, Duration::from_secs(2 * 60 * 60))
    }
}

impl InMemoryCircuitStore {
    /// A store keeping at most `max_circuits` circuits for at most `retention` each.
    pub fn new(max_circuits: usize, retention: Duration) -> Self {
        Self {
            max_circuits,
            retention,
            state: Mutex::new(State::default()),
        }
    }

    /// Circuits held now, fences not counted (expired ones included until they are pushed out or looked
    /// up).
    pub fn len(&self) -> usize {
        let state = self.state.lock();
        state
            .entries
            .values()
            .filter(|e| e.0.blob.is_some())
            .count()
    }

    /// Whether no circuit is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of every blob held (for measurements).
    pub fn blob_bytes(&self) -> usize {
        let state = self.state.lock();
        let blobs = state.entries.values().filter_map(|e| e.0.blob.as_ref());
        blobs.map(Bytes::len).sum()
    }

    fn save_now(&self, id: CircuitId, circuit: StoredCircuit) -> SaveOutcome {
        let entry = Entry {
            claim: circuit.claim,
            generation: circuit.generation,
            blob: Some(circuit.blob),
        };
        let mut state = self.state.lock();
        if self.newest(&mut state, id) > Some(entry.generation) {
            return SaveOutcome::Fenced;
        }
        self.insert(&mut state, id, entry);
        SaveOutcome::Saved
    }

    /// The generation held for `id`, dropping an expired entry.
    fn newest(&self, state: &mut State, id: CircuitId) -> Option<u64> {
        let (entry, saved_at, _) = state.entries.get(&id)?;
        if saved_at.elapsed() > self.retention {
            state.entries.remove(&id);
            return None;
        }
        Some(entry.generation)
    }

    fn insert(&self, state: &mut State, id: CircuitId, entry: Entry) {
        state.next_generation += 1;
        let generation = state.next_generation;
        state
            .entries
            .insert(id, (entry, Instant::now(), generation));
        state.order.push_back((id, generation));
        while state.entries.len() > self.max_circuits {
            let Some((old, generation)) = state.order.pop_front() else {
                break;
            };
            if state.entries.get(&old).is_some_and(|e| e.2 == generation) {
                state.entries.remove(&old);
                tracing::info!(circuit = %old, "persisted circuit dropped: the in-memory store is full");
            }
        }
        // Keep the order queue from growing with stale pairs when one circuit is saved many times.
        if state.order.len() > 2 * state.entries.len() + 16 {
            let entries = &state.entries;
            state
                .order
                .retain(|(id, g)| entries.get(id).is_some_and(|e| e.2 == *g));
        }
    }

    fn claim_now(&self, id: CircuitId, claim: [u8; 32]) -> Option<ClaimedCircuit> {
        let mut state = self.state.lock();
        self.newest(&mut state, id)?;
        let entry = &mut state.entries.get_mut(&id)?.0;
        if entry.blob.is_none() || !bool::from(entry.claim.ct_eq(&claim)) {
            return None;
        }
        let claimed = ClaimedCircuit {
            blob: entry.blob.take()?,
            generation: entry.generation,
        };
        entry.generation += 1;
        Some(claimed)
    }

    fn remove_now(&self, id: CircuitId, generation: u64) {
        let mut state = self.state.lock();
        if state
            .entries
            .get(&id)
            .is_some_and(|e| e.0.generation <= generation)
        {
            state.entries.remove(&id);
        }
    }
}

impl CircuitStore for InMemoryCircuitStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, SaveOutcome> {
        let outcome = self.save_now(id, circuit);
        Box::pin(async move { Ok(outcome) })
    }

    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>> {
        let claimed = self.claim_now(id, claim);
        Box::pin(async move { Ok(claimed) })
    }

    fn remove(&self, id: CircuitId, generation: u64) -> StoreFuture<'_, ()> {
        self.remove_now(id, generation);
        Box::pin(async { Ok(()) })
    }

    fn generation(&self, id: CircuitId) -> StoreFuture<'_, Option<u64>> {
        let generation = self.newest(&mut self.state.lock(), id);
        Box::pin(async move { Ok(generation) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::CircuitSecret;

    fn entry(claim: u8) -> StoredCircuit {
        at_generation(claim, 1)
    }

    fn at_generation(claim: u8, generation: u64) -> StoredCircuit {
        StoredCircuit {
            blob: Bytes::from_static(b"sealed"),
            claim: [claim; 32],
            generation,
        }
    }

    #[tokio::test]
    async fn a_claim_is_single_use_and_needs_the_right_claim() {
        let store = InMemoryCircuitStore::default();
        let id = CircuitSecret::generate().id();
        store.save(id, entry(1)).await.unwrap();
        assert_eq!(store.claim(id, [2; 32]).await.unwrap(), None);
        let claimed = store.claim(id, [1; 32]).await.unwrap().unwrap();
        assert_eq!((&claimed.blob[..], claimed.generation), (&b"sealed"[..], 1));
        assert_eq!(store.claim(id, [1; 32]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_claim_fences_older_generations_out() {
        let store = InMemoryCircuitStore::default();
        let id = CircuitSecret::generate().id();
        assert_eq!(store.generation(id).await.unwrap(), None);
        store.save(id, at_generation(1, 3)).await.unwrap();
        store.claim(id, [1; 32]).await.unwrap().unwrap();
        assert_eq!(store.generation(id).await.unwrap(), Some(4));
        assert!(store.is_empty(), "a fence is not a circuit");
        // The old holder's late write and removal change nothing; the resumed circuit's write lands.
        let stale = store.save(id, at_generation(1, 3)).await.unwrap();
        assert_eq!(stale, SaveOutcome::Fenced);
        store.remove(id, 3).await.unwrap();
        assert_eq!(store.generation(id).await.unwrap(), Some(4));
        let newer = store.save(id, at_generation(1, 4)).await.unwrap();
        assert_eq!(newer, SaveOutcome::Saved);
        assert_eq!(
            store.claim(id, [1; 32]).await.unwrap().unwrap().generation,
            4
        );
        store.remove(id, 5).await.unwrap();
        assert_eq!(store.generation(id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_oldest_goes_when_full_and_old_entries_expire() {
        let store = InMemoryCircuitStore::new(2, Duration::from_secs(60));
        let ids: Vec<_> = (0..3).map(|_| CircuitSecret::generate().id()).collect();
        for id in &ids {
            store.save(*id, entry(1)).await.unwrap();
        }
        assert_eq!(store.len(), 2);
        assert_eq!(store.claim(ids[0], [1; 32]).await.unwrap(), None);
        let expiring = InMemoryCircuitStore::new(10, Duration::ZERO);
        expiring.save(ids[1], entry(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(expiring.claim(ids[1], [1; 32]).await.unwrap(), None);
        assert_eq!(expiring.generation(ids[1]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn saving_again_replaces_and_keeps_one_entry() {
        let store = InMemoryCircuitStore::new(1, Duration::from_secs(60));
        let id = CircuitSecret::generate().id();
        for _ in 0..100 {
            store.save(id, entry(1)).await.unwrap();
        }
        assert_eq!(store.len(), 1);
        assert!(store.state.lock().order.len() <= 20);
        store.remove(id, 1).await.unwrap();
        assert!(store.is_empty());
    }
}
