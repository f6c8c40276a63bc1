//! What a circuit is handed when it opens: its environment ([`CircuitEnv`]: options, handlers, server
//! functions, persistence) and the [`CircuitDirectory`] that lists it.
//!
//! The circuit owns its lifecycle (open, attach, detach, persist, resume, end, in `lifecycle`); the
//! registry implements `CircuitDirectory` and only keeps maps and the eviction queue. Because the circuit
//! sees the registry through this trait, `core` does not import `registry`.
//!
//! Lock order: a circuit calls its directory while holding its own state lock; a directory never takes a
//! circuit's lock while holding its own.

use std::collections::HashMap;
use std::sync::Arc;

use super::core::{Circuit, ServerFunction};
use super::handlers::CircuitHandlers;
use super::options::CircuitOptions;
use super::persist::Persistence;

/// Shared by every circuit of one hub; read-only after the hub is built.
pub(crate) struct CircuitEnv {
    pub(crate) options: CircuitOptions,
    pub(crate) handlers: CircuitHandlers,
    pub(crate) server_functions: HashMap<String, ServerFunction>,
    /// The store and the sealing key; `None` when persistence is off.
    pub(crate) persistence: Option<Persistence>,
}

/// Where circuits are listed (the registry). Every method is a map update; none runs application code.
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
