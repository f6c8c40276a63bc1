//! [`Hub`] and [`HubBuilder`]: method registration, hooks, options, and the fan-out manager.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::request::Parts;
use axum::http::HeaderMap;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use super::context::{Clients, HubContext};
use super::error::{DisconnectReason, HubConfigError, HubError, Refusal};
use super::lifetime::{BackplaneStats, HubLifetimeManager, InMemoryLifetimeManager};
use super::options::HubOptions;
use super::protocol::{msgpack, Payload};
use super::registry::Registry;
use super::value::{self, HubValue};

pub(crate) type UnaryFn = dyn Fn(HubContext, Payload, Vec<ClientStream>) -> BoxFuture<'static, Result<Payload, HubError>>
    + Send
    + Sync;
pub(crate) type StreamFn = dyn Fn(
        HubContext,
        Payload,
        Vec<ClientStream>,
    ) -> Result<BoxStream<'static, Result<Payload, HubError>>, HubError>
    + Send
    + Sync;
type ConnectedFn = dyn Fn(HubContext) -> BoxFuture<'static, ()> + Send + Sync;
type DisconnectedFn = dyn Fn(HubContext, DisconnectReason) -> BoxFuture<'static, ()> + Send + Sync;
type UserIdFn = dyn Fn(&HeaderMap) -> Option<String> + Send + Sync;
pub(crate) type AuthorizeFn = dyn Fn(&Parts) -> Result<(), Refusal> + Send + Sync;

#[derive(Clone)]
pub(crate) enum MethodHandler {
    Unary(Arc<UnaryFn>),
    Stream(Arc<StreamFn>),
}

#[derive(Clone)]
pub(crate) struct Method {
    /// The name as registered (for messages); lookup uses the lower-cased key.
    pub(crate) name: Arc<str>,
    pub(crate) handler: MethodHandler,
    pub(crate) accepts_streams: bool,
}

/// The shared state of a built hub.
pub(crate) struct HubInner {
    /// Methods by lower-cased name.
    pub(crate) methods: HashMap<String, Method>,
    /// The same methods by their names as registered: what clients send, found with one hash.
    pub(crate) registered: HashMap<Arc<str>, Method>,
    pub(crate) options: HubOptions,
    pub(crate) lifetime: Arc<dyn HubLifetimeManager>,
    pub(crate) on_connected: Option<Arc<ConnectedFn>>,
    pub(crate) on_disconnected: Option<Arc<DisconnectedFn>>,
    pub(crate) user_id: Option<Arc<UserIdFn>>,
    pub(crate) authorize: Option<Arc<AuthorizeFn>>,
    pub(crate) registry: Registry,
    pub(crate) counters: HubCounters,
}

/// Totals since the hub was built (see [`Hub::stats`]).
#[derive(Default)]
pub(crate) struct HubCounters {
    pub(crate) connections_total: AtomicU64,
    pub(crate) messages_received: AtomicU64,
    pub(crate) messages_sent: AtomicU64,
}

/// A hub's connection and message counts on this server (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Connections past the handshake now.
    pub connections: usize,
    /// Connections that completed the handshake since the hub was built.
    pub connections_total: u64,
    /// Hub messages received from clients (pings and acks included).
    pub messages_received: u64,
    /// Hub messages queued by the server and written to clients (pings and handshakes not counted).
    pub messages_sent: u64,
    /// The backplane's counters, when the hub fans out through one.
    pub backplane: Option<BackplaneStats>,
}

impl HubInner {
    pub(crate) fn method(&self, name: &str) -> Option<&Method> {
        if let Some(m) = self.registered.get(name) {
            return Some(m);
        }
        // Names match case-insensitively: a short name is lower-cased on the stack, without allocating.
        let mut buffer = [0u8; 64];
        match buffer.get_mut(..name.len()) {
            Some(lower) => {
                lower.copy_from_slice(name.as_bytes());
                lower.make_ascii_lowercase();
                // ASCII lower-casing keeps UTF-8 valid.
                std::str::from_utf8(lower)
                    .ok()
                    .and_then(|lower| self.methods.get(lower))
            }
            None => self.methods.get(&name.to_ascii_lowercase()),
        }
    }
}

/// A built hub: its methods, hooks and options. Serve it with [`Hub::router`]. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.inner.methods.values().map(|m| &m.name).collect();
        names.sort();
        f.debug_struct("Hub").field("methods", &names).finish()
    }
}

