//! What a circuit is handed when it opens: its environment ([`CircuitEnv`]: options, handlers, server
//! functions, persistence), shared by every circuit of one hub and read-only after the hub is built.
//!
//! The circuit owns its lifecycle (open, attach, detach, persist, resume, end, in `lifecycle`); it sees
//! the registry only through `core::CircuitDirectory`, so `core` does not import `registry`.

use std::collections::HashMap;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::handle::CircuitHandle;
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

/// The future a server function returns.
pub type ServerFunctionFuture = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

pub(crate) type ServerFunction =
    Arc<dyn Fn(CircuitHandle, Vec<Value>) -> ServerFunctionFuture + Send + Sync>;
