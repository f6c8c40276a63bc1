//! Circuits: per-tab sessions that hold component state on the server.
//!
//! A browser tab starts a circuit with `StartCircuit` (from the prerendered page's descriptors), sends UI
//! events to it, and receives render batches. When the connection drops, the circuit is retained (state kept,
//! no socket) until the browser reconnects with `ConnectCircuit` or the circuit is evicted.
//!
//! # Modules
//! - [`secret`](CircuitSecret): public ids and secrets (256-bit key, constant-time comparison, redacted).
//! - [`descriptor`](DescriptorSigner): signed, time-limited, single-use prerender descriptors.
//! - registry: the live circuits, lifecycle transitions, eviction by count and by time, counters.
//! - core: one circuit's state, message processing, render acknowledgement and ending.
//! - [`handlers`](CircuitHandler): application hooks, plus two ready ones ([`CircuitTracker`],
//!   [`IdleCircuitHandler`]).
//!
//! # Execution: one lock per circuit, driven by the delivering task
//! All of a circuit's mutable state (component tree, acknowledgement buffer, handler chain, pending browser
//! calls, connection link) sits in one `parking_lot::Mutex`. Whoever delivers a message takes the lock,
//! processes the message to the end (handlers, component code, render, queueing the batch on the
//! connection) and releases it. Messages from one connection arrive in order from that connection's receive
//! task, so a circuit processes its inbound messages in order and one at a time; different circuits share
//! nothing but the registry map (held only for map updates), so they never wait on each other. Component code
//! runs inside `catch_unwind`: a panic ends that circuit (with a logged reason and `T.Error` to its browser)
//! and nothing else.
//!
//! The alternative, a Tokio task per circuit reading an mpsc inbox, costs a task (its future's state plus a
//! header) and a channel (a block of slots allocated up front) for every circuit, connected or not, and a
//! hop between tasks on every event. With the lock, an idle circuit is only its data: a retained
//! disconnected circuit holds no task and no socket. The measured cost of both shapes is in
//! `docs/performance.md` ("Circuits"). The price of the lock design is that component code runs on the
//! connection's task: a handler that blocks for a long time holds up its own connection (and one runtime
//! worker), so long work belongs in async tasks that report back (`CircuitHandle::render`).
//!
//! # Ordering of lifetime events
//! Start: opened → connection up → start middleware (creates the root components) → first render.
//! Reconnect: (old connection closed, connection down, on takeover) → connect middleware → connection up →
//! every unacknowledged batch re-sent in id order → render if changes are pending.
//! End: `T.Error` to a connected browser → connection down (if connected) → closed → components disposed →
//! pending browser calls fail.

mod acks;
mod app;
pub(crate) mod core;
mod descriptor;
mod handlers;
mod hub;
mod idle;
mod options;
mod prerender;
pub(crate) mod protocol;
pub(crate) mod registry;
mod secret;
mod tracking;

#[cfg(test)]
mod tests;

pub use self::acks::AckError;
pub use self::core::{BrowserCallError, CircuitHandle, ServerFunctionFuture};
pub use self::descriptor::{
    Descriptor, DescriptorError, DescriptorKey, DescriptorSigner, ResponseDescriptors,
};
pub use self::handlers::{CircuitHandler, CircuitHandlers, HandlerError, InboundActivity, Next};
pub use self::hub::{CircuitHub, CircuitHubBuilder, CircuitHubError};
pub use self::idle::{IdleCircuitHandler, IdleOptions};
pub use self::options::CircuitOptions;
pub use self::prerender::{PageRender, PageRequest, PrerenderError};
pub use self::protocol::{DEFAULT_HUB_PATH, PROTOCOL_VERSION};
pub use self::registry::CircuitMetrics;
pub use self::secret::{CircuitId, CircuitSecret, MalformedSecret};
pub use self::tracking::CircuitTracker;
