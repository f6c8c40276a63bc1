//! A SignalR-compatible hub server: the official `@microsoft/signalr` client talks to it unchanged.
//!
//! Build a [`Hub`] with [`Hub::builder`] (methods, hooks, [`HubOptions`]), then serve it at any path with
//! [`Hub::router`], merged into an app's axum router. [`serve`] runs a router with `TCP_NODELAY` and peer
//! addresses.
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
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! tether::hub::serve(listener, app).await
//! # }
//! ```
//!
//! Layout and invariants:
//! - `protocol.rs`: the JSON hub protocol, pure functions, golden-tested.
//! - `http.rs`: negotiate, transports, status codes, origins/CORS, the registry of negotiated connections.
//! - `connection.rs`: the one task per connection that owns the transport and all protocol state.
//! - `context.rs`: handles hub code holds ([`HubContext`], [`Caller`], [`Clients`]); they only queue.
//! - `lifetime.rs`: the fan-out trait [`HubLifetimeManager`] and its in-memory default.
//! - `testing.rs`: [`HubTestClient`], an in-memory client over the real connection task.

mod connection;
mod context;
mod error;
mod http;
#[allow(clippy::module_inception)]
mod hub;
mod lifetime;
mod options;
pub(crate) mod protocol;
mod registry;
mod serve;
mod testing;
mod transport;

pub use context::{Caller, ClientProxy, Clients, EncodedInvocation, HubContext, TransportKind};
pub use error::{ClientResultError, DisconnectReason, HubConfigError, HubError, SendError};
pub use hub::{ClientStream, Hub, HubBuilder};
pub use lifetime::{HubLifetimeManager, InMemoryLifetimeManager};
pub use options::{AllowedOrigins, HubOptions, Transports};
pub use serve::{serve, serve_with, ServeOptions};
pub use testing::HubTestClient;
