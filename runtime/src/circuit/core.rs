//! One circuit: its state and the order in which it processes messages.
//!
//! Ownership: a [`Circuit`] is owned by the registry (`Arc`) while it is live; a connection keeps its
//! circuit in its own context; handlers and application code hold [`CircuitHandle`]s (weak). The circuit
//! sees the registry only as a [`CircuitDirectory`] and is handed its environment (`env::CircuitEnv`);
//! its transitions (ending included) are in `lifecycle`, what handles ask of it in `control`, writing
//! itself to the store in `persisting`, sealing in `persist`. All mutable state sits in one
//! `parking_lot::Mutex<CircuitState>`, taken by whichever task delivers a message (a connection's receive
//! task, a timer, a finished server function). See the module docs of `circuit` for why.
//!
//! Lock order: a circuit's state lock may be held while taking the registry lock (through its directory),
//! never the other way round, and no code holds two circuit locks at once.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::oneshot;

use bytes::Bytes;

use super::acks::{AckOutcome, EncodedBatch, RenderAcks};
use super::env::CircuitEnv;
use super::handle::{BrowserCallError, CircuitControl, CircuitHandle};
use super::handlers::{HandlerChain, HandlerError, InboundActivity};
use super::persist::AppSnapshot;
use super::secret::{CircuitId, CircuitKey};

/// A message from the server to the browser, before hub framing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outbound<'a> {
    /// `T.Batch(batchId, batch)`, already framed for the wire.
    Batch { id: u64, frame: &'a Bytes },
    /// `T.Error(message)`: fatal.
    Error { message: &'a str },
    /// `T.InvokeJS(callId, identifier, args)`.
    InvokeJs {
        call_id: u64,
        identifier: &'a str,
        args: &'a [Value],
    },
    /// `T.EndInvokeServer(callId, succeeded, resultOrErrorMessage)`.
    EndInvokeServer {
        call_id: u64,
        succeeded: bool,
        value: &'a Value,
    },
    /// `T.Navigate(uri, replace)`.
    Navigate { uri: &'a str, replace: bool },
    /// `T.Persisted(resumeNow)`: the circuit was persisted and ended here; the browser resumes it at once
    /// (`true`: a server shutdown) or when asked to (`false`: a pause).
    Persisted { resume_now: bool },
}

/// Where a connected circuit's outbound messages go: one browser connection.
pub(crate) trait CircuitSink: Send + Sync + 'static {
    /// Queues a message for the browser. Never blocks; a message for a connection that has just gone is
    /// dropped (batches are kept until acknowledged and re-sent on reconnect).
    fn send(&self, message: Outbound<'_>);
    /// Closes the connection (after a takeover or when the circuit ended).
    fn close(&self);
    /// Cuts the transport at once, without a Close message, as a network failure would.
    fn abort(&self);
    /// The hub connection id, to tell connections apart.
    fn connection_id(&self) -> &str;
}

/// A fatal problem inside the circuit's application (component tree).
#[derive(Debug, Clone)]
pub(crate) struct AppFault(pub(crate) String);

/// The circuit's component tree, as the circuit drives it.
pub(crate) trait CircuitApp: Send + 'static {
    /// Runs an event handler. A stale or unknown handler id is not a fault (the app logs and ignores it).
    fn dispatch_event(
        &mut self,
        handler_id: u64,
        event: &str,
        args: &Value,
    ) -> Result<(), AppFault>;
    /// The browser's location changed.
    fn location_changed(&mut self, uri: &str, intercepted: bool) -> Result<(), AppFault>;
    /// Renders what changed into the next batch (ids 1, 2, 3…), encoded for the wire; `None` when nothing
    /// the browser shows changed. `ack_now`: the batch asks the browser to acknowledge it at once.
    fn render(&mut self, ack_now: bool) -> Result<Option<EncodedBatch>, AppFault>;
    /// Disposes every component (the circuit has ended).
    fn dispose(&mut self);
    /// Applies updates queued from other tasks and starts async work components asked for. Called before
    /// every render attempt, also while rendering is paused.
    fn process_background(&mut self) -> Result<(), AppFault> {
        Ok(())
    }
    /// What to persist: URIs, roots and opted-in component state.
    fn snapshot(&self) -> Result<AppSnapshot, String> {
        Err("this circuit's application cannot be persisted".into())
    }
}

/// An inbound message for a circuit (after hub decoding).
#[derive(Debug)]
pub(crate) enum Inbound {
    Event {
        handler_id: u64,
        event: String,
        args: Value,
    },
    RenderAck {
        batch: u64,
        error: Option<String>,
    },
    InvokeServer {
        call_id: u64,
        name: String,
        args: Vec<Value>,
    },
    BrowserCallResult {
        call_id: u64,
        succeeded: bool,
        value: Value,
    },
    LocationChanged {
        uri: String,
        intercepted: bool,
    },
}

impl Inbound {
    fn activity(&self) -> InboundActivity<'_> {
        match self {
            Self::Event {
                handler_id, event, ..
            } => InboundActivity::Event {
                handler_id: *handler_id,
                event,
            },
            Self::RenderAck { batch, .. } => InboundActivity::RenderAck { batch: *batch },
            Self::InvokeServer { name, .. } => InboundActivity::InvokeServer { name },
            Self::BrowserCallResult { call_id, .. } => {
                InboundActivity::BrowserCallResult { call_id: *call_id }
            }
            Self::LocationChanged { uri, .. } => InboundActivity::LocationChanged { uri },
        }
    }
}

