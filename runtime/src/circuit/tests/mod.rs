//! Unit tests of the circuit core with an in-memory connection and a small counter app: this file holds
//! the test connection, app and registry; `lifecycle` (start, events, acks, reconnects, eviction,
//! failures), `handlers` (circuit handler order, errors and the two ready handlers) and `calls` (browser
//! calls, server functions, navigation) hold the tests.

mod calls;
mod handlers;
mod lifecycle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::acks::EncodedBatch;
use super::core::Circuit;
use super::core::CircuitDirectory;
use super::core::{AppFault, CircuitApp, CircuitSink, Inbound, Outbound};
use super::env::CircuitEnv;
use super::env::ServerFunction;
use super::lifecycle::{Opening, StartFailure};
use super::registry::{CircuitMetrics, CircuitRegistry};
use super::*;

#[derive(Debug, Clone, PartialEq)]
enum Sent {
    Batch(u64, String),
    Error(String),
    InvokeJs(u64, String, Vec<Value>),
    EndInvokeServer(u64, bool, Value),
    Navigate(String, bool),
}

struct TestSink {
    id: String,
    sent: Mutex<Vec<Sent>>,
    closed: AtomicBool,
}

impl TestSink {
    fn new(id: &str) -> Arc<Self> {
        Arc::new(Self {
            id: id.into(),
            sent: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }
    fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut self.sent.lock())
    }
    fn batch_ids(&self) -> Vec<u64> {
        self.take()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Batch(id, _) => Some(id),
                _ => None,
            })
            .collect()
    }
}

impl CircuitSink for TestSink {
    fn send(&self, message: Outbound<'_>) {
        let sent = match message {
            Outbound::Batch { id, frame } => {
                Sent::Batch(id, String::from_utf8(frame.to_vec()).unwrap())
            }
            Outbound::Error { message } => Sent::Error(message.into()),
            Outbound::InvokeJs {
                call_id,
                identifier,
                args,
            } => Sent::InvokeJs(call_id, identifier.into(), args.to_vec()),
            Outbound::EndInvokeServer {
                call_id,
                succeeded,
                value,
            } => Sent::EndInvokeServer(call_id, succeeded, value.clone()),
            Outbound::Navigate { uri, replace } => Sent::Navigate(uri.into(), replace),
            Outbound::Persisted { resume_now } => Sent::Error(format!("persisted {resume_now}")),
        };
        self.sent.lock().push(sent);
    }
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
    fn abort(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
    fn connection_id(&self) -> &str {
        &self.id
    }
}

/// Handler 1 adds one; handler 98 fails; handler 99 panics.
struct Counter {
    count: u64,
    dirty: bool,
    /// Batches rendered so far (the app counts them, as the renderer does).
    batches: u64,
}

impl CircuitApp for Counter {
    fn dispatch_event(
        &mut self,
        handler_id: u64,
        _event: &str,
        _args: &Value,
    ) -> Result<(), AppFault> {
        match handler_id {
            1 => {
                self.count += 1;
                self.dirty = true;
                Ok(())
            }
            98 => Err(AppFault("handler 98 always fails".into())),
            99 => panic!("handler 99 panics"),
            _ => Ok(()),
        }
    }
    fn location_changed(&mut self, _uri: &str, _intercepted: bool) -> Result<(), AppFault> {
        Ok(())
    }
    fn render(&mut self, _ack_now: bool) -> Result<Option<EncodedBatch>, AppFault> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(None);
        }
        self.batches += 1;
        let id = self.batches;
        Ok(Some(EncodedBatch {
            id,
            frame: format!("{{\"id\":{id},\"count\":{}}}", self.count).into(),
        }))
    }
    fn dispose(&mut self) {}
}

/// The registry and the environment, driven as the circuit hub drives them (without the hub).
struct TestHub {
    registry: Arc<CircuitRegistry>,
    env: Arc<CircuitEnv>,
}

impl TestHub {
    fn start(
        &self,
        sink: Arc<dyn CircuitSink>,
        make_app: impl FnOnce(&CircuitHandle) -> Result<Box<dyn CircuitApp>, String>,
    ) -> Result<(CircuitSecret, Arc<Circuit>), StartFailure> {
        let secret = CircuitSecret::generate();
        let directory: Arc<dyn CircuitDirectory> = self.registry.clone();
        let opening = Opening {
            secret: secret.clone(),
            user: None,
        };
        let circuit = Circuit::open(
            self.env.clone(),
            Arc::downgrade(&directory),
            opening,
            sink,
            make_app,
        )?;
        Ok((secret, circuit))
    }

    fn connect(&self, secret: &CircuitSecret, sink: Arc<dyn CircuitSink>) -> bool {
        let attached = self
            .registry
            .find(secret)
            .is_some_and(|circuit| circuit.attach(sink));
        if !attached {
            self.registry.count_rejected_reconnect();
        }
        attached
    }

    fn connection_closed(&self, connection_id: &str) {
        if let Some(circuit) = self.registry.for_connection(connection_id) {
            circuit.detach(connection_id);
        }
    }

    fn for_connection(&self, connection_id: &str) -> Option<Arc<Circuit>> {
        self.registry.for_connection(connection_id)
    }

    fn metrics(&self) -> CircuitMetrics {
        self.registry.metrics()
    }
}

fn registry(options: CircuitOptions, handlers: CircuitHandlers) -> TestHub {
    let mut functions: HashMap<String, ServerFunction> = HashMap::new();
    functions.insert(
        "add".into(),
        Arc::new(|_, args: Vec<Value>| {
            Box::pin(async move {
                let sum: i64 = args.iter().filter_map(Value::as_i64).sum();
                if sum < 0 {
                    Err("negative".to_owned())
                } else {
                    Ok(json!(sum))
                }
            }) as ServerFunctionFuture
        }),
    );
    TestHub {
        registry: CircuitRegistry::new(options.max_retained_disconnected, options.retention_period),
        env: Arc::new(CircuitEnv {
            options,
            handlers,
            server_functions: functions,
            persistence: None,
        }),
    }
}

/// Starts a counter circuit on `sink` with a first batch to send.
fn start(registry: &TestHub, sink: &Arc<TestSink>) -> CircuitSecret {
    start_counter(registry, sink, true).0
}

/// Starts a counter circuit on `sink`; `dirty`: whether it has a first batch to send.
fn start_counter(
    registry: &TestHub,
    sink: &Arc<TestSink>,
    dirty: bool,
) -> (CircuitSecret, Arc<Circuit>) {
    registry
        .start(sink.clone(), |_| {
            Ok(Box::new(Counter {
                count: 0,
                dirty,
                batches: 0,
            }) as Box<dyn CircuitApp>)
        })
        .unwrap()
}

fn click(registry: &TestHub, connection: &str) -> bool {
    let circuit = registry
        .for_connection(connection)
        .expect("connection has a circuit");
    circuit.deliver(Inbound::Event {
        handler_id: 1,
        event: "click".into(),
        args: json!({}),
    })
}

fn ack(registry: &TestHub, connection: &str, batch: u64, error: Option<&str>) -> bool {
    let circuit = registry
        .for_connection(connection)
        .expect("connection has a circuit");
    circuit.deliver(Inbound::RenderAck {
        batch,
        error: error.map(str::to_owned),
    })
}
