//! [`CircuitHandle`]: what handlers and application code hold to act on a circuit, and
//! [`BrowserCallError`].
//!
//! A handle reaches its circuit through the [`CircuitControl`] trait, which the circuit implements, so
//! this module (and the handler chain that passes handles around) sits below the circuit and depends on
//! nothing of it. A handle holds the circuit weakly: holding one never keeps a circuit alive.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::secret::CircuitId;

/// Why a browser call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserCallError {
    /// No browser is connected to the circuit right now.
    Disconnected,
    /// No answer within the browser-call timeout.
    TimedOut(Duration),
    /// The browser function threw; the message is the browser's.
    Failed(String),
    /// The circuit ended before the answer came.
    CircuitEnded,
}

impl fmt::Display for BrowserCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnected => f.write_str("no browser is connected to the circuit"),
            Self::TimedOut(after) => write!(
                f,
                "the browser did not answer within {} ms (CircuitOptions::browser_call_timeout)",
                after.as_millis()
            ),
            Self::Failed(message) => write!(f, "the browser function failed: {message}"),
            Self::CircuitEnded => f.write_str("the circuit ended before the browser answered"),
        }
    }
}

impl std::error::Error for BrowserCallError {}

/// The answer to a browser call, when it comes.
pub(crate) type CallAnswer = oneshot::Receiver<Result<Value, BrowserCallError>>;

/// What a handle may ask of its circuit. Implemented by the circuit; every method is safe to call from
/// inside the circuit's own callbacks (where its lock is held): such work is deferred, never deadlocked.
pub(crate) trait CircuitControl: Send + Sync + 'static {
    fn is_alive(&self) -> bool;
    fn is_connected(&self) -> bool;
    fn close(self: Arc<Self>);
    /// Sends `InvokeJS`; returns the call id, the answer and the timeout to wait for it.
    fn begin_browser_call(
        &self,
        identifier: &str,
        args: &[Value],
    ) -> Result<(u64, CallAnswer, Duration), BrowserCallError>;
    /// Forgets a call that timed out.
    fn abandon_browser_call(&self, call_id: u64);
    fn disconnect_transport(self: Arc<Self>) -> bool;
    fn navigate(self: Arc<Self>, uri: &str, replace: bool) -> bool;
    fn schedule_render(self: Arc<Self>);
    fn render(self: Arc<Self>) -> bool;
    /// Asks the circuit to persist itself and end, as a browser pause does (see docs/persistence.md).
    fn pause(self: Arc<Self>) -> bool;
    /// The circuit's uploads in progress.
    fn uploads(&self) -> Arc<crate::upload::UploadTransfers>;
}

/// A reference to a circuit for handlers and application code: its public id, and ways to act on it.
/// Holding one does not keep the circuit alive.
#[derive(Clone)]
pub struct CircuitHandle {
    id: CircuitId,
    circuit: Weak<dyn CircuitControl>,
}

impl fmt::Debug for CircuitHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitHandle")
            .field("id", &self.id)
            .finish()
    }
}

impl CircuitHandle {
    pub(crate) fn new(id: CircuitId, circuit: Weak<dyn CircuitControl>) -> Self {
        Self { id, circuit }
    }

    /// The circuit's public id (safe to log).
    pub fn id(&self) -> CircuitId {
        self.id
    }

    /// Whether the circuit still exists (connected or retained). Never blocks.
    pub fn is_alive(&self) -> bool {
        self.circuit.upgrade().is_some_and(|c| c.is_alive())
    }

    /// Whether a browser is connected right now. Never blocks.
    pub fn is_connected(&self) -> bool {
        self.circuit.upgrade().is_some_and(|c| c.is_connected())
    }

    /// Ends the circuit (the browser is told not to reconnect). When called while the circuit is busy (for
    /// example from inside one of its own handlers) the close happens right after the current message.
    pub fn close(&self) {
        if let Some(circuit) = self.circuit.upgrade() {
            circuit.close();
        }
    }

    /// Calls browser function `identifier` (a dotted path from `window`, or a registered function) with
    /// `args`, and waits for its result up to the browser-call timeout.
    pub async fn call_browser(
        &self,
        identifier: &str,
        args: Vec<Value>,
    ) -> Result<Value, BrowserCallError> {
        let (call_id, answer, timeout) = {
            let circuit = self
                .circuit
                .upgrade()
                .ok_or(BrowserCallError::CircuitEnded)?;
            circuit.begin_browser_call(identifier, &args)?
        };
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(BrowserCallError::CircuitEnded),
            Err(_) => {
                if let Some(circuit) = self.circuit.upgrade() {
                    circuit.abandon_browser_call(call_id);
                }
                Err(BrowserCallError::TimedOut(timeout))
            }
        }
    }

    /// The circuit's uploads in progress (`None` once the circuit is gone).
    pub(crate) fn uploads(&self) -> Option<Arc<crate::upload::UploadTransfers>> {
        self.circuit.upgrade().map(|c| c.uploads())
    }

    /// Cuts the browser's connection at once, without a Close message and without ending the circuit:
    /// the browser sees a dropped connection and reconnects (within retention the circuit resumes with
    /// its state). For tests and operations (shedding a misbehaving socket, exercising reconnection).
    /// Returns whether a connection was cut; from inside the circuit's own callbacks the cut happens
    /// right after the current message.
    pub fn disconnect_transport(&self) -> bool {
        self.circuit
            .upgrade()
            .is_some_and(|c| c.disconnect_transport())
    }

    /// Tells the browser to navigate to `uri` (replacing the history entry when `replace`). Returns whether
    /// a browser is connected to receive it. From inside the circuit's own callbacks it is sent right after
    /// the current message.
    pub fn navigate(&self, uri: &str, replace: bool) -> bool {
        self.circuit
            .upgrade()
            .is_some_and(|c| c.navigate(uri, replace))
    }

    /// Asks for a render soon, from any thread, without waiting for the circuit (what component handles
    /// use when they queue updates). Several requests before the render runs make one render.
    pub fn schedule_render(&self) {
        if let Some(circuit) = self.circuit.upgrade() {
            circuit.schedule_render();
        }
    }

    /// Renders pending changes now (for state changed outside an event, e.g. by a timer); from inside the
    /// circuit's own callbacks, right after the current message. Returns whether the circuit is alive.
    pub fn render(&self) -> bool {
        self.circuit.upgrade().is_some_and(|c| c.render())
    }

    /// Persists the circuit to the hub's store and ends it here; the browser can resume it later (on
    /// this server or another sharing the store). Returns whether a persist was started. Without a store
    /// configured the circuit simply stays as it is and this returns `false`.
    pub fn pause(&self) -> bool {
        self.circuit.upgrade().is_some_and(|c| c.pause())
    }
}
