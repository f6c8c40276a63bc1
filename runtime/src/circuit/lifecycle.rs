//! A circuit's transitions, owned by the circuit: open (start or resume), attach (reconnect, takeover),
//! detach (connection lost, retained), evict, pause, persist and end (`end_locked`).
//!
//! Each transition runs under the circuit's state lock and tells the [`CircuitDirectory`] (the registry)
//! about it with the lock held, so the registry's status of a circuit always matches the circuit's own
//! `Link`. Application code (handlers, components) runs here, never in the registry.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use super::core::{
    catch_handler, panic_text, Circuit, CircuitApp, CircuitDirectory, CircuitSink, CircuitState,
    EndReason, Link, Outbound,
};
use super::env::CircuitEnv;
use super::handle::{BrowserCallError, CircuitHandle};
use super::handlers::{HandlerError, InboundActivity, Lifetime};
use super::saver::PersistCause;
use super::saver::SaveReceipt;
use super::secret::CircuitSecret;

/// Why a circuit could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartFailure {
    /// The application (root component creation or first render) failed.
    App(String),
    /// A circuit handler failed in opened / connection up / the start middleware.
    Handler(String),
}

/// How a circuit opens: a fresh secret (`StartCircuit`) or the one it had before it was persisted.
pub(crate) struct Opening {
    pub(crate) secret: CircuitSecret,
    /// The signed-in user's id, when the hub knows users.
    pub(crate) user: Option<String>,
}

impl Circuit {
    /// Creates a circuit attached to `sink`, lists it, runs opened, connection up and the start middleware
    /// around `make_app`, and renders the first batch.
    pub(crate) fn open(
        env: Arc<CircuitEnv>,
        directory: Weak<dyn CircuitDirectory>,
        opening: Opening,
        sink: Arc<dyn CircuitSink>,
        make_app: impl FnOnce(&CircuitHandle) -> Result<Box<dyn CircuitApp>, String>,
    ) -> Result<Arc<Circuit>, StartFailure> {
        let Opening { secret, user } = opening;
        let connection: Box<str> = sink.connection_id().into();
        let circuit = Arc::new(Circuit::new(
            secret.id(),
            secret.key().clone(),
            env,
            directory,
            user.map(String::into_boxed_str),
            sink,
        ));
        let _entered = circuit.span.enter();
        let mut state = circuit.state.lock();
        if let Some(directory) = circuit.directory.upgrade() {
            directory.opened(&circuit, &connection);
        }
        let handle = circuit.handle();
        state.chain = circuit.env.handlers.chain_for(&handle);
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
                            HandlerError::new(reason)
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
        Ok(circuit.clone())
    }

    /// `ConnectCircuit`: attaches `sink`, taking the circuit over from another connection if needed, and
    /// re-sends every unacknowledged batch. `false` when the circuit is gone.
    pub(crate) fn attach(self: &Arc<Self>, sink: Arc<dyn CircuitSink>) -> bool {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        if matches!(state.link, Link::Ended) {
            return false;
        }
        let old_connection = match &state.link {
            Link::Connected(old) => Some(old.connection_id().to_owned()),
            _ => None,
        };
        let listed = self.directory.upgrade().is_some_and(|directory| {
            directory.attached(self, sink.connection_id(), old_connection.as_deref())
        });
        if !listed {
            tracing::info!("reconnect rejected: the circuit was evicted meanwhile");
            return false;
        }
        let previous = self.set_link(&mut state, Link::Connected(sink));
        let handle = self.handle();
        let alive = self.run_step(&mut state, |circuit, state| {
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
        alive && self.pump_locked(&mut state)
    }

    /// Hub connection `connection_id` closed: if it still carries this circuit, the circuit becomes
    /// disconnected and retained; the oldest retained circuits beyond the limit are evicted.
    pub(crate) fn detach(self: &Arc<Self>, connection_id: &str) {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        let owns =
            matches!(&state.link, Link::Connected(sink) if sink.connection_id() == connection_id);
        if !owns {
            return;
        }
        self.set_link(&mut state, Link::Disconnected);
        state.disconnections += 1;
        let generation = state.disconnections;
        let victims = self
            .directory
            .upgrade()
            .map(|directory| directory.detached(self, connection_id, generation))
            .unwrap_or_default();
        tracing::info!("connection down; circuit retained");
        Circuit::fail_pending_calls(&mut state, BrowserCallError::Disconnected);
        let handle = self.handle();
        self.run_step(&mut state, |_, state| {
            catch_handler(|| state.chain.lifetime(&handle, Lifetime::ConnectionDown))
                .map_err(|e| format!("circuit handler error at connection down: {e}"))
        });
        drop(state);
        drop(_entered);
        for victim in victims {
            victim.evict();
        }
    }

    /// Eviction (by count or by time, already out of the registry's maps): persisted first when the hub
    /// has a store, then ended.
    pub(crate) fn evict(self: &Arc<Self>) {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        self.persist_locked(&mut state, PersistCause::Eviction);
        self.end_locked(&mut state, EndReason::Evicted);
    }

    /// Ends the circuit at once (the disconnect beacon).
    pub(crate) fn end_by_browser(self: &Arc<Self>) {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        self.end_locked(
            &mut state,
            EndReason::Closed("the browser sent the disconnect beacon"),
        );
    }

    /// `PauseCircuit` from connection `connection_id`: persists and ends the circuit when that connection
    /// carries it; the returned save says whether the store took it.
    pub(crate) fn pause_from(self: &Arc<Self>, connection_id: &str) -> Option<SaveReceipt> {
        let _entered = self.span.enter();
        let mut state = self.state.lock();
        let attached =
            matches!(&state.link, Link::Connected(sink) if sink.connection_id() == connection_id);
        if !attached || self.env.persistence.is_none() {
            return None;
        }
        self.persist_and_end_locked(&mut state, PersistCause::Pause)
    }

    /// Persists and ends the circuit, telling a connected browser to resume (a pause or a shutdown).
    pub(crate) fn persist_and_end_locked(
        self: &Arc<Self>,
        state: &mut CircuitState,
        cause: PersistCause,
    ) -> Option<SaveReceipt> {
        let Some(saved) = self.persist_locked(state, cause) else {
            self.end_locked(state, EndReason::Closed("it could not be persisted"));
            return None;
        };
        if cause == PersistCause::Pause {
            // `T.Persisted(false)` goes at once; the tab resumes only when asked to, after the answer to
            // its `PauseCircuit`, which waits for the save.
            self.end_locked(state, EndReason::Persisted { resume_now: false });
            return Some(saved);
        }
        let browser = match &state.link {
            Link::Connected(sink) if !state.starting => Some(sink.clone()),
            _ => None,
        };
        self.moving
            .store(true, std::sync::atomic::Ordering::Release);
        self.end_locked(state, EndReason::Persisted { resume_now: true });
        // `T.Persisted(true)` only once the store has the circuit: a tab told sooner could reach another
        // server before the save and find nothing (or, with write-behind, an older copy) to resume.
        let (answer, receipt) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let stored = saved.await.unwrap_or(false);
            if let Some(sink) = browser {
                sink.send(Outbound::Persisted { resume_now: true });
                sink.close();
            }
            let _ = answer.send(stored);
        });
        Some(receipt)
    }
}

