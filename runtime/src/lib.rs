//! Tether: a server-side UI runtime. A SignalR-compatible hub carries UI events from the browser to a
//! per-tab circuit, which re-renders components and sends render batches back.

pub mod auth;
pub mod boot_script;
pub mod circuit;
pub mod download;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hub;
pub mod metrics;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
pub mod router;
pub mod upload;

pub use hub::{
    Caller, Clients, DisconnectReason, Hub, HubBuilder, HubContext, HubError, HubOptions,
};
