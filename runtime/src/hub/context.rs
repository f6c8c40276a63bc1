//! What hub code sees of a connection: [`HubContext`], and [`Clients`] for fan-out through the hub's
//! [`HubLifetimeManager`]. Both only queue messages (see [`Caller`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::caller::{encode_arguments, Caller, ConnectionShared, EncodedInvocation, TransportKind};
use super::error::{ClientResultError, SendError};
use super::lifetime::HubLifetimeManager;

/// The per-invocation (and per-hook) view of a connection given to hub code. Cheap to clone.
#[derive(Clone)]
pub struct HubContext {
    pub(crate) conn: Arc<ConnectionShared>,
    pub(crate) lifetime: Arc<dyn HubLifetimeManager>,
}

impl std::fmt::Debug for HubContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubContext")
            .field("connection_id", &self.conn.id)
            .finish()
    }
}

impl HubContext {
    /// The connection id.
    pub fn connection_id(&self) -> &str {
        &self.conn.id
    }

    /// The user id from the hub's user-id provider, if any.
    pub fn user_id(&self) -> Option<Arc<str>> {
        self.conn.user_id.lock().clone()
    }

    /// Headers of the HTTP request that started the transport (the WebSocket upgrade, the SSE `GET` or the
    /// first long poll), less the WebSocket handshake's own (`Connection`, `Upgrade`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, `Sec-WebSocket-Extensions`), which describe the socket, not the client.
    pub fn headers(&self) -> &HeaderMap {
        self.conn.request.headers()
    }

    /// The value of cookie `name` from the request's `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<String> {
        crate::request::cookie(self.conn.request.headers(), name).map(str::to_owned)
    }

    /// Every cookie of the request, in order.
    pub fn cookies(&self) -> Vec<(String, String)> {
        crate::request::cookies(self.conn.request.headers())
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// The path of the HTTP request that started the transport (`/chathub`), as the client sent it.
    pub fn request_path(&self) -> &str {
        self.conn.request.path()
    }

    /// The query string of that request (`room=7&lang=en`), without the connection token (`id`), which
    /// the HTTP transports carry there; empty when there is none. Like ASP.NET Core's
    /// `Context.GetHttpContext().Request.Query`, it holds what the client put in the hub URL.
    pub fn query(&self) -> &str {
        self.conn.request.query()
    }

    /// The first decoded value of query parameter `name` (see [`HubContext::query`]).
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::request::value(self.query(), name).map(std::borrow::Cow::into_owned)
    }

    /// The peer address, when the app is served with connect info (see [`crate::hub::serve`]).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.conn.request.remote_addr
    }

    /// The transport of this connection.
    pub fn transport(&self) -> TransportKind {
        self.conn.request.transport
    }

    /// A handle to this connection for sending from any task later.
    pub fn caller(&self) -> Caller {
        Caller {
            shared: self.conn.clone(),
        }
    }

    /// Fan-out to other connections, groups and users.
    pub fn clients(&self) -> Clients {
        Clients {
            manager: self.lifetime.clone(),
            caller: Some(self.conn.id.clone()),
        }
    }

    /// Adds this connection to `group`.
    pub fn add_to_group(&self, group: &str) {
        self.lifetime.add_to_group(&self.conn.id, group);
    }

    /// Removes this connection from `group`.
    pub fn remove_from_group(&self, group: &str) {
        self.lifetime.remove_from_group(&self.conn.id, group);
    }

    /// Stores per-connection state of type `T`, returning the previous value.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.conn.extensions.lock().insert(value)
    }

    /// A clone of the per-connection state of type `T`.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.conn.extensions.lock().get::<T>().cloned()
    }

    /// Removes and returns the per-connection state of type `T`.
    pub fn remove_extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.conn.extensions.lock().remove::<T>()
    }
}

/// Whom a [`ClientProxy`] sends to.
#[derive(Debug, Clone)]
enum Audience {
    All(Vec<Arc<str>>),
    Connection(String),
    Group(String, Vec<Arc<str>>),
    User(String),
}

