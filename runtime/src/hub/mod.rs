//! A SignalR-compatible hub server: the official `@microsoft/signalr` client talks to it unchanged.
//!
//! Build a [`Hub`] with [`Hub::builder`] (methods, hooks, [`HubOptions`]), then serve it at any path with
//! [`Hub::router`], merged into an app's axum router. [`bind`] makes a listener with a large accept
//! backlog; [`serve`] runs a router with `TCP_NODELAY` and peer addresses.
//!
//! ```no_run
//! use tether::hub::{Hub, HubContext, HubError};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::builder()
//!     .method("SendMessage", |ctx: HubContext, (user, text): (String, String)| async move {
//!         ctx.clients().all().send("ReceiveMessage", (user, text)).map_err(HubError::internal)?;
//!         Ok::<_, HubError>(())
//!     })
//!     .build()
//!     .expect("valid hub");
//! let app = axum::Router::new().merge(hub.router("/chathub"));
//! let listener = tether::hub::bind("127.0.0.1:5000").await?; // a backlog of 4096, not 128
//! tether::hub::serve(listener, app).await
//! # }
//! ```
//!
//! Layout, from the bottom up (no module imports one above it):
//! - `value.rs`: [`HubValue`], the one value model of payloads, and how each protocol writes it.
//!   `protocol/`: the JSON hub protocol and the MessagePack one (`protocol/msgpack.rs`; its payloads stay
//!   [`HubValue`]s), pure functions, golden-tested. `options.rs`, `error.rs`: leaves.
//! - `caller.rs`: the shared part of a connection (outbound queue, pending client results, request facts)
//!   and the [`Caller`] handle; sends only queue.
//! - `transport/`: what carries frames (WebSocket, SSE, long polling) behind the `Transport` trait; no
//!   protocol, no registry.
//! - `lifetime.rs`: the fan-out trait [`HubLifetimeManager`] and its in-memory default.
//! - `context.rs`: [`HubContext`] and [`Clients`], what hub code holds.
//! - `registry.rs`: negotiated connections by token; a connection task holds its slot through a guard.
//! - `hub.rs`: [`Hub`], its builder and methods. `raw.rs`: [`ConnectionHandler`], connections without the
//!   hub protocol (its own small task per connection, beside `connection/`).
//! - `connection/`: the one task per connection that owns the transport and all protocol state, split by
//!   job (handshake, invocations, uploads, stateful replay, timers).
//! - `http/`: the endpoint, for hubs and connection handlers alike: negotiate, origins and CORS, and one
//!   file per transport's requests; it builds transports and starts connection tasks. `serve.rs`: the HTTP/1 server with its limits.
//! - `testing.rs`: [`HubTestClient`], an in-memory client over the real connection task.

mod caller;
mod connection;
mod context;
mod error;
mod extensions;
mod http;
#[allow(clippy::module_inception)]
mod hub;
mod lifetime;
mod options;
pub(crate) mod protocol;
mod raw;
mod registry;
mod serve;
mod testing;
mod transport;
pub(crate) mod value;

pub use caller::{Caller, EncodedInvocation, TransportKind};
pub use context::{ClientProxy, Clients, HubContext};
pub use error::{
    ClientResultError, DisconnectReason, HubConfigError, HubError, Refusal, SendError,
};
pub use http::{access_token, ignore_path_case};
pub use hub::{ClientStream, Hub, HubBuilder, HubStats};
pub use lifetime::{BackplaneStats, HubLifetimeManager, InMemoryLifetimeManager};
pub use options::{AllowedOrigins, HubOptions, Transports};
pub use raw::{
    ConnectionHandler, ConnectionHandlerBuilder, RawConnection, RawMessage, RawSendError,
};
pub use serve::{bind, serve, serve_with, ServeOptions};
pub use testing::HubTestClient;
pub use value::{HubValue, Timestamp};
