//! What each circuit hub method does: find or start the connection's circuit and hand it the call;
//! `ConnectCircuit` and `ResumeCircuit` reattach one; `Chunked` reassembles a call from its stream.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::hub::{ClientStream, HubContext, HubError};

use super::sink::HubSink;
use super::{ConnectionCircuit, Shared};
use crate::circuit::app::{RendererApp, StartPoint};
use crate::circuit::core::CircuitDirectory;
use crate::circuit::core::{Circuit, CircuitApp, Inbound};
use crate::circuit::lifecycle::{Opening, StartFailure};
use crate::circuit::persist::PersistedRoot;
use crate::circuit::protocol::{
    self, method, target, AckArgs, Call, ChunkAssembler, ChunkBudget, EndInvokeJsArgs, EventArgs,
    InvokeServerArgs, LocationArgs, Method, UploadChunkArgs,
};
use crate::circuit::secret::CircuitSecret;
use crate::upload::ChunkBytes;

impl Shared {
    /// One circuit hub call; a refusal is logged and answered.
    pub(super) fn call(&self, ctx: &HubContext, call: Call) -> Result<Value, HubError> {
        let method = call.method();
        let result = self.call_inner(ctx, call);
        if let Err(error) = &result {
            let circuit = ctx.extension::<ConnectionCircuit>().map_or_else(
                || "none".to_owned(),
                |ConnectionCircuit(c)| c.id.to_string(),
            );
            tracing::warn!(
                connection_id = ctx.connection_id(),
                circuit,
                method = method.name(),
                "{}",
                error.message()
            );
        }
        result
    }

    pub(super) fn call_inner(&self, ctx: &HubContext, call: Call) -> Result<Value, HubError> {
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
            Call::UploadChunk(args) => return self.upload_chunk(ctx, args),
        };
        let circuit = ctx.extension::<ConnectionCircuit>();
        let delivered = circuit.as_ref().and_then(|ConnectionCircuit(circuit)| {
            circuit.deliver_from(ctx.connection_id(), inbound)
        });
        if delivered.is_none() {
            return Err(self.refuse_without_circuit(ctx, method, circuit));
        }
        Ok(Value::Null)
    }

    /// `UploadChunk`: straight to the transfer's inbox, past the circuit's message processing (no handler
    /// chain, no render: the reader's task takes the bytes and renders what it likes). A late chunk for an
    /// upload being cancelled is dropped with a debug line; any other refusal is an error, logged by `call`.
    fn upload_chunk(&self, ctx: &HubContext, args: UploadChunkArgs) -> Result<Value, HubError> {
        let UploadChunkArgs(file, offset, ChunkBytes(bytes)) = args;
        let circuit = ctx.extension::<ConnectionCircuit>();
        let attached = circuit
            .as_ref()
            .filter(|ConnectionCircuit(circuit)| circuit.is_attached_to(ctx.connection_id()));
        let Some(ConnectionCircuit(circuit)) = attached else {
            return Err(self.refuse_without_circuit(ctx, Method::UploadChunk, circuit));
        };
        let delivered = match circuit.uploads.get() {
            Some(transfers) => transfers.deliver(file, offset, bytes),
            // No upload was ever opened on this circuit.
            None => Err(crate::upload::ChunkError::UnknownUpload { file }),
        };
        match delivered {
            Ok(()) => Ok(Value::Null),
            Err(error) if !error.is_protocol_error() => {
                tracing::debug!(parent: &circuit.span, "{error}; dropped");
                Ok(Value::Null)
            }
            Err(error) => Err(HubError::new(format!(
                "'{}' refused: {error}",
                method::UPLOAD_CHUNK
            ))),
        }
    }

    /// The refusal of a call on a connection that carries no circuit now: `T.Error` and a close, unless the
    /// circuit is moving to another server.
    fn refuse_without_circuit(
        &self,
        ctx: &HubContext,
        method: Method,
        circuit: Option<ConnectionCircuit>,
    ) -> HubError {
        if circuit.is_some_and(|ConnectionCircuit(c)| c.moving.load(Ordering::Acquire)) {
            // No `T.Error`: that would tell the tab to give up, and `T.Persisted(true)` is on its way.
            return HubError::new(format!(
                "'{}' refused: the circuit was persisted for its tab to resume on another server",
                method.name()
            ));
        }
        let message = "there is no circuit on this connection (it was never started, has ended, or was taken over)";
        let caller = ctx.caller();
        let _ = caller.send(target::ERROR, (message,));
        caller.close(None);
        HubError::new(format!("'{}' refused: {message}", method.name()))
    }

    pub(super) fn start(
        &self,
        ctx: &HubContext,
        args: protocol::StartArgs,
    ) -> Result<String, HubError> {
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
    pub(super) fn refuse_when_closing(&self) -> Result<(), HubError> {
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
    pub(super) fn collect_chunks(
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
    pub(super) async fn chunked(
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