impl Hub {
    /// Starts building a hub.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// Fan-out from outside hub methods (background tasks): all, a connection, a group, a user.
    pub fn clients(&self) -> Clients {
        Clients {
            manager: self.inner.lifetime.clone(),
            caller: None,
        }
    }

    /// The options this hub was built with.
    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    /// Connection and message counts of this hub on this server.
    pub fn stats(&self) -> HubStats {
        let c = &self.inner.counters;
        HubStats {
            connections: self.inner.lifetime.local_connection_count(),
            connections_total: c.connections_total.load(Ordering::Relaxed),
            messages_received: c.messages_received.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            backplane: self.inner.lifetime.backplane_stats(),
        }
    }
}

/// Builds a [`Hub`]: register methods and hooks, then [`HubBuilder::build`].
///
/// Method names match case-insensitively. Typed methods take their arguments as a tuple deserialised from
/// the invocation's `arguments` array (`(String, u32)`, `(Value,)`, `()` for none); a wrong count or type
/// answers that invocation with an error and the connection lives on.
#[derive(Default)]
pub struct HubBuilder {
    methods: HashMap<String, Method>,
    options: HubOptions,
    lifetime: Option<Arc<dyn HubLifetimeManager>>,
    on_connected: Option<Arc<ConnectedFn>>,
    on_disconnected: Option<Arc<DisconnectedFn>>,
    user_id: Option<Arc<UserIdFn>>,
    authorize: Option<Arc<AuthorizeFn>>,
    duplicate: Option<String>,
    /// A builder call that failed (reported by `build`).
    invalid: Option<String>,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubBuilder")
            .field("methods", &self.methods.len())
            .field("options", &self.options)
            .finish()
    }
}

/// Decodes a method's argument tuple from the `arguments` array. A MessagePack payload is read natively
/// first, so arguments of type [`HubValue`] (or bytes) keep binary data and timestamps; when the types
/// cannot hold those (a `String`, a `serde_json::Value`), the arguments are read from their JSON form, as
/// .NET's JSON writes them (base64, ISO 8601).
fn decode_arguments<A: DeserializeOwned>(method: &str, payload: Payload) -> Result<A, HubError> {
    if let Payload::MsgPack(value) = &payload {
        let empty = matches!(value, HubValue::Array(items) if items.is_empty());
        if let Ok(a) = value::from_value::<A>(value.clone()) {
            return Ok(a);
        }
        if empty {
            if let Ok(a) = value::from_value::<A>(HubValue::Null) {
                return Ok(a);
            }
        }
    }
    let raw = payload.json();
    match serde_json::from_str::<A>(raw.get()) {
        Ok(a) => Ok(a),
        Err(e) => {
            // `()` deserialises from `null`, not from `[]`: let argument-less methods take `()`.
            if raw.get().trim() == "[]" {
                if let Ok(a) = serde_json::from_str::<A>("null") {
                    return Ok(a);
                }
            }
            let given = serde_json::from_str::<Vec<&RawValue>>(raw.get())
                .map(|v| v.len())
                .unwrap_or(0);
            let reason = e.to_string();
            let reason = if reason.starts_with("trailing characters") {
                "too many arguments".to_owned()
            } else {
                reason
            };
            Err(HubError::new(format!(
                "Invalid arguments for '{method}' ({given} given): {reason}."
            )))
        }
    }
}

/// Encodes a result or stream item in the connection's protocol: MessagePack keeps binary data and
/// timestamps ([`HubValue`]); JSON is raw text.
fn encode_result<R: Serialize + 'static>(value: &R, ctx: &HubContext) -> Result<Payload, HubError> {
    if ctx.conn.uses_msgpack() {
        return msgpack::encode_payload(value).map_err(HubError::internal);
    }
    // Most calls answer nothing (`()`, or `Value::Null` from the circuit hub's methods), and most of those
    // are fire-and-forget: `null` is written as it is, without a serializer and its scratch buffer.
    let any: &dyn std::any::Any = value;
    if any.is::<()>() || any.downcast_ref::<Value>().is_some_and(Value::is_null) {
        let null = RawValue::from_string("null".to_owned()).map_err(HubError::internal)?;
        return Ok(Payload::Json(null));
    }
    serde_json::value::to_raw_value(value)
        .map(Payload::Json)
        .map_err(HubError::internal)
}

impl HubBuilder {
    fn insert(&mut self, name: &str, handler: MethodHandler, accepts_streams: bool) {
        let key = name.to_ascii_lowercase();
        if self.methods.contains_key(&key) {
            self.duplicate.get_or_insert_with(|| name.to_owned());
        }
        self.methods.insert(
            key,
            Method {
                name: Arc::from(name),
                handler,
                accepts_streams,
            },
        );
    }

