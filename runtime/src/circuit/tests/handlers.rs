//! Circuit handlers from the inside: the idle timer under paused time, the closing callbacks after a
//! panic, handles used from inside the circuit's own callbacks. Handler order, handler errors and the
//! tracker are tested over real sockets in runtime/tests/circuit_handlers.rs.

use super::*;

/// Notes the closing callbacks, in order.
#[derive(Default)]
struct ClosingLog(Mutex<Vec<&'static str>>);

impl CircuitHandler for ClosingLog {
    fn on_connection_down(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.0.lock().push("down");
        Ok(())
    }
    fn on_circuit_closed(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.0.lock().push("closed");
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_idle_timer_fires_at_the_timeout_and_activity_resets_it() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let idle = Arc::new(IdleCircuitHandler::new(
        IdleOptions::default()
            .timeout(Duration::from_secs(60))
            .close_idle(false),
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
    assert_eq!(
        registry.metrics().active,
        2,
        "reported, not closed: close_idle is off (closing is tested over sockets)"
    );
    // b's timer was reset by its click at 59 s: it goes idle at 119 s, not at 90 s.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(rx.recv().await.unwrap(), b_secret.id());
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
        let log = Arc::new(ClosingLog::default());
        let mut handlers = CircuitHandlers::new().shared_arc(log.clone());
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
        assert_eq!(got, ["down", "closed"]);
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
