//! The circuit hub: the hub methods of docs/protocol.md section 6 on a [`Hub`], the disconnect beacon,
//! and the [`CircuitHub`] an application builds and mounts.
//!
//! Each hub connection carries at most one circuit. Messages of one connection reach their circuit in
//! arrival order: the hub runs one invocation per connection at a time (`build` refuses
//! `HubOptions::max_parallel_invocations` other than 1), each method does its circuit work when the hub
//! polls it, and a `Chunked` call holds its place until its chunks are in. A call that needs a circuit on a
//! connection that has none (never started, ended, or taken over) is answered with `T.Error` and the
//! connection is closed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tether_components::{ComponentRegistry, Services};
use tokio::task::JoinHandle;

use crate::hub::{
    Caller, ClientStream, EncodedInvocation, Hub, HubBuilder, HubContext, HubError, HubOptions,
};

use super::app::{RendererApp, StartPoint};
use super::core::CircuitDirectory;
use super::core::{Circuit, CircuitApp, CircuitSink, Inbound, Outbound};
use super::descriptor::{DescriptorKey, DescriptorSigner};
use super::env::{CircuitEnv, ServerFunction, ServerFunctionFuture};
use super::handle::CircuitHandle;
use super::handlers::CircuitHandlers;
use super::lifecycle::{Opening, StartFailure};
use super::options::CircuitOptions;
use super::persist::{PersistedRoot, Persistence, PersistenceKey};
use super::protocol::{
    self, method, target, AckArgs, Call, ChunkAssembler, ChunkBudget, EndInvokeJsArgs, EventArgs,
    InvokeServerArgs, LocationArgs, Method,
};
use super::registry::{CircuitMetrics, CircuitRegistry};
use super::secret::{CircuitId, CircuitSecret};
use super::store::CircuitStore;

/// Why the circuit hub could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitHubError(String);

impl std::fmt::Display for CircuitHubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid circuit hub configuration: {}", self.0)
    }
}

impl std::error::Error for CircuitHubError {}

/// Configures a [`CircuitHub`]: root component types, path, options, handlers, server functions.
pub struct CircuitHubBuilder {
    components: ComponentRegistry,
    path: String,
    options: CircuitOptions,
    hub_options: HubOptions,
    handlers: CircuitHandlers,
    functions: HashMap<String, ServerFunction>,
    key: Option<DescriptorKey>,
    services: Services,
    store: Option<Arc<dyn CircuitStore>>,
    persistence_key: Option<PersistenceKey>,
    retired_persistence_keys: Vec<PersistenceKey>,
    app_name: String,
    downloads: crate::download::DownloadOptions,
}

impl std::fmt::Debug for CircuitHubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitHubBuilder")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("handlers", &self.handlers)
            .finish_non_exhaustive()
    }
}

