//! Circuits: per-tab sessions that hold component state on the server.
//!
//! A browser tab starts a circuit with `StartCircuit` (from the prerendered page's descriptors), sends UI
//! events to it, and receives render batches. When the connection drops, the circuit is retained (state kept,
//! no socket) until the browser reconnects with `ConnectCircuit` or the circuit is evicted.
//!
//! # Modules
//! - [`hub`](CircuitHub): the circuit hub on [`crate::hub`] (section 6 of docs/protocol.md), the
//!   disconnect beacon, and the builder an application configures.
//! - [`prerender`](PageRender): root components rendered into page responses with their descriptors;
//!   [`PageRequest`] gives root props the route, query, headers and cookies.
//! - [`secret`](CircuitSecret): public ids and secrets (256-bit key, constant-time comparison, redacted).
//! - [`descriptor`](DescriptorSigner): signed, time-limited, single-use prerender descriptors.
//! - registry: the live circuits by id and by connection, the eviction queue, counters; no user code.
//! - core: one circuit's state, message processing, render acknowledgement.
//! - lifecycle: the circuit's own transitions (open, attach, detach, evict, pause, persist and end);
//!   env: what a circuit is handed (options, handlers, server functions, persistence); control: what a
//!   [`CircuitHandle`] asks of its circuit; persist: sealed blobs, [`PersistenceKey`] and key rotation;
//!   persisting: when a live circuit writes itself to the store (write-behind, fencing); resume:
//!   `ResumeCircuit` and the fence check before a reconnect; shutdown: [`CircuitHub::shutdown`] and
//!   [`serve_until_signal`]; saver: every save and removal in order and in batches, and the one
//!   write-behind timer per hub.
//! - app: the bridge from a circuit to its `tether_components::Renderer`; scoped: per-circuit services
//!   ([`CircuitHubBuilder::circuit_service`], [`SharedState`]), persisted when they opt in.
//! - protocol: method names, argument shapes, `Chunked` reassembly.
//! - [`location`](Location): the browser's URI as a component service, with change notification.
//! - [`store`]: where persisted circuits wait to be resumed ([`CircuitStore`], [`InMemoryCircuitStore`]).
//! - [`handlers`](CircuitHandler): application hooks, plus two ready ones ([`CircuitTracker`],
//!   [`IdleCircuitHandler`]); see docs/circuit-handlers.md.
//!
//! # Services: how components reach their circuit
//! Every circuit's renderer is given [`tether_components::Services`]: the application's own (added with
//! [`CircuitHubBuilder::service`], shared by all circuits and prerenders), then the circuit's
//! [`CircuitHandle`] (call the browser, navigate, close, its id) and its [`Location`]. A component reads
//! them with `cx.service::<T>()` from `init` on. A prerender gets the application's services but no
//! `CircuitHandle`, which is how a component knows it is being prerendered.
//!
//! # Using it
//! ```no_run
//! use axum::{extract::State, response::Response, routing::get, Router};
//! use maud::html;
//! use tether::circuit::{CircuitHub, PageRequest};
//! # use tether_components::ComponentRegistry;
//! # #[derive(Clone)] struct Db;
//! # async fn run(components: ComponentRegistry, db: Db) -> std::io::Result<()> {
//! async fn page(State(hub): State<CircuitHub>, request: PageRequest) -> Response {
//!     let start: i64 = request.query("start").and_then(|s| s.parse().ok()).unwrap_or(0);
//!     let mut page = hub.page();
//!     page.provide(request.location());
//!     let counter = page.root("Counter", &serde_json::json!({ "start": start })).expect("registered");
//!     let script = page.boot_script();
//!     // `Cache-Control: no-store`: the page's descriptors are single-use.
//!     page.respond(html! { body { (counter) (script) } })
//! }
//! let hub = CircuitHub::builder(components).service(db).build().expect("valid options");
//! let app = Router::new().route("/", get(page)).with_state(hub.clone()).merge(hub.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! tether::hub::serve(listener, app).await
//! # }
//! ```
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
//! disconnected circuit holds no task and no socket. Measured with 10,000 of each
//! (`tether-load circuits shapes`, figures in `docs/performance.md`, "Circuits"): 296 bytes per circuit for
//! the lock shape against 3,362 for a task with an mpsc inbox, with the same 256-byte state stand-in. The
//! task shape alone would spend the whole of a circuit's 2–4 KB share of the 16 KB budget; with the lock
//! shape an idle connected counter circuit costs 10.4 KB all in, connection included (3.3 KB over a bare
//! connection). The price of the lock design is that component code runs on the
//! connection's task: a handler that blocks for a long time holds up its own connection (and one runtime
//! worker), so long work belongs in async tasks that report back (`CircuitHandle::render`).
//!
//! # Ordering of lifetime events
//! Start: opened → connection up → start middleware (creates the root components) → first render.
//! Reconnect: (old connection closed, connection down, on takeover) → connect middleware → connection up →
//! every unacknowledged batch re-sent in id order → render if changes are pending.
//! End: `T.Error` to a connected browser → connection down (if connected) → closed → components disposed →
//! pending browser calls fail.

pub(crate) mod acks;
mod app;
mod control;
pub(crate) mod core;
mod descriptor;
mod env;
mod handle;
mod handlers;
mod hub;
mod idle;
mod lifecycle;
mod location;
mod options;
mod persist;
mod persisting;
mod prerender;
pub(crate) mod protocol;
pub(crate) mod registry;
mod resume;
mod saver;
mod scoped;
mod secret;
mod shutdown;
pub mod store;
mod tracking;

#[cfg(test)]
mod tests;

pub use self::acks::AckError;
pub use self::descriptor::{
    Descriptor, DescriptorError, DescriptorKey, DescriptorSigner, ResponseDescriptors,
};
pub use self::env::ServerFunctionFuture;
pub use self::handle::{BrowserCallError, CircuitHandle};
pub use self::handlers::{CircuitHandler, CircuitHandlers, HandlerError, InboundActivity, Next};
pub use self::hub::{CircuitHub, CircuitHubBuilder, CircuitHubError};
pub use self::idle::{IdleCircuitHandler, IdleOptions};
pub use self::location::{Location, LocationChange, LocationSubscription};
pub use self::options::CircuitOptions;
pub use self::persist::{PersistenceKey, PersistenceKeyError};
pub use self::prerender::{
    page_response, PageRender, PageRequest, PrerenderError, PAGE_CACHE_CONTROL,
};
pub use self::protocol::{DEFAULT_HUB_PATH, PROTOCOL_VERSION};
pub use self::registry::CircuitMetrics;
pub use self::scoped::SharedState;
pub use self::secret::{CircuitId, CircuitSecret, MalformedSecret};
pub use self::shutdown::{serve_until_signal, ShutdownReport};
pub use self::store::{
    CircuitStore, ClaimedCircuit, InMemoryCircuitStore, SaveOutcome, StoreError, StoreFuture,
    StoredCircuit,
};
pub use self::tracking::CircuitTracker;
