//! Browser calls (with their timeout) and server functions, over real sockets.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::serve;
use tether::circuit::{CircuitHub, CircuitOptions};

fn hub() -> tether::circuit::CircuitHubBuilder {
    CircuitHub::builder(support::components())
        .options(CircuitOptions::default().browser_call_timeout(Duration::from_millis(300)))
        .server_function("add", |_circuit, args| async move {
            let numbers: Option<Vec<i64>> = args.iter().map(Value::as_i64).collect();
            numbers
                .map(|n| json!(n.iter().sum::<i64>()))
                .ok_or_else(|| "add takes numbers".to_owned())
        })
        .server_function("askBrowser", |circuit, args| async move {
            let name = args
                .first()
                .and_then(Value::as_str)
                .unwrap_or("window.prompt")
                .to_owned();
            circuit
                .call_browser(&name, vec![json!("question")])
                .await
                .map_err(|e| e.to_string())
        })
}

#[tokio::test]
async fn server_functions_answer_with_results_and_errors() {
    let server = serve(hub()).await;
    let mut session = server.start_counter(0).await;
    let client = &mut session.client;
    client.send("InvokeServer", json!([1, "add", [2, 3]])).await;
    assert_eq!(
        client.expect("T.EndInvokeServer").await,
        [json!(1), json!(true), json!(5)]
    );
    client.send("InvokeServer", json!([2, "add", ["x"]])).await;
    assert_eq!(
        client.expect("T.EndInvokeServer").await,
        [json!(2), json!(false), json!("add takes numbers")]
    );
    client.send("InvokeServer", json!([3, "nope", []])).await;
    let answer = client.expect("T.EndInvokeServer").await;
    assert_eq!(answer[..2], [json!(3), json!(false)]);
    assert!(answer[2].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn a_browser_call_returns_the_browsers_answer() {
    let server = serve(hub()).await;
    let mut session = server.start_counter(0).await;
    let client = &mut session.client;
    client
        .send("InvokeServer", json!([1, "askBrowser", ["app.answer"]]))
        .await;
    let call = client.expect("T.InvokeJS").await;
    assert_eq!(call[1..], [json!("app.answer"), json!(["question"])]);
    client
        .send("EndInvokeJS", json!([call[0], true, {"answer": 42}]))
        .await;
    assert_eq!(
        client.expect("T.EndInvokeServer").await,
        [json!(1), json!(true), json!({"answer": 42})]
    );
    // A browser-side failure comes back as an error.
    client
        .send("InvokeServer", json!([2, "askBrowser", ["app.broken"]]))
        .await;
    let call = client.expect("T.InvokeJS").await;
    client
        .send(
            "EndInvokeJS",
            json!([call[0], false, "TypeError: app.broken is not a function"]),
        )
        .await;
    let answer = client.expect("T.EndInvokeServer").await;
    assert_eq!(answer[1], json!(false));
    assert!(
        answer[2].as_str().unwrap().contains("TypeError"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_browser_call_times_out() {
    let server = serve(hub()).await;
    let mut session = server.start_counter(0).await;
    let client = &mut session.client;
    client
        .send("InvokeServer", json!([7, "askBrowser", []]))
        .await;
    let call = client.expect("T.InvokeJS").await;
    // The browser never answers.
    let answer = client.expect("T.EndInvokeServer").await;
    assert_eq!(answer[..2], [json!(7), json!(false)]);
    let message = answer[2].as_str().unwrap();
    assert!(
        message.contains("300 ms") && message.contains("browser_call_timeout"),
        "{message}"
    );
    // A late answer is ignored and the circuit keeps working.
    client.send("EndInvokeJS", json!([call[0], true, 1])).await;
    assert_eq!(session.click().await, (2, "1".to_owned()));
}