impl CircuitHubBuilder {
    /// Mounts the hub at `path` instead of `/_tether` (for example `/signalr`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.trim_end_matches('/').to_owned();
        self
    }

    /// Circuit options (retention, limits, timeouts).
    pub fn options(mut self, options: CircuitOptions) -> Self {
        self.options = options;
        self
    }

    /// Options of the underlying hub (message size limit, keep-alive, transports, origins).
    pub fn hub_options(mut self, options: HubOptions) -> Self {
        self.hub_options = options;
        self
    }

    /// The circuit handlers.
    pub fn handlers(mut self, handlers: CircuitHandlers) -> Self {
        self.handlers = handlers;
        self
    }

    /// The key that signs prerender descriptors. Without one, a random key is made at start-up (pages
    /// rendered by an earlier process, or by another server, then cannot start circuits here).
    pub fn descriptor_key(mut self, key: DescriptorKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Provides `value` to the components of every circuit and of every prerendered page (read with
    /// `cx.service::<T>()`): application-wide objects such as a database pool or a chat room's
    /// broadcaster. One value per type; it is cloned for each reader, so make it cheap to clone (an
    /// `Arc`). The runtime adds each circuit's [`CircuitHandle`] and [`Location`](super::Location) itself.
    pub fn service<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.services.insert(value);
        self
    }

    /// Gives every circuit its own `T`, made by `make` when the circuit opens and shared by that
    /// circuit's components (read with `cx.service::<T>()`; make `T` a shared handle such as
    /// [`SharedState`](super::SharedState) so that their changes meet). With a [`Persistence`] it is
    /// persisted and resumed with the circuit, as opted-in components are: `Persistence::serde()` is the
    /// one-line case, `None` opts out. One per type; a later call for the same type replaces it.
    ///
    /// [`Persistence`]: tether_components::Persistence
    pub fn circuit_service<T: Clone + Send + Sync + 'static>(
        mut self,
        make: impl Fn() -> T + Send + Sync + 'static,
        persistence: Option<tether_components::Persistence<T>>,
    ) -> Self {
        let scoped = self
            .services
            .get::<super::scoped::CircuitServices>()
            .unwrap_or_default();
        self.services.insert(scoped.with(make, persistence));
        self
    }

    /// Knows each circuit's signed-in user through `auth` (see [`crate::auth`]): its [`CurrentUser`] is a
    /// service of the circuit's components and prerenders, reconnects by another user are refused, and the
    /// user is revalidated on an interval.
    ///
    /// [`CurrentUser`]: crate::auth::CurrentUser
    pub fn auth(mut self, auth: crate::auth::Auth) -> Self {
        // Its circuit handler (which forgets ended circuits) is added in `build`, after any `handlers` call.
        self.services.insert(auth);
        self
    }

    /// Persists circuits to `store` (see docs/persistence.md): evicted circuits, every live circuit on
    /// [`CircuitHub::shutdown`], and paused ones wait there to be resumed, on this server or another
    /// sharing the store and the [`persistence_key`](Self::persistence_key).
    pub fn persistence(mut self, store: impl CircuitStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The key that seals persisted circuits; configure the same one on every server sharing a store.
    /// Without it, a random key is made at start-up (its blobs open only in this process).
    pub fn persistence_key(mut self, key: PersistenceKey) -> Self {
        self.persistence_key = Some(key);
        self
    }

    /// A key that no longer seals but still opens circuits persisted with it (key rotation; call once per
    /// retired key). Its id must differ from every other key's. See docs/persistence.md, "Rotating keys".
    pub fn retired_persistence_key(mut self, key: PersistenceKey) -> Self {
        self.retired_persistence_keys.push(key);
        self
    }

    /// The application's name, bound into every sealed blob so that another app sharing a store and a
    /// key cannot resume this one's circuits. Default `tether`.
    pub fn app_name(mut self, name: &str) -> Self {
        self.app_name = name.to_owned();
        self
    }

    /// Limits of the download links components offer (see [`crate::download`]).
    pub fn download_options(mut self, options: crate::download::DownloadOptions) -> Self {
        self.downloads = options;
        self
    }

    /// Provides every value of `services` (see [`service`](Self::service)).
    pub fn services(mut self, services: &Services) -> Self {
        self.services.extend(services);
        self
    }

    /// Registers a server function the browser calls with `Tether.invokeServer(name, ...args)`. An `Err`
    /// reaches the browser as a rejected promise with the message.
    pub fn server_function<F, Fut>(mut self, name: &str, function: F) -> Self
    where
        F: Fn(CircuitHandle, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let function: ServerFunction = Arc::new(move |circuit, args| {
            Box::pin(function(circuit, args)) as ServerFunctionFuture
        });
        self.functions.insert(name.to_owned(), function);
        self
    }

    /// Builds the hub. Must run inside a Tokio runtime (eviction runs on a background task).
    pub fn build(self) -> Result<CircuitHub, CircuitHubError> {
        if self.hub_options.max_parallel_invocations != 1 {
            return Err(CircuitHubError(format!(
                "HubOptions::max_parallel_invocations is {}: the circuit hub processes each connection's \
                 messages one at a time, in order, and needs it to be 1 (the default)",
                self.hub_options.max_parallel_invocations
            )));
        }
        if !self.path.starts_with('/') {
            return Err(CircuitHubError(format!(
                "the hub path {:?} must start with `/`",
                self.path
            )));
        }
        let signer = DescriptorSigner::new(
            self.key.unwrap_or_else(DescriptorKey::generate),
            self.options.descriptor_lifetime,
            self.options.max_remembered_descriptors,
        );
        let max_message = self.hub_options.max_receive_message_size;
        let handlers = match self.services.get::<crate::auth::Auth>() {
            Some(auth) => self.handlers.shared(auth),
            None => self.handlers,
        };
        // Each circuit's components get their own `CircuitDownloads` from this (see `RendererApp::mount`).
        let downloads = crate::download::Downloads::new(&self.path, self.downloads);
        let mut services = self.services;
        services.insert(downloads.clone());
        let registry = CircuitRegistry::new(
            self.options.max_retained_disconnected,
            self.options.retention_period,
        );
        let key = self
            .persistence_key
            .unwrap_or_else(PersistenceKey::generate);
        let mut ids: Vec<u32> = std::iter::once(&key)
            .chain(&self.retired_persistence_keys)
            .map(PersistenceKey::id)
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(CircuitHubError(
                "two persistence keys share an id; every key needs its own".into(),
            ));
        }
        let persistence = self.store.map(|store| {
            Persistence::new(
                store,
                key,
                self.retired_persistence_keys,
                self.app_name,
                self.options.persisted_retention,
            )
        });
        let env = Arc::new(CircuitEnv {
            options: self.options,
            handlers,
            server_functions: self.functions,
            persistence,
        });
        let shared = Arc::new(Shared {
            env,
            registry,
            components: Arc::new(self.components),
            signer,
            services,
            closing: std::sync::atomic::AtomicBool::new(false),
            downloads,
        });
        let mut hub = Hub::builder().options(self.hub_options);
        // One typed hub method per call: the hub decodes the arguments straight from the message's raw
        // JSON into their final types.
        hub = register(hub, &shared, method::START_CIRCUIT, Call::Start);
        let connecting = shared.clone();
        hub = hub.method(
            method::CONNECT_CIRCUIT,
            move |ctx: HubContext, (secret,): (String,)| {
                let shared = connecting.clone();
                async move {
                    // A shared store may know the circuit moved on (resumed elsewhere): asked first.
                    shared.end_if_moved(&secret).await;
                    shared.call(&ctx, Call::Connect((secret,)))
                }
            },
        );
        hub = register(hub, &shared, method::DISPATCH_EVENT, Call::Event);
        hub = register(hub, &shared, method::ON_RENDER_COMPLETED, Call::Ack);
        hub = register(hub, &shared, method::INVOKE_SERVER, Call::InvokeServer);
        hub = register(hub, &shared, method::END_INVOKE_JS, Call::EndInvokeJs);
        hub = register(hub, &shared, method::LOCATION_CHANGED, Call::Location);
        let chunked = shared.clone();
        hub = hub.upload_method(
            method::CHUNKED,
            move |ctx: HubContext, (target,): (String,), streams| {
                let shared = chunked.clone();
                // Start reading the chunks now, before the hub polls the returned future (see `collect`).
                let collected = shared.collect_chunks(&ctx, streams);
                async move { shared.chunked(&ctx, &target, collected).await }
            },
        );
        let resume = shared.clone();
        hub = hub.method(
            method::RESUME_CIRCUIT,
            move |ctx: HubContext, (secret,): (String,)| {
                let shared = resume.clone();
                async move {
                    shared.refuse_when_closing()?;
                    Ok::<_, HubError>(shared.resume(&ctx, &secret).await)
                }
            },
        );
        hub = hub.method(method::PAUSE_CIRCUIT, move |ctx: HubContext, (): ()| {
            let circuit = ctx.extension::<ConnectionCircuit>();
            async move {
                let Some(ConnectionCircuit(circuit)) = circuit else {
                    return Ok::<_, HubError>(false);
                };
                // Answered once the store has it, so that a resume right after the answer finds it.
                let saved = circuit.pause_from(ctx.connection_id());
                Ok(match saved {
                    Some(save) => save.await.unwrap_or(false),
                    None => false,
                })
            }
        });
        let disconnected = shared.clone();
        hub = hub.on_disconnected(move |ctx: HubContext, _reason| {
            if let Some(circuit) = disconnected.registry.for_connection(ctx.connection_id()) {
                circuit.detach(ctx.connection_id());
            }
            async {}
        });
        let hub = hub.build().map_err(|e| CircuitHubError(e.to_string()))?;
        Ok(CircuitHub {
            shared,
            hub,
            path: self.path,
            max_message,
        })
    }
}

