//! A circuit's life with the test app: start, events, batches and acks, reconnects, eviction, failures.

use super::*;

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

#[tokio::test]
async fn batches_rendered_while_disconnected_are_sent_on_reconnect() {
    let registry = registry(CircuitOptions::default(), CircuitHandlers::new());
    let first = TestSink::new("a");
    let (secret, circuit) = start_counter(&registry, &first, true);
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