    /// Registers an async method with typed arguments (a tuple) and a serialisable result.
    ///
    /// ```
    /// use tether::hub::{Hub, HubContext, HubError};
    /// let hub = Hub::builder()
    ///     .method("Echo", |_ctx: HubContext, (value,): (serde_json::Value,)| async move {
    ///         Ok::<_, HubError>(value)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn method<A, R, F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(HubContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, HubError>> + Send + 'static,
    {
        let method = name.to_owned();
        let f: Arc<UnaryFn> =
            Arc::new(
                move |ctx, payload, _streams| match decode_arguments::<A>(&method, payload) {
                    Ok(args) => {
                        let fut = handler(ctx.clone(), args);
                        async move { encode_result(&fut.await?, &ctx) }.boxed()
                    }
                    Err(e) => futures_util::future::ready(Err(e)).boxed(),
                },
            );
        self.insert(name, MethodHandler::Unary(f), false);
        self
    }

    /// Registers an async method that takes the raw argument list and returns any JSON value.
    pub fn raw_method<F, Fut>(self, name: &str, handler: F) -> Self
    where
        F: Fn(HubContext, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HubError>> + Send + 'static,
    {
        // A list of JSON values is just another typed argument list.
        self.method(name, handler)
    }

    /// Registers a method that receives client-to-server streams (announced by the client in `streamIds`,
    /// e.g. a `signalR.Subject` argument in JavaScript) besides its typed arguments. The streams come in the
    /// order of `streamIds`; each yields the client's items until the client completes it.
    pub fn upload_method<A, R, F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(HubContext, A, Vec<ClientStream>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, HubError>> + Send + 'static,
    {
        let method = name.to_owned();
        let f: Arc<UnaryFn> =
            Arc::new(
                move |ctx, payload, streams| match decode_arguments::<A>(&method, payload) {
                    Ok(args) => {
                        let fut = handler(ctx.clone(), args, streams);
                        async move { encode_result(&fut.await?, &ctx) }.boxed()
                    }
                    Err(e) => futures_util::future::ready(Err(e)).boxed(),
                },
            );
        self.insert(name, MethodHandler::Unary(f), true);
        self
    }

    /// Registers a server-to-client streaming method (the client calls it with `stream(...)`). Each item
    /// becomes a StreamItem; the end of the stream (or an `Err` item, which ends it) becomes the Completion.
    /// When the client cancels, the stream is dropped.
    pub fn stream_method<A, R, F, S>(mut self, name: &str, handler: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(HubContext, A) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<R, HubError>> + Send + 'static,
    {
        let method = name.to_owned();
        let f: Arc<StreamFn> = Arc::new(move |ctx, payload, _streams| {
            let args = decode_arguments::<A>(&method, payload)?;
            let encoding = ctx.clone();
            Ok(handler(ctx, args)
                .map(move |item| item.and_then(|v| encode_result(&v, &encoding)))
                .boxed())
        });
        self.insert(name, MethodHandler::Stream(f), false);
        self
    }

    /// Like [`HubBuilder::stream_method`], for a stream that can fail before it starts (a lookup, a
    /// permission check): an `Err` from the handler ends the invocation at once with a Completion carrying
    /// the error, as an exception thrown by an ASP.NET Core streaming method does.
    pub fn try_stream_method<A, R, F, S>(mut self, name: &str, handler: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(HubContext, A) -> Result<S, HubError> + Send + Sync + 'static,
        S: Stream<Item = Result<R, HubError>> + Send + 'static,
    {
        let method = name.to_owned();
        let f: Arc<StreamFn> = Arc::new(move |ctx, payload, _streams| {
            let args = decode_arguments::<A>(&method, payload)?;
            let encoding = ctx.clone();
            Ok(handler(ctx, args)?
                .map(move |item| item.and_then(|v| encode_result(&v, &encoding)))
                .boxed())
        });
        self.insert(name, MethodHandler::Stream(f), false);
        self
    }

    /// Runs after a connection's handshake, before its first message is dispatched.
    pub fn on_connected<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(HubContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_connected = Some(Arc::new(move |ctx| hook(ctx).boxed()));
        self
    }

    /// Runs once when a connection that completed its handshake ends, with the reason (connections refused
    /// in the handshake never reach `on_connected` either). Sends to the ending connection fail by then.
    pub fn on_disconnected<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(HubContext, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnected = Some(Arc::new(move |ctx, reason| hook(ctx, reason).boxed()));
        self
    }

    /// Derives a user id from the request headers (for [`Clients::user`]); none by default.
    pub fn user_id<F>(mut self, provider: F) -> Self
    where
        F: Fn(&HeaderMap) -> Option<String> + Send + Sync + 'static,
    {
        self.user_id = Some(Arc::new(provider));
        self
    }

    /// Checks every request to the hub, negotiate and each transport request (the WebSocket upgrade, the
    /// event stream, polls, sends), before anything else happens; a [`Refusal`] answers it with 401 or 403
    /// and the reason. This is where ASP.NET Core's `[Authorize]` on a hub goes: read a bearer token with
    /// [`access_token`](crate::hub::access_token) (the official client's `accessTokenFactory` sends it as a
    /// header, or as `access_token` in the query where browsers cannot set headers) or a session cookie.
    pub fn authorize<F>(mut self, check: F) -> Self
    where
        F: Fn(&Parts) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        self.authorize = Some(Arc::new(check));
        self
    }

    /// Replaces the options (see [`HubOptions`] for the defaults).
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }

    /// Uses another fan-out manager (a backplane) instead of the in-memory one.
    pub fn lifetime_manager(mut self, manager: Arc<dyn HubLifetimeManager>) -> Self {
        self.lifetime = Some(manager);
        self
    }

    /// Fans out through Redis at `url` (`redis://host:port`), so every server sharing it with the same
    /// `hub` name reaches all connections: the one call that enables a
    /// [`RedisLifetimeManager`](crate::redis::RedisLifetimeManager). Call it inside a Tokio runtime; a bad
    /// URL fails [`HubBuilder::build`]. Redis being down does not: the backplane keeps trying.
    #[cfg(feature = "redis")]
    pub fn redis_backplane(self, url: &str, hub: &str) -> Self {
        self.redis_backplane_with_options(url, hub, crate::redis::BackplaneOptions::default())
    }

    /// [`redis_backplane`](Self::redis_backplane) with other limits (outbox size, publish delay and
    /// batch, timeout): see [`BackplaneOptions`](crate::redis::BackplaneOptions).
    #[cfg(feature = "redis")]
    pub fn redis_backplane_with_options(
        mut self,
        url: &str,
        hub: &str,
        options: crate::redis::BackplaneOptions,
    ) -> Self {
        match crate::redis::RedisLifetimeManager::with_options(url, hub, options) {
            Ok(manager) => self.lifetime = Some(Arc::new(manager)),
            Err(e) => self.invalid = Some(e.to_string()),
        }
        self
    }

    /// Checks the configuration and builds the hub. Fails on invalid options (for example any origin with
    /// credentials) or a method name registered twice.
    pub fn build(self) -> Result<Hub, HubConfigError> {
        self.options.validate().map_err(HubConfigError)?;
        if let Some(reason) = self.invalid {
            return Err(HubConfigError(reason));
        }
        if let Some(name) = self.duplicate {
            return Err(HubConfigError(format!(
                "method '{name}' is registered twice (names match case-insensitively)"
            )));
        }
        Ok(Hub {
            inner: Arc::new(HubInner {
                registered: self
                    .methods
                    .values()
                    .map(|m| (m.name.clone(), m.clone()))
                    .collect(),
                methods: self.methods,
                options: self.options,
                lifetime: self
                    .lifetime
                    .unwrap_or_else(|| Arc::new(InMemoryLifetimeManager::new())),
                on_connected: self.on_connected,
                on_disconnected: self.on_disconnected,
                user_id: self.user_id,
                authorize: self.authorize,
                registry: Registry::default(),
                counters: HubCounters::default(),
            }),
        })
    }
}

/// One client-to-server stream given to an [`HubBuilder::upload_method`]: the client's items in order,
/// ending when the client completes the stream. An `Err` item means the client ended it with an error.
pub struct ClientStream {
    pub(crate) items: mpsc::Receiver<Result<Payload, String>>,
}

impl std::fmt::Debug for ClientStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientStream").finish_non_exhaustive()
    }
}

impl Stream for ClientStream {
    type Item = Result<Value, HubError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.poll_recv(cx).map(|item| {
            item.map(|r| match r {
                // Items are JSON-shaped whatever the protocol (binary data as base64).
                Ok(payload) => {
                    serde_json::from_str(payload.json().get()).map_err(HubError::internal)
                }
                Err(e) => Err(HubError::client_stream(e)),
            })
        })
    }
}
