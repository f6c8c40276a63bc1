//! The registry of negotiated connections, by token.
//!
//! A slot is created by negotiate, takes a transport on the first transport request, and is removed by the
//! connection task's [`SlotGuard`] when the connection ends (or after `disconnect_timeout` if no transport
//! ever came).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::caller::TransportKind;
use super::transport::{Inbound, PollState, WsTransport};

pub(crate) enum SlotState {
    Negotiated,
    WebSockets {
        reconnect: Option<mpsc::Sender<Box<WsTransport>>>,
    },
    ServerSentEvents {
        inbound: mpsc::Sender<Inbound>,
        streaming: bool,
    },
    LongPolling {
        inbound: mpsc::Sender<Inbound>,
        polls: Arc<PollState>,
    },
}

impl SlotState {
    pub(crate) fn transport(&self) -> Option<TransportKind> {
        match self {
            SlotState::Negotiated => None,
            SlotState::WebSockets { .. } => Some(TransportKind::WebSockets),
            SlotState::ServerSentEvents { .. } => Some(TransportKind::ServerSentEvents),
            SlotState::LongPolling { .. } => Some(TransportKind::LongPolling),
        }
    }
}

pub(crate) struct Slot {
    pub(crate) id: Arc<str>,
    pub(crate) stateful: bool,
    pub(crate) state: Mutex<SlotState>,
    /// Set once a connection task runs for this slot; until then the slot expires after the disconnect
    /// timeout (negotiated but never connected, or a WebSocket upgrade that failed).
    pub(crate) started: AtomicBool,
    /// The slot's place among pending handshakes, handed to the connection task when a transport starts.
    pub(crate) ticket: Mutex<Option<PendingTicket>>,
    /// Set while a `POST` is being handed to the connection: one at a time, so bodies cannot pile up.
    pub(crate) posting: AtomicBool,
}

/// A place among the connections not yet past the hub handshake (`HubOptions::max_pending_handshakes`);
/// dropping it frees the place.
pub(crate) struct PendingTicket(Arc<AtomicUsize>);

impl Drop for PendingTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Negotiated connections by token.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Arc<Mutex<HashMap<String, Arc<Slot>>>>,
    pending: Arc<AtomicUsize>,
}

impl Registry {
    /// A pending-handshake place, or `None` when `max` are taken.
    pub(crate) fn ticket(&self, max: usize) -> Option<PendingTicket> {
        if self.pending.fetch_add(1, Ordering::AcqRel) >= max {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(PendingTicket(self.pending.clone()))
    }

    /// The guard a connection task holds for its slot: the slot goes when the guard is dropped, so the
    /// task never calls back into the registry.
    pub(crate) fn guard(&self, token: &str) -> SlotGuard {
        SlotGuard {
            slots: self.slots.clone(),
            token: token.to_owned(),
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<Slot>> {
        self.slots.lock().get(token).cloned()
    }

    pub(crate) fn insert(&self, token: String, slot: Arc<Slot>) {
        self.slots.lock().insert(token, slot);
    }

    /// Forgets `token` if no transport has started on it.
    pub(crate) fn remove_unstarted(&self, token: &str) {
        let mut slots = self.slots.lock();
        if slots
            .get(token)
            .is_some_and(|s| !s.started.load(Ordering::Acquire))
        {
            slots.remove(token);
        }
    }
}

/// Keeps a connection's slot in the registry for as long as the connection task holds it.
pub(crate) struct SlotGuard {
    slots: Arc<Mutex<HashMap<String, Arc<Slot>>>>,
    token: String,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.lock().remove(&self.token);
    }
}

/// 16 random bytes, base64url without padding (22 characters).
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