/// Registers circuit hub method `name`, whose arguments decode into `A` and travel as `wrap(A)`.
fn register<A: DeserializeOwned + Send + 'static>(
    hub: HubBuilder,
    shared: &Arc<Shared>,
    name: &'static str,
    wrap: fn(A) -> Call,
) -> HubBuilder {
    let shared = shared.clone();
    // The work happens when the hub polls the future, not when it creates it: the hub creates futures as
    // messages arrive but polls them one at a time in arrival order, and a `Chunked` call (which must wait
    // for its chunks) has to keep its place in that order.
    hub.method(name, move |ctx: HubContext, args: A| {
        let shared = shared.clone();
        async move { shared.call(&ctx, wrap(args)) }
    })
}

/// The circuit a hub connection carries, kept in the connection's own context (set by `StartCircuit` and
/// `ConnectCircuit`), so that a message finds its circuit without the registry's lock.
#[derive(Clone)]
struct ConnectionCircuit(Arc<Circuit>);

/// What the hub methods share.
pub(crate) struct Shared {
    pub(crate) env: Arc<CircuitEnv>,
    pub(crate) registry: Arc<CircuitRegistry>,
    pub(crate) components: Arc<ComponentRegistry>,
    pub(crate) signer: DescriptorSigner,
    /// The application's services (builder), given to every circuit and prerender renderer.
    pub(crate) services: Services,
    /// Set when a graceful shutdown begins: from then on no circuit starts, reconnects or resumes here
    /// (the browser's attempt fails as an unreachable server's would, so it tries again elsewhere).
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// The download links of every circuit, served by `router()`.
    pub(crate) downloads: crate::download::Downloads,
}

