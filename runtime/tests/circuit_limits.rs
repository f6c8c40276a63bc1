//! Circuit limits a client could otherwise use to make the server hold memory (issue 9, defect 2): the
//! `Chunked` calls of one connection share a reassembly budget.

mod raw;
mod support;

use raw::{connect, send_frame, within};
use serde_json::{json, Value};
use support::serve;
use tether::circuit::CircuitHub;

/// One `Chunked` call's opening message and `size` characters of stream items, never completed.
fn open_chunked_call(call: &str, size: usize) -> Vec<Value> {
    let stream = format!("{call}-stream");
    let mut messages = vec![json!({
        "type": 1, "invocationId": call, "target": "Chunked",
        "arguments": ["DispatchEvent"], "streamIds": [stream]
    })];
    let chunk = "c".repeat(16 * 1024);
    for _ in 0..size / chunk.len() {
        messages.push(json!({"type": 2, "invocationId": stream, "item": chunk}));
    }
    messages
}

#[tokio::test]
async fn chunked_calls_of_one_connection_share_a_reassembly_budget() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut socket = connect(&format!("ws://{}/_tether", server.addr)).await;
    // Three calls of 900 KB each: under the 1 MiB per call, over the 2 MiB per connection together.
    for call in ["a", "b", "c"] {
        for frame in open_chunked_call(call, 900 * 1024).chunks(8) {
            send_frame(&mut socket, frame).await;
        }
    }
    // Completing the first two lets their (invalid) calls answer; the third was refused on the way.
    let completions: Vec<Value> = ["a", "b"]
        .iter()
        .map(|call| json!({"type": 3, "invocationId": format!("{call}-stream")}))
        .collect();
    send_frame(&mut socket, &completions).await;
    let refused = within("the third call's answer", async {
        loop {
            let message = raw::recv(&mut socket).await;
            if message["invocationId"] == "c" {
                return message;
            }
        }
    })
    .await;
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("max_chunked_bytes_per_connection"),
        "{refused}"
    );
}
