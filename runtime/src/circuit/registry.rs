//! The circuit registry: every live circuit by public id, which connection each is attached to, the
//! disconnected circuits waiting for their browser, and the counters.
//!
//! Lifecycle: `connected` ⇄ `disconnected (retained)` → `ended`. A circuit is ended by the browser (beacon),
//! by the application, by a fault, or by eviction: when more than `max_retained_disconnected` circuits are
//! disconnected the oldest goes first, and a circuit disconnected for longer than `retention_period` goes
//! when its time is up (a single sweeper task sleeps until the next deadline).
//!
//! Invariants:
//! - Removal from `circuits` is the point of no return: after it, `ConnectCircuit` answers `false`.
//! - Status changes happen under the circuit's lock with the registry lock nested inside, so the status
//!   here always matches the circuit's own `Link`; eviction only removes a circuit whose disconnection
//!   generation is the one it queued.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::core::{
    catch_handler, panic_text, BrowserCallError, Circuit, CircuitApp, CircuitSink, EndReason, Link,
    ServerFunction,
};
use super::handlers::{CircuitHandlers, InboundActivity, Lifetime};
use super::options::CircuitOptions;
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

/// Why a circuit could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartFailure {
    /// The application (root component creation or first render) failed.
    App(String),
    /// A circuit handler failed in opened / connection up / the start middleware.
    Handler(String),
}

/// The registry. Shared (`Arc`) by the circuit hub, every circuit, and the sweeper task (weakly).
pub(crate) struct CircuitRegistry {
    pub(crate) options: CircuitOptions,
    pub(crate) handlers: CircuitHandlers,
    pub(crate) server_functions: HashMap<String, ServerFunction>,
    state: Mutex<RegistryState>,
    evicted: AtomicU64,
    rejected_reconnects: AtomicU64,
    ended: AtomicU64,
    sweeper_wake: Arc<Notify>,
}