/// The circuit hub an application mounts: `router()` gives the hub endpoints and the disconnect beacon;
/// `page()` prerenders root components for a page response. Cheap to clone.
#[derive(Clone)]
pub struct CircuitHub {
    pub(crate) shared: Arc<Shared>,
    hub: Hub,
    pub(crate) path: String,
    pub(crate) max_message: usize,
}

impl std::fmt::Debug for CircuitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitHub")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CircuitHub {
    /// Starts configuring a circuit hub whose root components come from `components`.
    pub fn builder(components: ComponentRegistry) -> CircuitHubBuilder {
        CircuitHubBuilder {
            components,
            path: protocol::DEFAULT_HUB_PATH.to_owned(),
            options: CircuitOptions::default(),
            hub_options: HubOptions::default(),
            handlers: CircuitHandlers::new(),
            functions: HashMap::new(),
            key: None,
            services: Services::new(),
            store: None,
            persistence_key: None,
            retired_persistence_keys: Vec::new(),
            app_name: "tether".to_owned(),
            downloads: crate::download::DownloadOptions::default(),
        }
    }

    /// The hub endpoints (negotiate, transports), `POST {path}/disconnect`, the boot script at
    /// `{path}/tether.js`, the upload module at `{path}/upload.js` and download links at
    /// `{path}/download/{token}`, to merge into the app router (do not also merge
    /// [`boot_script_router`](crate::boot_script::boot_script_router) for the default path).
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        let beacon = post(move |body: String| {
            let shared = shared.clone();
            async move { disconnect_beacon(&shared, &body) }
        })
        .fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "POST")],
                "the disconnect endpoint accepts POST only\n",
            )
        });
        // `PageRender::boot_script` links `{path}/tether.js`, so the hub serves the script there.
        Router::new()
            .route(&format!("{}/disconnect", self.path), beacon)
            .route(
                &format!("{}/tether.js", self.path),
                get(crate::boot_script::serve_boot_script),
            )
            .route(
                &format!("{}/upload.js", self.path),
                get(crate::upload::serve_upload_script),
            )
            .route(
                &format!("{}/download/{{token}}", self.path),
                get({
                    let downloads = self.shared.downloads.clone();
                    move |token| downloads.clone().serve(token)
                }),
            )
            .merge(self.hub.router(&self.path))
    }

    /// The path the hub is mounted at.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The circuit counters.
    pub fn metrics(&self) -> CircuitMetrics {
        self.shared.registry.metrics()
    }

    /// The persistence counters and store latency (`None` without a store); exported by
    /// [`Metrics::circuits`](crate::metrics::Metrics::circuits).
    pub fn store_metrics(&self) -> Option<crate::metrics::CircuitStoreMetrics> {
        let persistence = self.shared.env.persistence.as_ref()?;
        Some(persistence.metrics.clone())
    }

    /// The URL of the boot script this hub serves, with its content version (`{path}/tether.js?v=…`):
    /// put it in `<script src>` so the browser caches the script as immutable.
    pub fn boot_script_url(&self) -> String {
        crate::boot_script::boot_script_url_for_hub(&self.path)
    }

    /// The live circuit with public id `id` (connected or retained).
    pub fn circuit(&self, id: CircuitId) -> Option<CircuitHandle> {
        self.shared.registry.handle_for(id)
    }

    /// Cuts the connection of circuit `id` without ending the circuit (see
    /// [`CircuitHandle::disconnect_transport`]). Returns whether a connection was cut.
    pub fn disconnect_transport(&self, id: CircuitId) -> bool {
        self.circuit(id)
            .is_some_and(|circuit| circuit.disconnect_transport())
    }
}