/// Why a circuit ended.
#[derive(Debug, Clone)]
pub(crate) enum EndReason {
    /// The browser asked (disconnect beacon) or the application closed it.
    Closed(&'static str),
    /// Retention ran out or too many circuits were disconnected.
    Evicted,
    /// Something failed: a handler, a component, a protocol violation. The text is for the log.
    Fault(String),
    /// The circuit was persisted to the store and can be resumed (a pause or a shutdown); the browser
    /// is told whether to resume at once.
    Persisted { resume_now: bool },
    /// Another server resumed the circuit (the store holds a newer generation): this copy is stale.
    Moved,
}

pub(crate) const LINK_CONNECTED: u8 = 0;
pub(crate) const LINK_DISCONNECTED: u8 = 1;
pub(crate) const LINK_ENDED: u8 = 2;

/// The browser's connection state as the circuit sees it.
pub(crate) enum Link {
    Connected(Arc<dyn CircuitSink>),
    Disconnected,
    Ended,
}

pub(crate) type CallReply = oneshot::Sender<Result<Value, BrowserCallError>>;

pub(crate) struct CircuitState {
    pub(crate) link: Link,
    /// Rises each time the circuit disconnects; the registry's eviction queue entries name one.
    pub(crate) disconnections: u64,
    pub(crate) acks: RenderAcks,
    pub(crate) app: Option<Box<dyn CircuitApp>>,
    pub(crate) chain: HandlerChain,
    /// True until `StartCircuit` has finished: a failure then is reported in its completion, and the
    /// connection stays open (no `T.Error`, no close).
    pub(crate) starting: bool,
    /// A write-behind persist is scheduled (see `persist::schedule_write_behind`).
    pub(crate) write_behind_pending: bool,
    /// Write-behind saves that failed in a row (the store is away): the retry backs off, and only the
    /// first failure of a streak is logged as a warning.
    pub(crate) write_behind_failures: u32,
    /// After failed saves: the write-behind pass skips the circuit until then.
    pub(crate) write_behind_retry_at: Option<tokio::time::Instant>,
    pub(crate) next_call_id: u64,
    pub(crate) pending_calls: Vec<(u64, CallReply)>,
}

/// Where circuits are listed (the registry), as a circuit sees it. Every method is a map update; none runs
/// application code. Lock order: a circuit calls its directory while holding its own state lock; a
/// directory never takes a circuit's lock while holding its own.
pub(crate) trait CircuitDirectory: Send + Sync + 'static {
    /// A new circuit attached to `connection_id`.
    fn opened(&self, circuit: &Arc<Circuit>, connection_id: &str);
    /// `circuit` is now attached to `connection_id` (a reconnect), replacing `previous` if any. `false`
    /// when the circuit is no longer listed (evicted meanwhile): the attach must not go on.
    fn attached(&self, circuit: &Arc<Circuit>, connection_id: &str, previous: Option<&str>)
        -> bool;
    /// `circuit` lost its connection `connection_id` (disconnection number `generation`); returns the
    /// circuits to evict now because too many are retained (already removed from the maps).
    fn detached(
        &self,
        circuit: &Arc<Circuit>,
        connection_id: &str,
        generation: u64,
    ) -> Vec<Arc<Circuit>>;
    /// `circuit` ended: remove it (and its connection entry, if `connection_id` is still its own).
    fn forget(&self, circuit: &Circuit, connection_id: Option<&str>, evicted: bool);
}

