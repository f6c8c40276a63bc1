//! Building a [`CircuitHub`]: options, services, persistence, and one typed hub method per circuit call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tether_components::{ComponentRegistry, Services};

use crate::hub::{Hub, HubBuilder, HubContext, HubError, HubOptions};

use super::{CircuitHub, ConnectionCircuit, Shared};
use crate::circuit::descriptor::{DescriptorKey, DescriptorSigner};
use crate::circuit::env::{CircuitEnv, ServerFunction, ServerFunctionFuture};
use crate::circuit::handle::CircuitHandle;
use crate::circuit::handlers::CircuitHandlers;
use crate::circuit::options::CircuitOptions;
use crate::circuit::persist::{Persistence, PersistenceKey};
use crate::circuit::protocol::{self, method, Call};
use crate::circuit::registry::CircuitRegistry;
use crate::circuit::store::CircuitStore;

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
    /// `Arc`). The runtime adds each circuit's [`CircuitHandle`] and [`Location`](crate::circuit::Location) itself.
    pub fn service<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.services.insert(value);
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

    /// Gives every circuit its own `T`, made by `make` when the circuit opens and shared by that
    /// circuit's components (read with `cx.service::<T>()`; make `T` a shared handle such as
    /// [`SharedState`](crate::circuit::SharedState) so that their changes meet). With a [`Persistence`] it
    /// is persisted and resumed with the circuit, as opted-in components are: `Persistence::serde()` is the
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
            .get::<crate::circuit::scoped::CircuitServices>()
            .unwrap_or_default();
        self.services.insert(scoped.with(make, persistence));
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
    pub fn build(mut self) -> Result<CircuitHub, CircuitHubError> {
        self.check_hub_options()?;
        let persistence = self.take_persistence()?;
        let path = self.path.clone();
        let hub_options = self.hub_options.clone();
        let max_message = hub_options.max_receive_message_size;
        let shared = Arc::new(self.into_shared(persistence));
        let hub = circuit_methods(Hub::builder().options(hub_options), &shared)
            .build()
            .map_err(|e| CircuitHubError(e.to_string()))?;
        Ok(CircuitHub {
            shared,
            hub,
            path,
            max_message,
        })
    }

    /// Refuses hub options and a path the circuit protocol cannot work with.
    fn check_hub_options(&self) -> Result<(), CircuitHubError> {
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
        Ok(())
    }

    /// The persistence of circuits, when a store was given: the sealing key (random unless set), the
    /// retired keys, each with an id of its own.
    fn take_persistence(&mut self) -> Result<Option<Persistence>, CircuitHubError> {
        let key = self
            .persistence_key
            .take()
            .unwrap_or_else(PersistenceKey::generate);
        let retired = std::mem::take(&mut self.retired_persistence_keys);
        let mut ids: Vec<u32> = std::iter::once(&key)
            .chain(&retired)
            .map(PersistenceKey::id)
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(CircuitHubError(
                "two persistence keys share an id; every key needs its own".into(),
            ));
        }
        Ok(self.store.take().map(|store| {
            Persistence::new(
                store,
                key,
                retired,
                std::mem::take(&mut self.app_name),
                self.options.persisted_retention,
            )
        }))
    }

    /// The state every circuit hub method shares: environment, registry, signer, services.
    fn into_shared(self, persistence: Option<Persistence>) -> Shared {
        let signer = DescriptorSigner::new(
            self.key.unwrap_or_else(DescriptorKey::generate),
            self.options.descriptor_lifetime,
            self.options.max_remembered_descriptors,
        );
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
        let env = Arc::new(CircuitEnv {
            options: self.options,
            handlers,
            server_functions: self.functions,
            persistence,
        });
        Shared {
            env,
            registry,
            components: Arc::new(self.components),
            signer,
            services,
            closing: std::sync::atomic::AtomicBool::new(false),
            downloads,
        }
    }
}

/// The circuit protocol's hub methods, all served by `shared`, and the detach on disconnect.
fn circuit_methods(hub: HubBuilder, shared: &Arc<Shared>) -> HubBuilder {
    // One typed hub method per call: the hub decodes the arguments straight from the message's raw JSON
    // into their final types.
    let hub = register(hub, shared, method::START_CIRCUIT, Call::Start);
    let hub = connect_method(hub, shared);
    let hub = register(hub, shared, method::DISPATCH_EVENT, Call::Event);
    let hub = register(hub, shared, method::ON_RENDER_COMPLETED, Call::Ack);
    let hub = register(hub, shared, method::INVOKE_SERVER, Call::InvokeServer);
    let hub = register(hub, shared, method::END_INVOKE_JS, Call::EndInvokeJs);
    let hub = register(hub, shared, method::LOCATION_CHANGED, Call::Location);
    let hub = chunked_method(hub, shared);
    let hub = resume_method(hub, shared);
    let hub = pause_method(hub);
    let disconnected = shared.clone();
    hub.on_disconnected(move |ctx: HubContext, _reason| {
        if let Some(circuit) = disconnected.registry.for_connection(ctx.connection_id()) {
            circuit.detach(ctx.connection_id());
        }
        async {}
    })
}

/// `ConnectCircuit`: a reconnect, after asking a shared store whether the circuit moved on.
fn connect_method(hub: HubBuilder, shared: &Arc<Shared>) -> HubBuilder {
    let shared = shared.clone();
    hub.method(
        method::CONNECT_CIRCUIT,
        move |ctx: HubContext, (secret,): (String,)| {
            let shared = shared.clone();
            async move {
                // A shared store may know the circuit moved on (resumed elsewhere): asked first.
                shared.end_if_moved(&secret).await;
                shared.call(&ctx, Call::Connect((secret,)))
            }
        },
    )
}

/// The chunked upload of a large call (its chunks arrive as a client stream).
fn chunked_method(hub: HubBuilder, shared: &Arc<Shared>) -> HubBuilder {
    let shared = shared.clone();
    hub.upload_method(
        method::CHUNKED,
        move |ctx: HubContext, (target,): (String,), streams| {
            let shared = shared.clone();
            // Start reading the chunks now, before the hub polls the returned future (see `collect`).
            let collected = shared.collect_chunks(&ctx, streams);
            async move { shared.chunked(&ctx, &target, collected).await }
        },
    )
}

/// `ResumeCircuit`: a persisted circuit back from the store (refused while shutting down).
fn resume_method(hub: HubBuilder, shared: &Arc<Shared>) -> HubBuilder {
    let shared = shared.clone();
    hub.method(
        method::RESUME_CIRCUIT,
        move |ctx: HubContext, (secret,): (String,)| {
            let shared = shared.clone();
            async move {
                shared.refuse_when_closing()?;
                Ok::<_, HubError>(shared.resume(&ctx, &secret).await)
            }
        },
    )
}

/// `PauseCircuit`: the connection's circuit persisted and released; `false` when there was none or the
/// store refused it.
fn pause_method(hub: HubBuilder) -> HubBuilder {
    hub.method(method::PAUSE_CIRCUIT, move |ctx: HubContext, (): ()| {
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
    })
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
}
