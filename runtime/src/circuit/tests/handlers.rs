//! Circuit handlers: their order, their errors, the idle and tracking handlers, handles used from inside callbacks.

use super::*;

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