/// Fan-out: sends through the hub's [`HubLifetimeManager`] (the in-memory one by default, or a backplane).
#[derive(Clone)]
pub struct Clients {
    pub(crate) manager: Arc<dyn HubLifetimeManager>,
    pub(crate) caller: Option<Arc<str>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("caller", &self.caller)
            .finish()
    }
}

impl Clients {
    fn proxy(&self, audience: Audience) -> ClientProxy {
        ClientProxy {
            manager: self.manager.clone(),
            audience,
        }
    }

    /// Every connection of the hub.
    pub fn all(&self) -> ClientProxy {
        self.proxy(Audience::All(Vec::new()))
    }

    /// Every connection except the calling one (all, outside a hub method).
    pub fn others(&self) -> ClientProxy {
        self.proxy(Audience::All(self.caller.iter().cloned().collect()))
    }

    /// One connection by id.
    pub fn client(&self, connection_id: &str) -> ClientProxy {
        self.proxy(Audience::Connection(connection_id.to_owned()))
    }

    /// Every connection in `group`.
    pub fn group(&self, group: &str) -> ClientProxy {
        self.proxy(Audience::Group(group.to_owned(), Vec::new()))
    }

    /// Every connection in `group` except the calling one.
    pub fn others_in_group(&self, group: &str) -> ClientProxy {
        self.proxy(Audience::Group(
            group.to_owned(),
            self.caller.iter().cloned().collect(),
        ))
    }

    /// Every connection of user `user_id`.
    pub fn user(&self, user_id: &str) -> ClientProxy {
        self.proxy(Audience::User(user_id.to_owned()))
    }

    /// Adds connection `connection_id` to `group`.
    pub fn add_to_group(&self, connection_id: &str, group: &str) {
        self.manager.add_to_group(connection_id, group);
    }

    /// Removes connection `connection_id` from `group`.
    pub fn remove_from_group(&self, connection_id: &str, group: &str) {
        self.manager.remove_from_group(connection_id, group);
    }
}

/// A set of connections to send an invocation to; see [`Clients`].
pub struct ClientProxy {
    manager: Arc<dyn HubLifetimeManager>,
    audience: Audience,
}

impl ClientProxy {
    /// Invokes client method `target` on every connection of this proxy without waiting. Connections whose
    /// queue is full are skipped with a logged warning; for a single connection the error is returned.
    pub fn send(&self, target: &str, arguments: impl Serialize) -> Result<(), SendError> {
        let message = EncodedInvocation::new(target, arguments)?;
        self.send_encoded(&message)
    }

    /// Invokes client method `target` on the one connection of a [`Clients::client`] proxy and waits up to
    /// `timeout` for its result, as [`Caller::invoke`] does (ASP.NET Core's `Clients.Client(id).InvokeAsync`).
    /// Through a backplane the connection may live on another server. Any other proxy, or a connection no
    /// server holds, fails with [`ClientResultError::Send`] (or, through a backplane, a timeout).
    pub async fn invoke<R: DeserializeOwned>(
        &self,
        target: &str,
        arguments: impl Serialize,
        timeout: Duration,
    ) -> Result<R, ClientResultError> {
        let Audience::Connection(id) = &self.audience else {
            return Err(ClientResultError::Send(SendError::serialize(
                "",
                "a client result needs a single connection (Clients::client)".to_owned(),
            )));
        };
        let args = encode_arguments(arguments)
            .map_err(|e| ClientResultError::Send(SendError::serialize(id, e)))?;
        let raw = self
            .manager
            .invoke_connection(id, target, args, timeout)
            .await?;
        serde_json::from_str(raw.get()).map_err(|e| ClientResultError::InvalidResult(e.to_string()))
    }

    /// Sends an already encoded invocation.
    pub fn send_encoded(&self, message: &EncodedInvocation) -> Result<(), SendError> {
        match &self.audience {
            Audience::All(excluded) => {
                self.manager.send_all(message, excluded);
                Ok(())
            }
            Audience::Connection(id) => self.manager.send_connection(id, message),
            Audience::Group(group, excluded) => {
                self.manager.send_group(group, message, excluded);
                Ok(())
            }
            Audience::User(user) => {
                self.manager.send_user(user, message);
                Ok(())
            }
        }
    }
}
