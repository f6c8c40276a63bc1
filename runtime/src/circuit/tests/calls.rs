//! Calls across the circuit's connection: browser calls, server functions, navigation.

use super::*;

#[tokio::test(start_paused = true)]
async fn browser_calls_time_out_and_answers_arrive() {
    let registry = registry(
        CircuitOptions::default().browser_call_timeout(Duration::from_secs(1)),
        CircuitHandlers::new(),
    );
    let sink = TestSink::new("c");
    let (_, circuit) = start_counter(&registry, &sink, false);
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
    let (_, circuit) = start_counter(&registry, &sink, false);
    assert!(circuit.handle().navigate("/elsewhere", false));
    assert_eq!(sink.take(), [Sent::Navigate("/elsewhere".into(), false)]);
    assert!(circuit.deliver(Inbound::LocationChanged {
        uri: "/elsewhere".into(),
        intercepted: true
    }));
    registry.connection_closed("c");
    assert!(!circuit.handle().navigate("/elsewhere", false));
}
