//! Hub benchmarks: `cargo bench -p tether --bench hub`.
//!
//! `echo_invocation` measures one invocation end to end through the real connection task, without sockets:
//! parse the record, look up the method (case-insensitive), deserialise the typed arguments, run it, encode
//! the Completion, queue and write it, plus two channel hops to the in-memory client.

use serde_json::{json, Value};
use tether::hub::{Hub, HubContext, HubError, HubTestClient};

fn main() {
    divan::main();
}

fn setup() -> (tokio::runtime::Runtime, HubTestClient) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hub = Hub::builder()
        .method("Echo", |_ctx: HubContext, (value,): (Value,)| async move {
            Ok::<_, HubError>(value)
        })
        .build()
        .unwrap();
    let mut client = rt.block_on(async { hub.connect_in_memory() });
    rt.block_on(client.handshake()).unwrap();
    (rt, client)
}

#[divan::bench]
fn echo_invocation(bencher: divan::Bencher) {
    let (rt, mut client) = setup();
    let frame = format!(
        "{}\u{1e}",
        json!({"type": 1, "invocationId": "1", "target": "echo", "arguments": [{"user": "ann", "text": "hello, world"}]})
    );
    bencher.bench_local(|| {
        rt.block_on(async {
            client.send_text(&frame).await;
            client.recv_text().await.unwrap()
        })
    });
}

#[divan::bench]
fn echo_invocation_helper(bencher: divan::Bencher) {
    let (rt, mut client) = setup();
    bencher.bench_local(|| {
        rt.block_on(client.invoke("Echo", vec![json!("hi")]))
            .unwrap()
    });
}