/// A live circuit. See the module docs for ownership and locking.
pub(crate) struct Circuit {
    pub(crate) id: CircuitId,
    pub(crate) key: CircuitKey,
    pub(crate) env: Arc<CircuitEnv>,
    /// The registry that lists this circuit (told when it attaches, detaches and ends).
    pub(crate) directory: Weak<dyn CircuitDirectory>,
    /// The signed-in user's id at start (persisted blobs name it; a resume must come from the same user).
    /// A boxed `str`: every circuit holds one, and it never grows.
    pub(crate) user: Option<Box<str>>,
    pub(crate) span: tracing::Span,
    /// Set while a render task is queued for work that arrived from another task (coalesces wake-ups).
    pub(crate) render_scheduled: AtomicBool,
    /// A lock-free copy of the `Link` kind (`LINK_*`), so handles can answer status questions from inside
    /// the circuit's own callbacks, where taking the lock would deadlock.
    pub(crate) link_kind: AtomicU8,
    /// The circuit's generation in the store (1 when started; one more than the claimed entry's when
    /// resumed), set before anything is persisted; see `store` on fencing.
    pub(crate) generation: AtomicU64,
    /// Persisted and ended for its tab to resume elsewhere (a shutdown), which the tab is told once the
    /// store has it; messages from the tab meanwhile are refused without ending the tab's circuit.
    pub(crate) moving: AtomicBool,
    /// The uploads in progress, to which `UploadChunk` messages go past the circuit's message processing
    /// (the state lock is taken only to check the sending connection, not held while the chunk is handed
    /// over). Made by the circuit's first upload: a circuit that never uploads carries no routing table.
    pub(crate) uploads: OnceLock<Arc<crate::upload::UploadTransfers>>,
    pub(crate) state: Mutex<CircuitState>,
}

pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

impl Circuit {
    pub(crate) fn new(
        id: CircuitId,
        key: CircuitKey,
        env: Arc<CircuitEnv>,
        directory: Weak<dyn CircuitDirectory>,
        user: Option<Box<str>>,
        sink: Arc<dyn CircuitSink>,
    ) -> Self {
        let limit = env.options.max_unacknowledged_batches;
        Self {
            id,
            key,
            env,
            directory,
            user,
            span: tracing::info_span!(parent: None, "circuit", id = %id),
            render_scheduled: AtomicBool::new(false),
            link_kind: AtomicU8::new(LINK_CONNECTED),
            generation: AtomicU64::new(1),
            moving: AtomicBool::new(false),
            uploads: OnceLock::new(),
            state: Mutex::new(CircuitState {
                link: Link::Connected(sink),
                disconnections: 0,
                acks: RenderAcks::new(limit),
                app: None,
                chain: HandlerChain::default(),
                starting: true,
                write_behind_pending: false,
                write_behind_failures: 0,
                write_behind_retry_at: None,
                next_call_id: 0,
                pending_calls: Vec::new(),
            }),
        }
    }

    /// Changes the link (under the state lock), keeping the lock-free copy in step. Returns the old link.
    pub(crate) fn set_link(&self, state: &mut CircuitState, link: Link) -> Link {
        let kind = match link {
            Link::Connected(_) => LINK_CONNECTED,
            Link::Disconnected => LINK_DISCONNECTED,
            Link::Ended => LINK_ENDED,
        };
        self.link_kind.store(kind, Ordering::Release);
        std::mem::replace(&mut state.link, link)
    }

    pub(crate) fn handle(self: &Arc<Self>) -> CircuitHandle {
        let control: Arc<dyn CircuitControl> = self.clone();
        CircuitHandle::new(self.id, Arc::downgrade(&control))
    }

