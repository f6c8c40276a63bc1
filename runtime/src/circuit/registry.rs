//! The circuit registry: every live circuit by public id, which connection each is attached to, the
//! disconnected circuits waiting for their browser, and the counters.
//!
//! Lifecycle: `connected` ⇄ `disconnected (retained)` → `ended`. A circuit is ended by the browser (beacon),
//! by the application, by a fault, or by eviction: when more than `max_retained_disconnected` circuits are
//! disconnected the oldest goes first, and a circuit disconnected for longer than `retention_period` goes
//! when its time is up (a single sweeper task sleeps until the next deadline).
//!
//! The registry is a map plus an eviction queue: it runs no application code. Circuits drive their own
//! transitions (`lifecycle`) and report them through [`CircuitDirectory`], which the registry implements.
//!
//! Invariants:
//! - Removal from `circuits` is the point of no return: after it, `ConnectCircuit` answers `false`.
//! - Status changes happen under the circuit's lock with the registry lock nested inside, so the status
//!   here always matches the circuit's own `Link`; eviction only removes a circuit whose disconnection
//!   generation is the one it queued.
//! - Evicted circuits are ended (and persisted, with a store) by `Circuit::evict` after the registry lock
//!   is released.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::core::Circuit;
use super::core::CircuitDirectory;
use super::secret::{CircuitId, CircuitSecret};

/// A snapshot of the circuit counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CircuitMetrics {
    /// Circuits that exist now (connected plus disconnected).
    pub active: usize,
    /// Circuits with a browser connected now.
    pub connected: usize,
    /// Circuits retained without a browser now.
    pub disconnected: usize,
    /// Circuits evicted since start-up (by count or by time).
    pub evicted: u64,
    /// `ConnectCircuit` calls answered `false` since start-up.
    pub rejected_reconnects: u64,
    /// Circuits ended since start-up, for any reason.
    pub ended: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Connected,
    Disconnected(u64),
}

struct Entry {
    circuit: Arc<Circuit>,
    status: Status,
}

#[derive(Default)]
struct RegistryState {
    circuits: HashMap<CircuitId, Entry>,
    by_connection: HashMap<Box<str>, Arc<Circuit>>,
    /// Oldest disconnection first: (circuit, disconnection generation, eviction deadline). Entries whose
    /// circuit reconnected or ended are skipped when reached.
    disconnected_queue: VecDeque<(CircuitId, u64, Instant)>,
    connected: usize,
    disconnected: usize,
}

/// The registry. Shared (`Arc`) by the circuit hub; circuits and the sweeper task hold it weakly.
pub(crate) struct CircuitRegistry {
    max_retained_disconnected: usize,
    retention_period: Duration,
    state: Mutex<RegistryState>,
    evicted: AtomicU64,
    rejected_reconnects: AtomicU64,
    ended: AtomicU64,
    sweeper_wake: Arc<Notify>,
}

impl CircuitRegistry {
    /// A registry; spawns its sweeper on the current Tokio runtime.
    pub(crate) fn new(max_retained_disconnected: usize, retention_period: Duration) -> Arc<Self> {
        let registry = Arc::new(Self {
            max_retained_disconnected,
            retention_period,
            state: Mutex::new(RegistryState::default()),
            evicted: AtomicU64::new(0),
            rejected_reconnects: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            sweeper_wake: Arc::new(Notify::new()),
        });
        tokio::spawn(sweep(
            Arc::downgrade(&registry),
            registry.sweeper_wake.clone(),
        ));
        registry
    }

    pub(crate) fn metrics(&self) -> CircuitMetrics {
        let state = self.state.lock();
        CircuitMetrics {
            active: state.circuits.len(),
            connected: state.connected,
            disconnected: state.disconnected,
            evicted: self.evicted.load(Ordering::Relaxed),
            rejected_reconnects: self.rejected_reconnects.load(Ordering::Relaxed),
            ended: self.ended.load(Ordering::Relaxed),
        }
    }

    /// The circuit a connection is attached to.
    pub(crate) fn for_connection(&self, connection_id: &str) -> Option<Arc<Circuit>> {
        self.state.lock().by_connection.get(connection_id).cloned()
    }

    /// A handle to the live circuit `id`.
    pub(crate) fn handle_for(&self, id: CircuitId) -> Option<super::CircuitHandle> {
        let circuit = self.state.lock().circuits.get(&id)?.circuit.clone();
        Some(circuit.handle())
    }

    /// Finds a circuit by secret (constant-time key comparison).
    pub(crate) fn find(&self, secret: &CircuitSecret) -> Option<Arc<Circuit>> {
        let state = self.state.lock();
        let entry = state.circuits.get(&secret.id())?;
        entry
            .circuit
            .key
            .matches(secret.key())
            .then(|| entry.circuit.clone())
    }

