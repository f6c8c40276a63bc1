//! Circuits do not depend on the transport: the same flow over long polling.

mod support;

use serde_json::json;
use support::{attach_html, attribute_of, serve, text_update, LongPollClient};
use tether::circuit::{CircuitHub, PROTOCOL_VERSION};

#[tokio::test]
async fn a_circuit_runs_over_long_polling() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/counter?start=7").await;
    let mut client = LongPollClient::connect(server.addr, server.hub.path()).await;
    let base = format!("http://{}/", server.addr);
    client
        .send(json!({"type": 1, "invocationId": "1", "target": "StartCircuit", "arguments": [PROTOCOL_VERSION, base, base, descriptors]}))
        .await;
    let mut secret = None;
    let mut attach = None;
    while secret.is_none() || attach.is_none() {
        let message = client.next().await;
        match (message["type"].as_u64(), message["target"].as_str()) {
            (Some(3), _) => secret = Some(message["result"].as_str().expect("a secret").to_owned()),
            (Some(1), Some("T.Batch")) => attach = Some(message["arguments"][1].clone()),
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let html = attach_html(&attach.unwrap());
    let increment: u64 = attribute_of(&html, "increment", "t-click")
        .unwrap()
        .parse()
        .unwrap();
    client
        .send(json!({"type": 1, "target": "OnRenderCompleted", "arguments": [1, null]}))
        .await;
    client
        .send(json!({"type": 1, "target": "DispatchEvent", "arguments": [increment, "click", {}]}))
        .await;
    let message = client.next().await;
    assert_eq!(message["target"], "T.Batch", "{message}");
    assert_eq!(message["arguments"][0], 2);
    assert_eq!(text_update(&message["arguments"][1]).as_deref(), Some("8"));
    assert_eq!(server.hub.metrics().connected, 1);
}
