//! A ready circuit handler that keeps the set of connected circuits, for dashboards and metrics.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::handle::CircuitHandle;
use super::handlers::{CircuitHandler, HandlerError};
use super::secret::CircuitId;

/// Tracks which circuits have a browser connected. Register one shared instance and keep an `Arc` to read
/// it: `CircuitHandlers::new().shared_arc(tracker.clone())`.
#[derive(Debug)]
pub struct CircuitTracker {
    connected: Mutex<BTreeMap<CircuitId, CircuitHandle>>,
    count: watch::Sender<usize>,
}

impl Default for CircuitTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self {
            connected: Mutex::new(BTreeMap::new()),
            count: watch::Sender::new(0),
        }
    }

    /// How many circuits have a browser connected.
    pub fn count(&self) -> usize {
        self.connected.lock().len()
    }

    /// The ids of the connected circuits, in id order.
    pub fn circuits(&self) -> Vec<CircuitId> {
        self.connected.lock().keys().copied().collect()
    }

    /// Handles to the connected circuits, in id order.
    pub fn handles(&self) -> Vec<CircuitHandle> {
        self.connected.lock().values().cloned().collect()
    }

    /// A receiver that sees the count change (for live dashboards and tests).
    pub fn watch_count(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    fn update(&self, f: impl FnOnce(&mut BTreeMap<CircuitId, CircuitHandle>)) {
        let mut connected = self.connected.lock();
        f(&mut connected);
        self.count.send_replace(connected.len());
    }
}

impl CircuitHandler for CircuitTracker {
    fn order(&self) -> i32 {
        i32::MIN
    }

    fn on_connection_up(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.update(|c| {
            c.insert(circuit.id(), circuit.clone());
        });
        Ok(())
    }

    fn on_connection_down(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.update(|c| {
            c.remove(&circuit.id());
        });
        Ok(())
    }

    fn on_circuit_closed(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.update(|c| {
            c.remove(&circuit.id());
        });
        Ok(())
    }
}
