//! Circuit handlers: application hooks on a circuit's lifetime and on every inbound message.
//!
//! Invariants:
//! - Each circuit has one chain, built when it opens from the shared handlers and one fresh instance from
//!   each per-circuit factory, sorted by [`CircuitHandler::order`] (lower first; ties keep registration
//!   order, shared handlers before per-circuit ones).
//! - Callbacks and the inbound middleware of one circuit run one at a time, while the circuit processes that
//!   event, so a handler never sees two of its circuit's messages at once. Different circuits run in
//!   parallel: a shared handler must be `Sync`.
//! - The inbound middleware runs lower order outermost: handler 0 sees the message first and wraps
//!   everything after it. A handler that does not call `next.run()` drops the message (on purpose).
//! - An `Err` (or a panic) from any callback or middleware ends that circuit only, with the reason logged.
//!   Lifetime order: opened, connection up, (connection down, connection up)*, connection down, closed; then
//!   the components are disposed.

use std::fmt;
use std::sync::Arc;

use super::handle::CircuitHandle;

/// A failure in a circuit handler. It ends the circuit it happened in (and only that one).
#[derive(Debug, Clone)]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    /// An error with a message for the log (and for the browser when detailed errors are on).
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

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandlerError {}

/// One inbound message, as seen by the inbound middleware.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum InboundActivity<'a> {
    /// `StartCircuit`: the circuit is being created from the page's root components.
    Start,
    /// `ConnectCircuit`: a browser reconnected (or took over) this circuit.
    Connect,
    /// `DispatchEvent`: a UI event for an event handler.
    Event {
        /// The handler id from the markup.
        handler_id: u64,
        /// The DOM event name (`click`, `input`, …).
        event: &'a str,
    },
    /// `OnRenderCompleted`: the browser applied (or failed to apply) a render batch.
    RenderAck {
        /// The acknowledged batch id.
        batch: u64,
    },
    /// `InvokeServer`: the browser calls a server function.
    InvokeServer {
        /// The function name.
        name: &'a str,
    },
    /// `EndInvokeJS`: the result of a browser call made by the server.
    BrowserCallResult {
        /// The call id.
        call_id: u64,
    },
    /// `LocationChanged`: the browser navigated.
    LocationChanged {
        /// The new URI.
        uri: &'a str,
    },
}

/// The rest of the inbound chain; call [`Next::run`] to pass the message on.
pub struct Next<'a> {
    pub(crate) rest: &'a [Arc<dyn CircuitHandler>],
    pub(crate) circuit: &'a CircuitHandle,
    pub(crate) activity: &'a InboundActivity<'a>,
    pub(crate) inner: &'a mut dyn FnMut() -> Result<(), HandlerError>,
}

impl Next<'_> {
    /// Runs the inner handlers and then the circuit's own processing of the message.
    pub fn run(self) -> Result<(), HandlerError> {
        match self.rest.split_first() {
            Some((handler, rest)) => handler.on_inbound(
                self.circuit,
                self.activity,
                Next {
                    rest,
                    circuit: self.circuit,
                    activity: self.activity,
                    inner: self.inner,
                },
            ),
            None => (self.inner)(),
        }
    }
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("remaining_handlers", &self.rest.len())
            .finish()
    }
}

/// Hooks on a circuit's lifetime and its inbound messages. Every method has a default that does nothing
/// (and passes inbound messages on), so implement only what you need.
pub trait CircuitHandler: Send + Sync + 'static {
    /// Position in the chain: lower runs first (and outermost in the inbound middleware). Default 0.
    fn order(&self) -> i32 {
        0
    }

    /// The circuit was created (before its first connection up).
    fn on_circuit_opened(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        let _ = circuit;
        Ok(())
    }

    /// A browser connection is attached (at start, after a reconnect, after a takeover).
    fn on_connection_up(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        let _ = circuit;
        Ok(())
    }

    /// The browser connection went away; the circuit stays retained for a while.
    fn on_connection_down(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        let _ = circuit;
        Ok(())
    }

    /// The circuit ended (closed, evicted or failed). Errors here are logged; the circuit is gone anyway.
    fn on_circuit_closed(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        let _ = circuit;
        Ok(())
    }

    /// Wraps every inbound message: do work before and after `next.run()`.
    fn on_inbound(
        &self,
        circuit: &CircuitHandle,
        activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        let _ = (circuit, activity);
        next.run()
    }
}

