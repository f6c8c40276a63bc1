//! Unit tests of the circuit core with an in-memory connection and a small counter app.

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

    fn end_by_secret(&self, secret: &CircuitSecret) -> bool {
        self.registry
            .find(secret)
            .map(|circuit| circuit.end_by_browser())
            .is_some()
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

fn start(registry: &TestHub, sink: &Arc<TestSink>) -> CircuitSecret {
    let (secret, _) = registry
        .start(sink.clone(), |_| {
            Ok(Box::new(Counter {
                count: 0,
                dirty: true,
                batches: 0,
            }) as Box<dyn CircuitApp>)
        })
        .unwrap();
    secret
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

#[tokio::test]
async fn start_event_batch_ack() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let sink = TestSink::new("c1");
    start(&registry, &sink);
    assert_eq!(
        sink.take(),
        [Sent::Batch(1, "{\"id\":1,\"count\":0}".into())]
    );
    assert!(click(&registry, "c1"));
    assert_eq!(
        sink.take(),
        [Sent::Batch(2, "{\"id\":2,\"count\":1}".into())]
    );
    assert!(ack(&registry, "c1", 2, None));
    assert!(ack(&registry, "c1", 1, None), "a stale ack is ignored");
    let metrics = registry.metrics();
    assert_eq!(
        (metrics.active, metrics.connected, metrics.disconnected),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn reconnect_keeps_state_and_resends_unacknowledged_batches() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let first = TestSink::new("c1");
    let secret = start(&registry, &first);
    ack(&registry, "c1", 1, None);
    click(&registry, "c1");
    click(&registry, "c1");
    first.take();
    registry.connection_closed("c1");
    assert_eq!(registry.metrics().disconnected, 1);
    let second = TestSink::new("c2");
    assert!(registry.connect(
        &CircuitSecret::parse(&secret.expose()).unwrap(),
        second.clone()
    ));
    assert_eq!(second.batch_ids(), [2, 3]);
    click(&registry, "c2");
    assert_eq!(
        second.take(),
        [Sent::Batch(4, "{\"id\":4,\"count\":3}".into())]
    );
    assert_eq!(registry.metrics().connected, 1);
}

#[tokio::test]
async fn a_wrong_key_is_rejected() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let secret = start(&registry, &TestSink::new("c1"));
    let mut text = secret.expose().into_bytes();
    text[40] = if text[40] == b'A' { b'B' } else { b'A' };
    let forged = CircuitSecret::parse(std::str::from_utf8(&text).unwrap()).unwrap();
    assert!(!registry.connect(&forged, TestSink::new("c2")));
    assert_eq!(registry.metrics().rejected_reconnects, 1);
}

#[tokio::test]
async fn eviction_by_count_takes_the_oldest() {
    let registry = registry(
        CircuitOptions::default().max_retained_disconnected(1),
        CircuitHandlers::new(),
    );
    let a = start(&registry, &TestSink::new("a"));
    let b = start(&registry, &TestSink::new("b"));
    registry.connection_closed("a");
    registry.connection_closed("b");
    let metrics = registry.metrics();
    assert_eq!(
        (metrics.active, metrics.disconnected, metrics.evicted),
        (1, 1, 1)
    );
    assert!(!registry.connect(&a, TestSink::new("a2")));
    assert!(registry.connect(&b, TestSink::new("b2")));
    assert_eq!(registry.metrics().rejected_reconnects, 1);
}

#[tokio::test(start_paused = true)]
async fn eviction_by_time() {
    let registry = registry(
        CircuitOptions::default().retention_period(Duration::from_secs(10)),
        CircuitHandlers::new(),
    );
    let a = start(&registry, &TestSink::new("a"));
    let b = start(&registry, &TestSink::new("b"));
    registry.connection_closed("a");
    tokio::time::sleep(Duration::from_secs(5)).await;
    registry.connection_closed("b");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(registry.metrics().evicted, 1);
    assert!(!registry.connect(&a, TestSink::new("a2")));
    // b reconnects in time, then drops again: its new retention starts then.
    assert!(registry.connect(&b, TestSink::new("b2")));
    registry.connection_closed("b2");
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(registry.metrics().disconnected, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(registry.metrics().evicted, 2);
    assert_eq!(registry.metrics().active, 0);
}

#[tokio::test]
async fn takeover_closes_the_old_connection() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let old = TestSink::new("old");
    let secret = start(&registry, &old);
    let new = TestSink::new("new");
    assert!(registry.connect(&secret, new.clone()));
    assert!(old.closed.load(Ordering::SeqCst));
    assert!(registry.for_connection("old").is_none());
    // The old connection's close afterwards changes nothing.
    registry.connection_closed("old");
    assert_eq!(registry.metrics().connected, 1);
    assert!(click(&registry, "new"));
    assert_eq!(new.batch_ids(), [1, 2]);
}

#[tokio::test]
async fn rendering_pauses_at_the_unacknowledged_limit() {
    let registry = registry(
        CircuitOptions::default().max_unacknowledged_batches(2),
        CircuitHandlers::new(),
    );
    let sink = TestSink::new("c");
    start(&registry, &sink);
    click(&registry, "c");
    assert_eq!(sink.batch_ids(), [1, 2]);
    click(&registry, "c");
    click(&registry, "c");
    assert!(
        sink.take().is_empty(),
        "no batch while two are unacknowledged"
    );
    ack(&registry, "c", 1, None);
    assert_eq!(
        sink.take(),
        [Sent::Batch(3, "{\"id\":3,\"count\":3}".into())]
    );
}

#[tokio::test]
async fn an_ack_for_an_unknown_batch_ends_the_circuit() {
    let registry = registry(
        CircuitOptions::default().detailed_errors(true),
        CircuitHandlers::new(),
    );
    let sink = TestSink::new("c");
    start(&registry, &sink);
    sink.take();
    assert!(!ack(&registry, "c", 7, None));
    match sink.take().as_slice() {
        [Sent::Error(message)] => assert!(message.contains("render batch 7"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(sink.closed.load(Ordering::SeqCst));
    assert_eq!(registry.metrics().active, 0);
}

#[tokio::test]
async fn an_apply_error_ends_the_circuit_with_a_generic_message_by_default() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let sink = TestSink::new("c");
    start(&registry, &sink);
    sink.take();
    assert!(!ack(&registry, "c", 1, Some("no node 3")));
    match sink.take().as_slice() {
        [Sent::Error(message)] => assert!(
            !message.contains("node 3") && message.contains("detailed_errors"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_panicking_circuit_does_not_touch_another() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let (a, b) = (TestSink::new("a"), TestSink::new("b"));
    start(&registry, &a);
    start(&registry, &b);
    let circuit = registry.for_connection("a").unwrap();
    assert!(!circuit.deliver(Inbound::Event {
        handler_id: 99,
        event: "click".into(),
        args: json!({})
    }));
    assert!(matches!(a.take().last(), Some(Sent::Error(_))));
    assert!(click(&registry, "b"));
    assert_eq!(b.batch_ids(), [1, 2]);
    assert_eq!(registry.metrics().active, 1);
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

struct Recorder {
    name: &'static str,
    order: i32,
    log: Arc<Log>,
    fail_on_event: bool,
}

impl Recorder {
    fn note(&self, what: &str, circuit: &CircuitHandle) {
        let _ = circuit;
        self.log.0.lock().push(format!("{}:{what}", self.name));
    }
}

impl CircuitHandler for Recorder {
    fn order(&self) -> i32 {
        self.order
    }
    fn on_circuit_opened(&self, c: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("opened", c);
        Ok(())
    }
    fn on_connection_up(&self, c: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("up", c);
        Ok(())
    }
    fn on_connection_down(&self, c: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("down", c);
        Ok(())
    }
    fn on_circuit_closed(&self, c: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("closed", c);
        Ok(())
    }
    fn on_inbound(
        &self,
        c: &CircuitHandle,
        activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        if self.fail_on_event && matches!(activity, InboundActivity::Event { .. }) {
            return Err(HandlerError::new("recorder refuses events"));
        }
        self.note("in", c);
        let result = next.run();
        self.note("out", c);
        result
    }
}

#[tokio::test]
async fn handlers_run_in_order_with_lower_outermost() {
    let log = Arc::new(Log::default());
    let (l1, l2) = (log.clone(), log.clone());
    let handlers = CircuitHandlers::new()
        .shared(Recorder {
            name: "shared5",
            order: 5,
            log: log.clone(),
            fail_on_event: false,
        })
        .per_circuit(move |_| Recorder {
            name: "own1",
            order: 1,
            log: l1.clone(),
            fail_on_event: false,
        })
        .per_circuit(move |_| Recorder {
            name: "own9",
            order: 9,
            log: l2.clone(),
            fail_on_event: false,
        });
    let registry = registry(CircuitOptions::default(), handlers);
    let secret = start(&registry, &TestSink::new("c"));
    click(&registry, "c");
    registry.connection_closed("c");
    registry.connect(&secret, TestSink::new("d"));
    registry.end_by_secret(&secret);
    let got = std::mem::take(&mut *log.0.lock());
    let expected = [
        "own1:opened",
        "shared5:opened",
        "own9:opened",
        "own1:up",
        "shared5:up",
        "own9:up", // start
        "own1:in",
        "shared5:in",
        "own9:in",
        "own9:out",
        "shared5:out",
        "own1:out", // start middleware
        "own1:in",
        "shared5:in",
        "own9:in",
        "own9:out",
        "shared5:out",
        "own1:out", // click
        "own1:down",
        "shared5:down",
        "own9:down", // socket dropped
        "own1:in",
        "shared5:in",
        "own9:in",
        "own1:up",
        "shared5:up",
        "own9:up",
        "own9:out",
        "shared5:out",
        "own1:out", // reconnect
        "own1:down",
        "shared5:down",
        "own9:down",
        "own1:closed",
        "shared5:closed",
        "own9:closed", // beacon
    ];
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_handler_error_ends_only_its_circuit() {
    let log = Arc::new(Log::default());
    let fail_next = Arc::new(AtomicBool::new(true));
    let (l, f) = (log.clone(), fail_next.clone());
    // The first circuit's handler refuses events; the second's does not.
    let handlers = CircuitHandlers::new().per_circuit(move |_| Recorder {
        name: "r",
        order: 0,
        log: l.clone(),
        fail_on_event: f.swap(false, Ordering::SeqCst),
    });
    let registry = registry(CircuitOptions::default(), handlers);
    let (a, b) = (TestSink::new("a"), TestSink::new("b"));
    start(&registry, &a);
    start(&registry, &b);
    assert!(!click(&registry, "a"));
    assert!(matches!(a.take().last(), Some(Sent::Error(_))));
    assert!(click(&registry, "b"));
    assert_eq!(b.batch_ids(), [1, 2]);
    assert_eq!(registry.metrics().active, 1);
}

#[tokio::test(start_paused = true)]
async fn idle_circuits_are_reported_and_optionally_closed() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let idle = Arc::new(IdleCircuitHandler::new(
        IdleOptions::default()
            .timeout(Duration::from_secs(60))
            .close_idle(true),
        move |circuit| {
            let _ = tx.send(circuit.id());
        },
    ));
    let registry = registry(
        CircuitOptions::default(),
        CircuitHandlers::new().shared_arc(idle),
    );
    let (a, b) = (TestSink::new("a"), TestSink::new("b"));
    start(&registry, &a);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let b_secret = start(&registry, &b);
    tokio::time::sleep(Duration::from_secs(29)).await;
    click(&registry, "b");
    let first = rx.recv().await.unwrap();
    assert_ne!(first, b_secret.id());
    tokio::task::yield_now().await;
    assert_eq!(registry.metrics().active, 1, "the idle circuit was closed");
    // b's timer was reset by its click at 59 s: it goes idle at 119 s, not at 90 s.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(rx.recv().await.unwrap(), b_secret.id());
}

#[tokio::test]
async fn the_tracker_lists_connected_circuits() {
    let tracker = Arc::new(CircuitTracker::new());
    let registry = registry(
        CircuitOptions::default(),
        CircuitHandlers::new().shared_arc(tracker.clone()),
    );
    let a = start(&registry, &TestSink::new("a"));
    let b = start(&registry, &TestSink::new("b"));
    let mut expected = vec![a.id(), b.id()];
    expected.sort();
    assert_eq!(tracker.circuits(), expected);
    registry.connection_closed("a");
    assert_eq!(tracker.circuits(), [b.id()]);
    registry.connect(&a, TestSink::new("a2"));
    assert_eq!(tracker.count(), 2);
    registry.end_by_secret(&b);
    assert_eq!(tracker.circuits(), [a.id()]);
    assert_eq!(*tracker.watch_count().borrow(), 1);
}

#[tokio::test(start_paused = true)]
async fn browser_calls_time_out_and_answers_arrive() {
    let registry = registry(
        CircuitOptions::default().browser_call_timeout(Duration::from_secs(1)),
        CircuitHandlers::new(),
    );
    let sink = TestSink::new("c");
    let (_, circuit) = registry
        .start(sink.clone(), |_| {
            Ok(Box::new(Counter {
                count: 0,
                dirty: false,
                batches: 0,
            }) as Box<dyn CircuitApp>)
        })
        .unwrap();
    let handle = circuit.handle();
    let err = handle
        .call_browser("window.nothing", vec![])
        .await
        .unwrap_err();
    assert_eq!(err, BrowserCallError::TimedOut(Duration::from_secs(1)));
    assert!(err.to_string().contains("browser_call_timeout"));
    let call = tokio::spawn({
        let handle = handle.clone();
        async move {
            handle
                .call_browser("Math.max", vec![json!(1), json!(2)])
                .await
        }
    });
    while !sink
        .sent
        .lock()
        .iter()
        .any(|s| *s == Sent::InvokeJs(2, "Math.max".into(), vec![json!(1), json!(2)]))
    {
        tokio::task::yield_now().await;
    }
    circuit.deliver(Inbound::BrowserCallResult {
        call_id: 2,
        succeeded: true,
        value: json!(2),
    });
    assert_eq!(call.await.unwrap(), Ok(json!(2)));
    // A late answer to the timed-out call is ignored.
    assert!(circuit.deliver(Inbound::BrowserCallResult {
        call_id: 1,
        succeeded: true,
        value: json!(0)
    }));
}

#[tokio::test]
async fn server_functions_answer_with_results_and_errors() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let sink = TestSink::new("c");
    start(&registry, &sink);
    sink.take();
    let circuit = registry.for_connection("c").unwrap();
    circuit.deliver(Inbound::InvokeServer {
        call_id: 1,
        name: "add".into(),
        args: vec![json!(2), json!(3)],
    });
    circuit.deliver(Inbound::InvokeServer {
        call_id: 2,
        name: "add".into(),
        args: vec![json!(-5)],
    });
    circuit.deliver(Inbound::InvokeServer {
        call_id: 3,
        name: "nope".into(),
        args: vec![],
    });
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(sink.take());
        tokio::task::yield_now().await;
    }
    got.sort_by_key(|s| match s {
        Sent::EndInvokeServer(id, ..) => *id,
        _ => 0,
    });
    assert_eq!(got[0], Sent::EndInvokeServer(1, true, json!(5)));
    assert_eq!(got[1], Sent::EndInvokeServer(2, false, json!("negative")));
    assert_eq!(
        got[2],
        Sent::EndInvokeServer(3, false, json!("no server function named `nope`"))
    );
}

#[tokio::test]
async fn navigation_goes_to_the_connected_browser() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let sink = TestSink::new("c");
    let (_, circuit) = registry
        .start(sink.clone(), |_| {
            Ok(Box::new(Counter {
                count: 0,
                dirty: false,
                batches: 0,
            }) as Box<dyn CircuitApp>)
        })
        .unwrap();
    assert!(circuit.handle().navigate("/elsewhere", false));
    assert_eq!(sink.take(), [Sent::Navigate("/elsewhere".into(), false)]);
    assert!(circuit.deliver(Inbound::LocationChanged {
        uri: "/elsewhere".into(),
        intercepted: true
    }));
    registry.connection_closed("c");
    assert!(!circuit.handle().navigate("/elsewhere", false));
}

struct PanicsOnEvents;

impl CircuitHandler for PanicsOnEvents {
    fn on_inbound(
        &self,
        _: &CircuitHandle,
        activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        if matches!(activity, InboundActivity::Event { .. }) {
            panic!("middleware panic");
        }
        next.run()
    }
}

#[tokio::test]
async fn a_panic_in_a_handler_or_component_still_runs_the_closing_callbacks() {
    for (handler_id, panicking_middleware) in [(1, true), (99, false)] {
        let log = Arc::new(Log::default());
        let mut handlers = CircuitHandlers::new().shared(Recorder {
            name: "r",
            order: 0,
            log: log.clone(),
            fail_on_event: false,
        });
        if panicking_middleware {
            handlers = handlers.shared(PanicsOnEvents);
        }
        let registry = registry(CircuitOptions::default().detailed_errors(true), handlers);
        let sink = TestSink::new("c");
        start(&registry, &sink);
        let circuit = registry.for_connection("c").unwrap();
        let event = Inbound::Event {
            handler_id,
            event: "click".into(),
            args: json!({}),
        };
        assert!(!circuit.deliver(event));
        let got = std::mem::take(&mut *log.0.lock());
        assert_eq!(got[got.len() - 2..], ["r:down", "r:closed"], "{got:?}");
        match sink.take().last() {
            Some(Sent::Error(message)) => {
                let expected = if panicking_middleware {
                    "middleware panic"
                } else {
                    "handler 99 panics"
                };
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Uses its circuit handle from inside the circuit's own callbacks (where the circuit is busy).
struct UsesHandleInside(Arc<Mutex<Vec<bool>>>);

impl CircuitHandler for UsesHandleInside {
    fn on_connection_up(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        self.0
            .lock()
            .push(circuit.is_connected() && circuit.is_alive());
        circuit.navigate("/welcome", true);
        circuit.render();
        Ok(())
    }
}

#[tokio::test]
async fn handles_work_from_inside_the_circuits_own_callbacks() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handlers = CircuitHandlers::new().shared(UsesHandleInside(seen.clone()));
    let registry = registry(CircuitOptions::default(), handlers);
    let sink = TestSink::new("c");
    start(&registry, &sink);
    assert_eq!(*seen.lock(), [true]);
    let mut sent = Vec::new();
    while !sent.iter().any(|s| matches!(s, Sent::Navigate(..))) {
        tokio::task::yield_now().await;
        sent.extend(sink.take());
    }
    assert!(
        sent.contains(&Sent::Navigate("/welcome".into(), true)),
        "{sent:?}"
    );
}

#[tokio::test]
async fn batches_rendered_while_disconnected_are_sent_on_reconnect() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let first = TestSink::new("a");
    let (secret, circuit) = registry
        .start(first.clone(), |_| {
            Ok(Box::new(Counter {
                count: 0,
                dirty: true,
                batches: 0,
            }) as Box<dyn CircuitApp>)
        })
        .unwrap();
    ack(&registry, "a", 1, None);
    registry.connection_closed("a");
    // Work that reaches the circuit while no browser is connected (a timer, a broadcast) still renders.
    assert!(circuit.deliver(Inbound::Event {
        handler_id: 1,
        event: "tick".into(),
        args: json!({})
    }));
    assert_eq!(first.batch_ids(), [1]);
    let second = TestSink::new("b");
    assert!(registry.connect(&secret, second.clone()));
    assert_eq!(
        second.take(),
        [Sent::Batch(2, "{\"id\":2,\"count\":1}".into())]
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CircuitHub>();
    check::<CircuitHandle>();
    check::<CircuitTracker>();
    check::<IdleCircuitHandler>();
    check::<DescriptorSigner>();
    check::<CircuitHandlers>();
    check::<CircuitSecret>();
    check::<CircuitMetrics>();
}