fn disconnect_beacon(shared: &Shared, body: &str) -> Response {
    let Some(secret) = crate::request::value(body, "secret") else {
        return (StatusCode::BAD_REQUEST, "missing `secret` form field\n").into_response();
    };
    let Ok(secret) = CircuitSecret::parse(&secret) else {
        tracing::warn!("disconnect beacon with a malformed secret");
        return (StatusCode::BAD_REQUEST, "malformed circuit secret\n").into_response();
    };
    if let Some(circuit) = shared.registry.find(&secret) {
        circuit.end_by_browser();
        (StatusCode::OK, "circuit ended\n").into_response()
    } else {
        (StatusCode::OK, "no such circuit (already ended)\n").into_response()
    }
}

/// A circuit's connection: outbound messages become hub invocations on the caller's queue.
struct HubSink {
    caller: Caller,
}

impl CircuitSink for HubSink {
    fn send(&self, message: Outbound<'_>) {
        let batch = match message {
            Outbound::Batch { id, .. } => Some(id),
            _ => None,
        };
        let result = match message {
            Outbound::Batch { frame, .. } => self
                .caller
                .send_encoded(&EncodedInvocation::from_bytes(frame.clone())),
            Outbound::Error { message } => self.caller.send(target::ERROR, (message,)),
            Outbound::InvokeJs {
                call_id,
                identifier,
                args,
            } => self
                .caller
                .send(target::INVOKE_JS, (call_id, identifier, args)),
            Outbound::EndInvokeServer {
                call_id,
                succeeded,
                value,
            } => self
                .caller
                .send(target::END_INVOKE_SERVER, (call_id, succeeded, value)),
            Outbound::Navigate { uri, replace } => {
                self.caller.send(target::NAVIGATE, (uri, replace))
            }
            Outbound::Persisted { resume_now } => {
                self.caller.send(target::PERSISTED, (resume_now,))
            }
        };
        if let Err(error) = result {
            // A closed connection is normal (the browser went away); batches stay buffered until acked.
            if !error.is_closed() {
                tracing::warn!(
                    connection_id = self.caller.connection_id(),
                    batch,
                    "could not queue a message: {error}"
                );
            }
        }
    }

    fn close(&self) {
        self.caller.close(None);
    }

    fn abort(&self) {
        self.caller.abort();
    }

    fn connection_id(&self) -> &str {
        self.caller.connection_id()
    }
}

impl Shared {
    /// One circuit hub call; a refusal is logged and answered.
    fn call(&self, ctx: &HubContext, call: Call) -> Result<Value, HubError> {
        let method = call.method();
        let result = self.call_inner(ctx, call);
        if let Err(error) = &result {
            tracing::warn!(
                connection_id = ctx.connection_id(),
                method = method.name(),
                "{}",
                error.message()
            );
        }
        result
    }

    fn call_inner(&self, ctx: &HubContext, call: Call) -> Result<Value, HubError> {
        let method = call.method();
        if matches!(call, Call::Start(_) | Call::Connect(_)) {
            self.refuse_when_closing()?;
        }
        let inbound = match call {
            Call::Start(args) => return self.start(ctx, args).map(Value::String),
            Call::Connect((secret,)) => return Ok(Value::Bool(self.connect(ctx, &secret))),
            Call::Event(EventArgs(handler_id, event, args)) => Inbound::Event {
                handler_id,
                event,
                args,
            },
            Call::Ack(AckArgs(batch, error)) => Inbound::RenderAck { batch, error },
            Call::InvokeServer(InvokeServerArgs(call_id, name, args)) => Inbound::InvokeServer {
                call_id,
                name,
                args,
            },
            Call::EndInvokeJs(EndInvokeJsArgs(call_id, succeeded, value)) => {
                Inbound::BrowserCallResult {
                    call_id,
                    succeeded,
                    value,
                }
            }
            Call::Location(LocationArgs(uri, intercepted)) => {
                Inbound::LocationChanged { uri, intercepted }
            }
        };
        let circuit = ctx.extension::<ConnectionCircuit>();
        let delivered = circuit.as_ref().and_then(|ConnectionCircuit(circuit)| {
            circuit.deliver_from(ctx.connection_id(), inbound)
        });
        if delivered.is_none()
            && circuit.is_some_and(|ConnectionCircuit(c)| c.moving.load(Ordering::Acquire))
        {
            // No `T.Error`: that would tell the tab to give up, and `T.Persisted(true)` is on its way.
            return Err(HubError::new(format!(
                "'{}' refused: the circuit was persisted for its tab to resume on another server",
                method.name()
            )));
        }
        if delivered.is_none() {
            let message = "there is no circuit on this connection (it was never started, has ended, or was taken over)";
            let caller = ctx.caller();
            let _ = caller.send(target::ERROR, (message,));
            caller.close(None);
            return Err(HubError::new(format!(
                "'{}' refused: {message}",
                method.name()
            )));
        }
        Ok(Value::Null)
    }

