//! Hub benchmarks: `cargo bench -p tether --bench hub`.
//!
//! `echo_invocation` measures one invocation end to end through the real connection task, without sockets:
//! parse the record, look up the method (case-insensitive), deserialise the typed arguments, run it, encode
//! the Completion, queue and write it, plus two channel hops to the in-memory client. `echo_invocation_msgpack`
//! does the same with the MessagePack protocol.

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
    let mut client = rt.block_on(async { echo_hub().connect_in_memory() });
    rt.block_on(client.handshake()).unwrap();
    (rt, client)
}

fn echo_hub() -> Hub {
    Hub::builder()
        .method("Echo", |_ctx: HubContext, (value,): (Value,)| async move {
            Ok::<_, HubError>(value)
        })
        .build()
        .unwrap()
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

/// `Echo` of the same chat message over the MessagePack protocol: the message parses into MessagePack
/// values, the arguments are read from them, and the result is encoded as MessagePack (no JSON on the way).
#[divan::bench]
fn echo_invocation_msgpack(bencher: divan::Bencher) {
    let (rt, mut client) = setup_msgpack();
    // [1, {}, "1", "echo", [{"user": "ann", "text": "hello, world"}], []], then its length in front.
    let mut message = vec![0x96, 0x01, 0x80, 0xa1, b'1', 0xa4];
    message.extend(b"echo");
    message.extend([0x91, 0x82, 0xa4]);
    message.extend(b"user");
    message.push(0xa3);
    message.extend(b"ann");
    message.push(0xa4);
    message.extend(b"text");
    message.push(0xac);
    message.extend(b"hello, world");
    message.push(0x90);
    let mut frame = vec![u8::try_from(message.len()).unwrap()];
    frame.extend(message);
    bencher.bench_local(|| {
        rt.block_on(async {
            client.send_bytes(&frame).await;
            client.recv_bytes().await.unwrap()
        })
    });
}

fn setup_msgpack() -> (tokio::runtime::Runtime, HubTestClient) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut client = rt.block_on(async { echo_hub().connect_in_memory() });
    rt.block_on(async {
        client
            .send_text("{\"protocol\":\"messagepack\",\"version\":1}\u{1e}")
            .await;
        assert_eq!(client.recv_text().await.unwrap(), "{}\u{1e}");
    });
    (rt, client)
}