    /// Runs `step` with the circuit's state, catching panics; a panic or a returned fault ends the circuit.
    /// Returns `false` when the circuit has ended (before or because of this step).
    pub(crate) fn run_step(
        self: &Arc<Self>,
        state: &mut CircuitState,
        step: impl FnOnce(&Arc<Self>, &mut CircuitState) -> Result<(), String>,
    ) -> bool {
        if matches!(state.link, Link::Ended) {
            return false;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| step(self, &mut *state)));
        let fault = match outcome {
            Ok(Ok(())) => return !matches!(state.link, Link::Ended),
            Ok(Err(reason)) => reason,
            Err(payload) => format!("panic: {}", panic_text(payload.as_ref())),
        };
        self.end_locked(state, EndReason::Fault(fault));
        false
    }

    /// Processes one inbound message through the handler chain, then renders if there is room.
    #[cfg(test)]
    pub(crate) fn deliver(self: &Arc<Self>, message: Inbound) -> bool {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        self.deliver_locked(&mut state, message)
    }

    /// Whether hub connection `connection_id` carries this circuit now.
    pub(crate) fn is_attached_to(&self, connection_id: &str) -> bool {
        matches!(&self.state.lock().link, Link::Connected(sink) if sink.connection_id() == connection_id)
    }

    /// Delivers a message that arrived on hub connection `connection_id`. `None`, and nothing runs, when
    /// that connection no longer carries this circuit (it was taken over, or the circuit ended).
    pub(crate) fn deliver_from(
        self: &Arc<Self>,
        connection_id: &str,
        message: Inbound,
    ) -> Option<bool> {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        let attached =
            matches!(&state.link, Link::Connected(sink) if sink.connection_id() == connection_id);
        attached.then(|| self.deliver_locked(&mut state, message))
    }

    fn deliver_locked(self: &Arc<Self>, state: &mut CircuitState, message: Inbound) -> bool {
        // An acknowledgement only updates the ack bookkeeping; a render can follow it only when it frees
        // room that was lacking (other work arrives with its own wake-up), so most acks skip the render step.
        let may_render = !matches!(message, Inbound::RenderAck { .. }) || !state.acks.has_room();
        let alive = self.run_step(state, |circuit, state| {
            let handle = circuit.handle();
            let activity = message.activity();
            let mut fault: Option<String> = None;
            let chain = std::mem::take(&mut state.chain);
            // Panics are caught here and in `catch_handler` (not only by `run_step`) so that the chain is
            // always put back: ending the circuit still runs every handler's closing callbacks.
            let result = catch_handler(|| {
                chain.inbound(&handle, &activity, &mut || {
                    catch_unwind(AssertUnwindSafe(|| circuit.process(state, &message)))
                        .unwrap_or_else(|payload| {
                            Err(format!("panic: {}", panic_text(payload.as_ref())))
                        })
                        .map_err(|reason| {
                            fault = Some(reason);
                            HandlerError::new("the circuit failed while processing the message")
                        })
                })
            });
            state.chain = chain;
            match (fault, result) {
                (Some(reason), _) => Err(reason),
                (None, Err(error)) => Err(format!("circuit handler error: {error}")),
                (None, Ok(())) => Ok(()),
            }
        });
        alive && (!may_render || self.pump_locked(state))
    }

    /// The circuit's own handling of a message (inside the handler chain).
    fn process(
        self: &Arc<Self>,
        state: &mut CircuitState,
        message: &Inbound,
    ) -> Result<(), String> {
        match message {
            Inbound::Event {
                handler_id,
                event,
                args,
            } => {
                let app = state
                    .app
                    .as_mut()
                    .ok_or("event before the circuit started")?;
                app.dispatch_event(*handler_id, event, args)
                    .map_err(|f| f.0)
            }
            Inbound::LocationChanged { uri, intercepted } => {
                let app = state
                    .app
                    .as_mut()
                    .ok_or("navigation before the circuit started")?;
                app.location_changed(uri, *intercepted).map_err(|f| f.0)
            }
            Inbound::RenderAck { batch, error } => {
                match state.acks.acknowledge(*batch, error.clone()) {
                    Ok(AckOutcome::Released) => Ok(()),
                    Ok(AckOutcome::Stale) => {
                        tracing::debug!(batch, "stale render acknowledgement ignored");
                        Ok(())
                    }
                    Err(error) => Err(error.to_string()),
                }
            }
            Inbound::BrowserCallResult {
                call_id,
                succeeded,
                value,
            } => {
                let Some(at) = state.pending_calls.iter().position(|(id, _)| id == call_id) else {
                    tracing::warn!(
                        call_id,
                        "result for an unknown or timed-out browser call ignored"
                    );
                    return Ok(());
                };
                let (_, reply) = state.pending_calls.swap_remove(at);
                let result = if *succeeded {
                    Ok(value.clone())
                } else {
                    Err(BrowserCallError::Failed(
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned),
                    ))
                };
                let _ = reply.send(result);
                Ok(())
            }
            Inbound::InvokeServer {
                call_id,
                name,
                args,
            } => {
                self.start_server_function(state, *call_id, name, args.clone());
                Ok(())
            }
        }
    }

    fn start_server_function(
        self: &Arc<Self>,
        state: &mut CircuitState,
        call_id: u64,
        name: &str,
        args: Vec<Value>,
    ) {
        let Some(function) = self.env.server_functions.get(name).cloned() else {
            tracing::warn!(name, "browser called an unknown server function");
            let message = Value::String(format!("no server function named `{name}`"));
            send_locked(
                state,
                Outbound::EndInvokeServer {
                    call_id,
                    succeeded: false,
                    value: &message,
                },
            );
            return;
        };
        let span = self.span.clone();
        let future = function(self.handle(), args);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let result = future.await;
            let Some(circuit) = weak.upgrade() else {
                return;
            };
            let _entered = span.enter();
            let mut state = circuit.state.lock();
            let (succeeded, value) = match result {
                Ok(value) => (true, value),
                Err(message) => (false, Value::String(message)),
            };
            if !send_locked(
                &mut state,
                Outbound::EndInvokeServer {
                    call_id,
                    succeeded,
                    value: &value,
                },
            ) {
                tracing::warn!(
                    call_id,
                    "server function finished while no browser was connected; result dropped"
                );
            }
            // A server function may have changed component state.
            circuit.pump_locked(&mut state);
        });
    }

    /// Renders once if the app has changes and fewer than the limit of batches are unacknowledged.
    /// Returns whether the circuit is still alive.
    pub(crate) fn pump_locked(self: &Arc<Self>, state: &mut CircuitState) -> bool {
        if state.app.is_none() {
            return !matches!(state.link, Link::Ended);
        }
        self.run_step(state, |_, state| {
            let app = state.app.as_mut().expect("checked above");
            app.process_background().map_err(|f| f.0)?;
            if !state.acks.has_room() {
                return Ok(());
            }
            if let Some(batch) = app.render(state.acks.fills_buffer()).map_err(|f| f.0)? {
                send_locked(
                    state,
                    Outbound::Batch {
                        id: batch.id,
                        frame: &batch.frame,
                    },
                );
                state.acks.record(batch);
                self.schedule_write_behind(state);
            }
            Ok(())
        })
    }

    /// Sends every unacknowledged batch again, oldest first (after a reconnect).
    pub(crate) fn resend_unacknowledged_locked(&self, state: &mut CircuitState) {
        if let Link::Connected(sink) = &state.link {
            for batch in state.acks.unacknowledged() {
                sink.send(Outbound::Batch {
                    id: batch.id,
                    frame: &batch.frame,
                });
            }
        }
    }

    /// Fails every pending browser call (the connection went away or the circuit ended).
    pub(crate) fn fail_pending_calls(state: &mut CircuitState, error: BrowserCallError) {
        for (_, reply) in state.pending_calls.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// Runs a handler callback, turning a panic into an error.
pub(crate) fn catch_handler(
    f: impl FnOnce() -> Result<(), HandlerError>,
) -> Result<(), HandlerError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(HandlerError::new(format!(
            "circuit handler panicked: {}",
            panic_text(payload.as_ref())
        )))
    })
}

/// Sends through the current connection, if any. Returns whether a connection took the message.
pub(crate) fn send_locked(state: &mut CircuitState, message: Outbound<'_>) -> bool {
    match &state.link {
        Link::Connected(sink) => {
            sink.send(message);
            true
        }
        _ => false,
    }
}