impl CircuitRegistry {
    /// A registry; spawns its sweeper on the current Tokio runtime.
    pub(crate) fn new(
        options: CircuitOptions,
        handlers: CircuitHandlers,
        server_functions: HashMap<String, ServerFunction>,
    ) -> Arc<Self> {
        let registry = Arc::new(Self {
            options,
            handlers,
            server_functions,
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

    /// Creates a circuit attached to `sink`, runs opened, connection up and the start middleware around
    /// `make_app`, and renders the first batch.
    pub(crate) fn start(
        self: &Arc<Self>,
        sink: Arc<dyn CircuitSink>,
        make_app: impl FnOnce(&super::CircuitHandle) -> Result<Box<dyn CircuitApp>, String>,
    ) -> Result<(CircuitSecret, Arc<Circuit>), StartFailure> {
        let secret = CircuitSecret::generate();
        let connection: Box<str> = sink.connection_id().into();
        let circuit = Arc::new(Circuit::new(
            secret.id(),
            secret.key().clone(),
            self.clone(),
            sink,
        ));
        let _entered = circuit.span.enter();
        let mut state = circuit.state.lock();
        {
            let mut registry = self.state.lock();
            if let Some(previous) = registry.by_connection.insert(connection, circuit.clone()) {
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
        let handle = circuit.handle();
        state.chain = self.handlers.chain_for(&handle);
        let mut failure = None;
        let mut make_app = Some(make_app);
        let alive = circuit.run_step(&mut state, |_, state| {
            let chain = std::mem::take(&mut state.chain);
            let mut result = catch_handler(|| chain.lifetime(&handle, Lifetime::Opened))
                .and_then(|()| catch_handler(|| chain.lifetime(&handle, Lifetime::ConnectionUp)));
            if result.is_ok() {
                result = catch_handler(|| {
                    chain.inbound(&handle, &InboundActivity::Start, &mut || {
                        let make_app = make_app.take().expect("the start step runs once");
                        let made = catch_unwind(AssertUnwindSafe(|| make_app(&handle)));
                        let made = made.unwrap_or_else(|payload| {
                            Err(format!("panic: {}", panic_text(payload.as_ref())))
                        });
                        let app = made.map_err(|reason| {
                            failure = Some(StartFailure::App(reason.clone()));
                            super::HandlerError::new(reason)
                        })?;
                        state.app = Some(app);
                        Ok(())
                    })
                });
            }
            state.chain = chain;
            result.map_err(|e| {
                match failure.get_or_insert_with(|| StartFailure::Handler(e.to_string())) {
                    StartFailure::App(reason) => {
                        format!("starting the root components failed: {reason}")
                    }
                    StartFailure::Handler(reason) => {
                        format!("circuit handler error at start: {reason}")
                    }
                }
            })
        });
        if !alive {
            return Err(failure
                .unwrap_or_else(|| StartFailure::App("the circuit ended while starting".into())));
        }
        if !circuit.pump_locked(&mut state) {
            return Err(StartFailure::App("the first render failed".into()));
        }
        state.starting = false;
        drop(state);
        Ok((secret, circuit.clone()))
    }

    /// `ConnectCircuit`: attaches `sink` to the circuit named by `secret`, taking it over from another
    /// connection if needed, and re-sends every unacknowledged batch. `false` when the circuit is gone.
    pub(crate) fn connect(
        self: &Arc<Self>,
        secret: &CircuitSecret,
        sink: Arc<dyn CircuitSink>,
    ) -> bool {
        let Some(circuit) = self.find(secret) else {
            self.rejected_reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(circuit = %secret.id(), "reconnect rejected: no such circuit (evicted, ended or never existed)");
            return false;
        };
        let _entered = circuit.span.enter();
        let mut state = circuit.state.lock();
        let previous = {
            let mut registry = self.state.lock();
            let registry = &mut *registry;
            let Some(entry) = registry.circuits.get_mut(&circuit.id) else {
                drop(state);
                self.rejected_reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::info!("reconnect rejected: the circuit was evicted meanwhile");
                return false;
            };
            if let Status::Disconnected(_) = entry.status {
                registry.disconnected -= 1;
                registry.connected += 1;
            }
            entry.status = Status::Connected;
            registry
                .by_connection
                .insert(sink.connection_id().into(), circuit.clone());
            let previous = circuit.set_link(&mut state, Link::Connected(sink));
            if let Link::Connected(old) = &previous {
                registry.by_connection.remove(old.connection_id());
            }
            previous
        };
        let handle = circuit.handle();
        let alive = circuit.run_step(&mut state, |circuit, state| {
            let chain = std::mem::take(&mut state.chain);
            let mut result = Ok(());
            if let Link::Connected(old) = previous {
                tracing::info!(
                    old = old.connection_id(),
                    "circuit taken over by a new connection"
                );
                Circuit::fail_pending_calls(state, BrowserCallError::Disconnected);
                old.close();
                result = catch_handler(|| chain.lifetime(&handle, Lifetime::ConnectionDown));
            }
            let result = result.and_then(|()| {
                catch_handler(|| {
                    chain.inbound(&handle, &InboundActivity::Connect, &mut || {
                        catch_handler(|| chain.lifetime(&handle, Lifetime::ConnectionUp))
                    })
                })
            });
            state.chain = chain;
            circuit.resend_unacknowledged_locked(state);
            result.map_err(|e| format!("circuit handler error at reconnect: {e}"))
        });
        alive && circuit.pump_locked(&mut state)
    }

    /// The hub connection `connection_id` closed: its circuit (if it still owns it) becomes disconnected
    /// and retained; the oldest retained circuits beyond the limit are evicted.
    pub(crate) fn connection_closed(self: &Arc<Self>, connection_id: &str) {
        let Some(circuit) = self.state.lock().by_connection.remove(connection_id) else {
            return;
        };
        let _entered = circuit.span.enter();
        let mut state = circuit.state.lock();
        let owns =
            matches!(&state.link, Link::Connected(sink) if sink.connection_id() == connection_id);
        if !owns {
            return;
        }
        circuit.set_link(&mut state, Link::Disconnected);
        state.disconnections += 1;
        let generation = state.disconnections;
        let victims = {
            let mut registry = self.state.lock();
            let registry = &mut *registry;
            if let Some(entry) = registry.circuits.get_mut(&circuit.id) {
                entry.status = Status::Disconnected(generation);
                registry.connected -= 1;
                registry.disconnected += 1;
                let deadline = Instant::now() + self.options.retention_period;
                registry
                    .disconnected_queue
                    .push_back((circuit.id, generation, deadline));
            }
            let mut victims = Vec::new();
            while registry.disconnected > self.options.max_retained_disconnected {
                match pop_oldest_disconnected(registry) {
                    Some(victim) => victims.push(victim),
                    None => break,
                }
            }
            victims
        };
        self.sweeper_wake.notify_one();
        tracing::info!("connection down; circuit retained");
        Circuit::fail_pending_calls(&mut state, BrowserCallError::Disconnected);
        let handle = circuit.handle();
        circuit.run_step(&mut state, |_, state| {
            catch_handler(|| state.chain.lifetime(&handle, Lifetime::ConnectionDown))
                .map_err(|e| format!("circuit handler error at connection down: {e}"))
        });
        drop(state);
        drop(_entered);
        for victim in victims {
            finish_eviction(&victim);
        }
    }

    /// Ends the circuit named by `secret` at once (the disconnect beacon). `false` when there is none.
    pub(crate) fn end_by_secret(&self, secret: &CircuitSecret) -> bool {
        let Some(circuit) = self.find(secret) else {
            return false;
        };
        let _entered = circuit.span.enter();
        let mut state = circuit.state.lock();
        circuit.end_locked(
            &mut state,
            EndReason::Closed("the browser sent the disconnect beacon"),
        );
        true
    }

    /// Removes an ending circuit from the maps (called from `Circuit::end_locked`, under its lock).
    pub(crate) fn forget(&self, circuit: &Circuit, connection_id: Option<&str>, evicted: bool) {
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

fn finish_eviction(circuit: &Arc<Circuit>) {
    let _entered = circuit.span.enter();
    let mut state = circuit.state.lock();
    circuit.end_locked(&mut state, EndReason::Evicted);
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
            finish_eviction(&victim);
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