    fn start(&self, ctx: &HubContext, args: protocol::StartArgs) -> Result<String, HubError> {
        let protocol::StartArgs(version, base_uri, uri, descriptors) = args;
        if version != protocol::PROTOCOL_VERSION {
            return Err(HubError::new(format!(
                "this server speaks Tether protocol version {}, the boot script sent version {version}: reload the page",
                protocol::PROTOCOL_VERSION
            )));
        }
        if self.registry.for_connection(ctx.connection_id()).is_some() {
            return Err(HubError::new("this connection already has a circuit"));
        }
        if descriptors.is_empty() {
            return Err(HubError::new(
                "StartCircuit needs at least one root component descriptor",
            ));
        }
        let components = self.components.clone();
        let descriptors = self
            .signer
            .consume(&descriptors, |name| components.contains(name))
            .map_err(|e| HubError::new(e.to_string()))?;
        let start = StartPoint {
            base_uri,
            uri,
            roots: descriptors
                .into_iter()
                .map(|d| PersistedRoot {
                    component: d.component,
                    props: d.props,
                })
                .collect(),
            states: Vec::new(),
            services: Vec::new(),
        };
        let secret = CircuitSecret::generate();
        match self.open(ctx, secret.clone(), start) {
            Ok(_) => Ok(secret.expose()),
            Err(failure) => {
                let (what, reason) = match failure {
                    StartFailure::App(reason) => ("a root component failed", reason),
                    StartFailure::Handler(reason) => ("a circuit handler failed", reason),
                };
                Err(HubError::new(if self.env.options.detailed_errors {
                    format!("the circuit could not start: {what}: {reason}")
                } else {
                    format!(
                        "the circuit could not start: {what} (the reason is in the server log; turn on \
                         CircuitOptions::detailed_errors to send it here)"
                    )
                }))
            }
        }
    }

    /// Opens a circuit with `secret` on this connection from `start` (a new start or a resume).
    pub(crate) fn open(
        &self,
        ctx: &HubContext,
        secret: CircuitSecret,
        start: StartPoint,
    ) -> Result<Arc<Circuit>, StartFailure> {
        let sink = Arc::new(HubSink {
            caller: ctx.caller(),
        });
        // With auth, the circuit's user comes from the connection's request (see `crate::auth`).
        let auth = self.services.get::<crate::auth::Auth>();
        let user = auth.as_ref().map(|auth| auth.current_user(ctx.headers()));
        let services = match &user {
            Some(user) => self.services.clone().with(user.clone()),
            None => self.services.clone(),
        };
        let opening = Opening {
            secret,
            user: user.as_ref().and_then(|u| u.get()).map(|u| u.id.clone()),
        };
        let roots = start.roots.len();
        let components = self.components.clone();
        let mut location = None;
        let directory: Arc<dyn CircuitDirectory> = self.registry.clone();
        let circuit = Circuit::open(
            self.env.clone(),
            Arc::downgrade(&directory),
            opening,
            sink,
            |circuit| {
                RendererApp::mount(components, &services, start, circuit).map(|app| {
                    location = Some(app.location());
                    Box::new(app) as Box<dyn CircuitApp>
                })
            },
        )?;
        if let (Some(auth), Some(user), Some(location)) = (auth, user, location) {
            auth.circuit_started(circuit.handle(), &user, location);
        }
        tracing::info!(parent: &circuit.span, roots, "circuit started");
        ctx.insert_extension(ConnectionCircuit(circuit.clone()));
        Ok(circuit)
    }

