//! A ready circuit handler that notices circuits with no inbound activity for a while.
//!
//! One shared instance watches every circuit: each inbound message (event, ack, call, navigation, start,
//! reconnect) records the time; one task sleeps until the earliest circuit could become idle. A circuit is
//! reported once per idle period: it is reported again only after new activity and another full timeout.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::handle::CircuitHandle;
use super::handlers::{CircuitHandler, HandlerError, InboundActivity, Next};
use super::secret::CircuitId;

/// Options of [`IdleCircuitHandler`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IdleOptions {
    /// How long without inbound activity makes a circuit idle. Default 5 minutes.
    pub timeout: Duration,
    /// Whether to end idle circuits (after notifying). Default off.
    pub close_idle: bool,
}

impl Default for IdleOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            close_idle: false,
        }
    }
}

impl IdleOptions {
    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets whether idle circuits are ended.
    pub fn close_idle(mut self, close: bool) -> Self {
        self.close_idle = close;
        self
    }
}

type IdleCallback = Box<dyn Fn(&CircuitHandle) + Send + Sync>;

struct Watched {
    handle: CircuitHandle,
    last_activity: Instant,
    reported: bool,
}

struct IdleState {
    options: IdleOptions,
    on_idle: IdleCallback,
    circuits: Mutex<HashMap<CircuitId, Watched>>,
    wake: Arc<Notify>,
}

/// Reports circuits idle for `timeout`: logs the circuit id, calls the application's callback, and ends the
/// circuit when `close_idle` is set. Register one shared instance.
pub struct IdleCircuitHandler {
    state: Arc<IdleState>,
    watcher_started: std::sync::Once,
}

impl fmt::Debug for IdleCircuitHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleCircuitHandler")
            .field("options", &self.state.options)
            .finish()
    }
}

impl IdleCircuitHandler {
    /// A handler with `options` that calls `on_idle` for each circuit that becomes idle.
    pub fn new(
        options: IdleOptions,
        on_idle: impl Fn(&CircuitHandle) + Send + Sync + 'static,
    ) -> Self {
        Self {
            state: Arc::new(IdleState {
                options,
                on_idle: Box::new(on_idle),
                circuits: Mutex::new(HashMap::new()),
                wake: Arc::new(Notify::new()),
            }),
            watcher_started: std::sync::Once::new(),
        }
    }

    fn touch(&self, circuit: &CircuitHandle) {
        let mut circuits = self.state.circuits.lock();
        if let Some(watched) = circuits.get_mut(&circuit.id()) {
            watched.last_activity = Instant::now();
            if std::mem::take(&mut watched.reported) {
                // The watcher may be sleeping with nothing to wait for; give it this circuit's new deadline.
                self.state.wake.notify_one();
            }
        }
    }
}

impl Drop for IdleCircuitHandler {
    fn drop(&mut self) {
        // Wake the watcher so that it sees the handler gone and ends.
        self.state.wake.notify_one();
    }
}

impl CircuitHandler for IdleCircuitHandler {
    fn order(&self) -> i32 {
        i32::MIN + 1
    }

    fn on_circuit_opened(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.watcher_started.call_once(|| {
            tokio::spawn(watch(Arc::downgrade(&self.state), self.state.wake.clone()));
        });
        let watched = Watched {
            handle: circuit.clone(),
            last_activity: Instant::now(),
            reported: false,
        };
        self.state.circuits.lock().insert(circuit.id(), watched);
        self.state.wake.notify_one();
        Ok(())
    }

    fn on_circuit_closed(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.state.circuits.lock().remove(&circuit.id());
        Ok(())
    }

    fn on_inbound(
        &self,
        circuit: &CircuitHandle,
        _activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        self.touch(circuit);
        next.run()
    }
}

async fn watch(state: Weak<IdleState>, wake: Arc<Notify>) {
    loop {
        let Some(state) = state.upgrade() else { return };
        let timeout = state.options.timeout;
        let now = Instant::now();
        let mut idle = Vec::new();
        let mut next_check: Option<Instant> = None;
        for watched in state.circuits.lock().values_mut() {
            if watched.reported {
                continue;
            }
            let due = watched.last_activity + timeout;
            if due <= now {
                watched.reported = true;
                idle.push(watched.handle.clone());
            } else {
                next_check = Some(next_check.map_or(due, |at| at.min(due)));
            }
        }
        for handle in idle {
            tracing::info!(circuit = %handle.id(), timeout_ms = timeout.as_millis() as u64, "circuit is idle");
            (state.on_idle)(&handle);
            if state.options.close_idle {
                handle.close();
            }
        }
        drop(state);
        let woken = wake.notified();
        match next_check {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = woken => {}
                }
            }
            None => woken.await,
        }
    }
}