type HandlerFactory = Arc<dyn Fn(&CircuitHandle) -> Arc<dyn CircuitHandler> + Send + Sync>;

/// The handlers registered with the circuit hub: shared ones (one instance for all circuits) and
/// per-circuit ones (a factory called once per new circuit).
#[derive(Clone, Default)]
pub struct CircuitHandlers {
    shared: Vec<Arc<dyn CircuitHandler>>,
    factories: Vec<HandlerFactory>,
}

impl fmt::Debug for CircuitHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitHandlers")
            .field("shared", &self.shared.len())
            .field("per_circuit", &self.factories.len())
            .finish()
    }
}

impl CircuitHandlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handler shared by every circuit.
    pub fn shared(self, handler: impl CircuitHandler) -> Self {
        self.shared_arc(Arc::new(handler))
    }

    /// Adds a shared handler the application keeps a reference to (to read its state).
    pub fn shared_arc<H: CircuitHandler>(mut self, handler: Arc<H>) -> Self {
        self.shared.push(handler);
        self
    }

    /// Adds a handler created afresh for each circuit by `factory`.
    pub fn per_circuit<H, F>(mut self, factory: F) -> Self
    where
        H: CircuitHandler,
        F: Fn(&CircuitHandle) -> H + Send + Sync + 'static,
    {
        self.factories.push(Arc::new(move |circuit| {
            Arc::new(factory(circuit)) as Arc<dyn CircuitHandler>
        }));
        self
    }

    /// Whether nothing is registered (then circuits carry no chain at all).
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.factories.is_empty()
    }

    pub(crate) fn chain_for(&self, circuit: &CircuitHandle) -> HandlerChain {
        if self.is_empty() {
            return HandlerChain::default();
        }
        let mut handlers: Vec<Arc<dyn CircuitHandler>> = self.shared.clone();
        handlers.extend(self.factories.iter().map(|factory| factory(circuit)));
        handlers.sort_by_key(|h| h.order());
        HandlerChain {
            handlers: handlers.into_boxed_slice(),
        }
    }
}

/// One circuit's handlers in order.
#[derive(Default)]
pub(crate) struct HandlerChain {
    handlers: Box<[Arc<dyn CircuitHandler>]>,
}

/// Which lifetime callback to run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lifetime {
    Opened,
    ConnectionUp,
    ConnectionDown,
    Closed,
}

impl HandlerChain {
    /// Runs one lifetime callback on every handler in order; stops at the first error (except `Closed`,
    /// which runs on all handlers and reports the first error).
    pub(crate) fn lifetime(
        &self,
        circuit: &CircuitHandle,
        which: Lifetime,
    ) -> Result<(), HandlerError> {
        let mut first_error = None;
        for handler in self.handlers.iter() {
            let result = match which {
                Lifetime::Opened => handler.on_circuit_opened(circuit),
                Lifetime::ConnectionUp => handler.on_connection_up(circuit),
                Lifetime::ConnectionDown => handler.on_connection_down(circuit),
                Lifetime::Closed => handler.on_circuit_closed(circuit),
            };
            if let Err(error) = result {
                if !matches!(which, Lifetime::Closed) {
                    return Err(error);
                }
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs `inner` wrapped by every handler's inbound middleware.
    pub(crate) fn inbound(
        &self,
        circuit: &CircuitHandle,
        activity: &InboundActivity<'_>,
        inner: &mut dyn FnMut() -> Result<(), HandlerError>,
    ) -> Result<(), HandlerError> {
        Next {
            rest: &self.handlers,
            circuit,
            activity,
            inner,
        }
        .run()
    }
}