    /// Counts a `ConnectCircuit` answered `false`.
    pub(crate) fn count_rejected_reconnect(&self) {
        self.rejected_reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Every live circuit (for a graceful shutdown).
    pub(crate) fn all(&self) -> Vec<Arc<Circuit>> {
        let state = self.state.lock();
        state.circuits.values().map(|e| e.circuit.clone()).collect()
    }
}

impl CircuitDirectory for CircuitRegistry {
    fn opened(&self, circuit: &Arc<Circuit>, connection_id: &str) {
        let mut registry = self.state.lock();
        if let Some(previous) = registry
            .by_connection
            .insert(connection_id.into(), circuit.clone())
        {
            tracing::warn!(previous = %previous.id, "connection started a second circuit; the first loses it");
        }
        registry.circuits.insert(
            circuit.id,
            Entry {
                circuit: circuit.clone(),
                status: Status::Connected,
            },
        );
        registry.connected += 1;
    }

    fn attached(
        &self,
        circuit: &Arc<Circuit>,
        connection_id: &str,
        previous: Option<&str>,
    ) -> bool {
        let mut registry = self.state.lock();
        let registry = &mut *registry;
        let Some(entry) = registry.circuits.get_mut(&circuit.id) else {
            return false;
        };
        if let Status::Disconnected(_) = entry.status {
            registry.disconnected -= 1;
            registry.connected += 1;
        }
        entry.status = Status::Connected;
        registry
            .by_connection
            .insert(connection_id.into(), circuit.clone());
        if let Some(previous) = previous {
            registry.by_connection.remove(previous);
        }
        true
    }

    fn detached(
        &self,
        circuit: &Arc<Circuit>,
        connection_id: &str,
        generation: u64,
    ) -> Vec<Arc<Circuit>> {
        let mut registry = self.state.lock();
        let registry = &mut *registry;
        registry.by_connection.remove(connection_id);
        if let Some(entry) = registry.circuits.get_mut(&circuit.id) {
            entry.status = Status::Disconnected(generation);
            registry.connected -= 1;
            registry.disconnected += 1;
            let deadline = Instant::now() + self.retention_period;
            registry
                .disconnected_queue
                .push_back((circuit.id, generation, deadline));
        }
        let mut victims = Vec::new();
        while registry.disconnected > self.max_retained_disconnected {
            match pop_oldest_disconnected(registry) {
                Some(victim) => victims.push(victim),
                None => break,
            }
        }
        self.sweeper_wake.notify_one();
        victims
    }

    fn forget(&self, circuit: &Circuit, connection_id: Option<&str>, evicted: bool) {
        let mut registry = self.state.lock();
        if let Some(entry) = registry.circuits.remove(&circuit.id) {
            match entry.status {
                Status::Connected => registry.connected -= 1,
                Status::Disconnected(_) => registry.disconnected -= 1,
            }
        }
        if let Some(connection_id) = connection_id {
            if registry
                .by_connection
                .get(connection_id)
                .is_some_and(|c| c.id == circuit.id)
            {
                registry.by_connection.remove(connection_id);
            }
        }
        if registry.circuits.is_empty() {
            registry.disconnected_queue.clear();
        }
        drop(registry);
        self.ended.fetch_add(1, Ordering::Relaxed);
        if evicted {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for CircuitRegistry {
    fn drop(&mut self) {
        // Wake the sweeper so that it sees the registry gone and ends.
        self.sweeper_wake.notify_one();
    }
}

/// Takes the oldest circuit that is still disconnected with the queued generation out of `circuits`
/// (the point of no return) and returns it for ending.
fn pop_oldest_disconnected(registry: &mut RegistryState) -> Option<Arc<Circuit>> {
    while let Some((id, generation, _)) = registry.disconnected_queue.pop_front() {
        let current = registry.circuits.get(&id).map(|e| e.status);
        if current == Some(Status::Disconnected(generation)) {
            let entry = registry.circuits.remove(&id).expect("just looked up");
            registry.disconnected -= 1;
            return Some(entry.circuit);
        }
    }
    None
}

/// Evicts disconnected circuits whose retention ran out; sleeps until the next deadline. Ends when the
/// registry is dropped.
async fn sweep(registry: Weak<CircuitRegistry>, wake: Arc<Notify>) {
    loop {
        let Some(strong) = registry.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut victims = Vec::new();
        let next_deadline = {
            let mut guard = strong.state.lock();
            let state = &mut *guard;
            loop {
                match state.disconnected_queue.front().copied() {
                    Some((id, generation, deadline)) if deadline <= now => {
                        state.disconnected_queue.pop_front();
                        if state.circuits.get(&id).map(|e| e.status)
                            == Some(Status::Disconnected(generation))
                        {
                            let entry = state.circuits.remove(&id).expect("just looked up");
                            state.disconnected -= 1;
                            victims.push(entry.circuit);
                        }
                    }
                    Some((_, _, deadline)) => break Some(deadline),
                    None => break None,
                }
            }
        };
        drop(strong);
        for victim in victims.drain(..) {
            victim.evict();
        }
        let woken = wake.notified();
        match next_deadline {
            Some(deadline) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = woken => {}
                }
            }
            None => woken.await,
        }
    }
}
