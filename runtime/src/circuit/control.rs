//! How a [`CircuitHandle`](super::CircuitHandle) acts on its circuit: the circuit's side of
//! [`CircuitControl`]. Work asked for from inside the circuit's own callbacks (where its lock is held) runs
//! right after the current message instead of deadlocking.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::core::{
    send_locked, Circuit, CircuitState, EndReason, Link, Outbound, LINK_CONNECTED, LINK_ENDED,
};
use super::handle::{BrowserCallError, CallAnswer, CircuitControl};
use super::saver::PersistCause;

impl CircuitControl for Circuit {
    fn is_alive(&self) -> bool {
        self.link_kind.load(Ordering::Acquire) != LINK_ENDED
    }

    fn is_connected(&self) -> bool {
        self.link_kind.load(Ordering::Acquire) == LINK_CONNECTED
    }

    fn close(self: Arc<Self>) {
        self.run_soon(|circuit, state| {
            circuit.end_locked(state, EndReason::Closed("closed by the application"));
        });
    }

    fn begin_browser_call(
        &self,
        identifier: &str,
        args: &[Value],
    ) -> Result<(u64, CallAnswer, Duration), BrowserCallError> {
        let (reply, answer) = oneshot::channel();
        let mut state = self.state.lock();
        match state.link {
            Link::Connected(_) => {}
            Link::Disconnected => return Err(BrowserCallError::Disconnected),
            Link::Ended => return Err(BrowserCallError::CircuitEnded),
        }
        state.next_call_id += 1;
        let call_id = state.next_call_id;
        state.pending_calls.push((call_id, reply));
        send_locked(
            &mut state,
            Outbound::InvokeJs {
                call_id,
                identifier,
                args,
            },
        );
        Ok((call_id, answer, self.env.options.browser_call_timeout))
    }

    fn uploads(&self) -> Arc<crate::upload::UploadTransfers> {
        self.uploads.get_or_init(Arc::default).clone()
    }

    fn abandon_browser_call(&self, call_id: u64) {
        self.state
            .lock()
            .pending_calls
            .retain(|(id, _)| *id != call_id);
    }

    fn disconnect_transport(self: Arc<Self>) -> bool {
        if let Some(state) = self.state.try_lock() {
            return abort_locked(&state);
        }
        let connected = self.is_connected();
        tokio::spawn(async move {
            abort_locked(&self.state.lock());
        });
        connected
    }

    fn navigate(self: Arc<Self>, uri: &str, replace: bool) -> bool {
        if let Some(mut state) = self.state.try_lock() {
            return send_locked(&mut state, Outbound::Navigate { uri, replace });
        }
        let connected = self.is_connected();
        let uri = uri.to_owned();
        tokio::spawn(async move {
            send_locked(
                &mut self.state.lock(),
                Outbound::Navigate { uri: &uri, replace },
            );
        });
        connected
    }

    fn schedule_render(self: Arc<Self>) {
        if self.render_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(async move {
            let _entered = self.span.enter();
            let mut state = self.state.lock();
            self.render_scheduled.store(false, Ordering::Release);
            self.pump_locked(&mut state);
        });
    }

    fn render(self: Arc<Self>) -> bool {
        let Some(mut state) = self.state.try_lock() else {
            let alive = self.is_alive();
            self.schedule_render();
            return alive;
        };
        let _entered = self.span.enter();
        self.pump_locked(&mut state)
    }

    fn pause(self: Arc<Self>) -> bool {
        if self.env.persistence.is_none() || !self.is_alive() {
            return false;
        }
        self.run_soon(|circuit, state| {
            circuit.persist_and_end_locked(state, PersistCause::Pause);
        });
        true
    }
}

impl Circuit {
    /// Runs `work` with the state now when the lock is free, else on a task right after the current
    /// holder (a circuit callback calling its own handle must not deadlock).
    fn run_soon(
        self: Arc<Self>,
        work: impl FnOnce(&Arc<Self>, &mut CircuitState) + Send + 'static,
    ) {
        if let Some(mut state) = self.state.try_lock() {
            let _entered = self.span.enter();
            work(&self, &mut state);
            return;
        }
        tokio::spawn(async move {
            let _entered = self.span.enter();
            let mut state = self.state.lock();
            work(&self, &mut state);
        });
    }
}

/// Aborts the current connection's transport, if any. Returns whether there was one.
fn abort_locked(state: &CircuitState) -> bool {
    match &state.link {
        Link::Connected(sink) => {
            tracing::info!(
                connection_id = sink.connection_id(),
                "connection cut by the application (disconnect_transport)"
            );
            sink.abort();
            true
        }
        _ => false,
    }
}