impl Circuit {
    /// Ends the circuit: leaves the registry, tells the browser (if connected), runs connection down (if
    /// connected) and circuit closed, disposes the components. Idempotent.
    pub(crate) fn end_locked(self: &Arc<Self>, state: &mut CircuitState, reason: EndReason) {
        let link = self.set_link(state, Link::Ended);
        if matches!(link, Link::Ended) {
            return;
        }
        let connection_id = match &link {
            Link::Connected(sink) => Some(sink.connection_id()),
            _ => None,
        };
        if let Some(directory) = self.directory.upgrade() {
            directory.forget(self, connection_id, matches!(reason, EndReason::Evicted));
        }
        if matches!(reason, EndReason::Closed(_) | EndReason::Fault(_)) {
            self.forget_write_behind();
        }
        let browser_message = match &reason {
            EndReason::Persisted { .. } => {
                tracing::info!("circuit persisted and ended here");
                String::new()
            }
            EndReason::Closed(why) => {
                tracing::info!(reason = why, "circuit closed");
                format!("The circuit was closed ({why}).")
            }
            EndReason::Evicted => {
                tracing::info!("disconnected circuit evicted");
                "The circuit was evicted.".to_owned()
            }
            EndReason::Moved => {
                tracing::warn!("circuit resumed on another server; this stale copy ended");
                "The circuit continues on another server.".to_owned()
            }
            EndReason::Fault(detail) => {
                tracing::error!(reason = %detail, "circuit failed and was ended");
                if self.env.options.detailed_errors {
                    format!("The circuit failed: {detail}")
                } else {
                    format!(
                        "There was an unhandled error on the server; the circuit ended (circuit {}). \
                         Turn on CircuitOptions::detailed_errors to see details.",
                        self.id
                    )
                }
            }
        };
        let handle = self.handle();
        let chain = std::mem::take(&mut state.chain);
        if let Link::Connected(sink) = &link {
            if !state.starting {
                match reason {
                    // A pause leaves the connection to the browser, which closes it once its
                    // `PauseCircuit` call is answered.
                    EndReason::Persisted { resume_now: false } => {
                        sink.send(Outbound::Persisted { resume_now: false });
                    }
                    // Told by `persist_and_end_locked` once the store has the circuit.
                    EndReason::Persisted { resume_now: true } => {}
                    _ => {
                        sink.send(Outbound::Error {
                            message: &browser_message,
                        });
                        sink.close();
                    }
                }
            }
            if let Err(error) = catch_handler(|| chain.lifetime(&handle, Lifetime::ConnectionDown))
            {
                tracing::warn!(%error, "circuit handler failed in connection down while the circuit ended");
            }
        }
        if let Err(error) = catch_handler(|| chain.lifetime(&handle, Lifetime::Closed)) {
            tracing::warn!(%error, "circuit handler failed in circuit closed");
        }
        if let Some(mut app) = state.app.take() {
            if catch_unwind(AssertUnwindSafe(|| app.dispose())).is_err() {
                tracing::warn!("a component panicked while being disposed");
            }
        }
        Self::fail_pending_calls(state, BrowserCallError::CircuitEnded);
    }
}