    /// An error while the hub shuts down (see `closing`).
    fn refuse_when_closing(&self) -> Result<(), HubError> {
        if self.closing.load(std::sync::atomic::Ordering::Acquire) {
            return Err(HubError::new(
                "this server is shutting down; try another (or this one once it is back)",
            ));
        }
        Ok(())
    }

    pub(crate) fn connect(&self, ctx: &HubContext, secret: &str) -> bool {
        let Ok(secret) = CircuitSecret::parse(secret) else {
            tracing::warn!(
                connection_id = ctx.connection_id(),
                "ConnectCircuit with a malformed secret"
            );
            return false;
        };
        if let Some(current) = self.registry.for_connection(ctx.connection_id()) {
            // One circuit per connection: attaching a second would leave the first unreachable.
            let same = current.id == secret.id();
            if !same {
                tracing::warn!(
                    connection_id = ctx.connection_id(),
                    current = %current.id,
                    "ConnectCircuit for another circuit on a connection that already has one; refused"
                );
            }
            return same;
        }
        if let Some(auth) = self.services.get::<crate::auth::Auth>() {
            if !auth.may_connect(secret.id(), ctx.headers()) {
                return false;
            }
        }
        let Some(circuit) = self.registry.find(&secret) else {
            self.registry.count_rejected_reconnect();
            tracing::info!(circuit = %secret.id(), "reconnect rejected: no such circuit (evicted, ended or never existed)");
            return false;
        };
        let sink = Arc::new(HubSink {
            caller: ctx.caller(),
        });
        if !circuit.attach(sink) {
            self.registry.count_rejected_reconnect();
            return false;
        }
        ctx.insert_extension(ConnectionCircuit(circuit));
        true
    }

    /// Starts reassembling a `Chunked` call's stream on a task of its own, at once. The hub's connection
    /// task may wait for room in the stream's buffer while it reads a burst of chunks (one WebSocket frame
    /// can hold them all), and it does not poll the method's future meanwhile; a reader that only started
    /// when that future is polled would never get to run.
    /// Every call of one connection draws on the connection's budget.
    fn collect_chunks(
        &self,
        ctx: &HubContext,
        mut streams: Vec<ClientStream>,
    ) -> Option<JoinHandle<Result<String, String>>> {
        if streams.len() != 1 {
            return None;
        }
        let mut stream = streams.pop().expect("one stream");
        let limit = self.env.options.max_chunked_call_size;
        let budget = ctx.extension::<ChunkBudget>().unwrap_or_else(|| {
            let budget = ChunkBudget::default();
            ctx.insert_extension(budget.clone());
            budget
        });
        let connection_limit = self.env.options.max_chunked_bytes_per_connection;
        Some(tokio::spawn(async move {
            let mut assembler = ChunkAssembler::new(limit).with_budget(budget, connection_limit);
            while let Some(item) = stream.next().await {
                let item =
                    item.map_err(|e| format!("chunked call stream failed: {}", e.message()))?;
                // On error the stream is dropped, and the hub discards the rest of it.
                assembler.push(&item).map_err(|e| e.to_string())?;
            }
            Ok(assembler.finish())
        }))
    }

    /// `Chunked(target)`: waits for the reassembled argument list, then runs `target` with it.
    async fn chunked(
        &self,
        ctx: &HubContext,
        target: &str,
        collected: Option<JoinHandle<Result<String, String>>>,
    ) -> Result<Value, HubError> {
        let Some(collected) = collected else {
            return Err(HubError::new(
                "Chunked takes one target method and exactly one stream",
            ));
        };
        let Some(method) = Method::from_name(target) else {
            return Err(HubError::new(format!(
                "unknown circuit hub method '{target}' in Chunked"
            )));
        };
        let json = match collected.await {
            Ok(Ok(json)) => json,
            Ok(Err(reason)) => {
                tracing::warn!(connection_id = ctx.connection_id(), target, "{reason}");
                return Err(HubError::new(reason));
            }
            Err(_) => return Err(HubError::new("chunked call reassembly failed")),
        };
        let call = method.decode(&json).map_err(|e| {
            let error = HubError::new(format!("invalid arguments for '{}': {e}", method.name()));
            tracing::warn!(
                connection_id = ctx.connection_id(),
                target,
                "{}",
                error.message()
            );
            error
        })?;
        self.call(ctx, call)
    }
}
