//! Stateful reconnect at the protocol level: replay, duplicate suppression, and the disconnect window.

mod raw;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use raw::{http, listen};
use serde_json::{json, Value};
use tether::hub::{DisconnectReason, Hub, HubContext, HubError, HubOptions};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// POSTs negotiate and returns the JSON body.
async fn negotiate(addr: std::net::SocketAddr, query: &str) -> Value {
    let (_, body) = http(addr, "POST", &format!("/hub/negotiate?{query}"), "").await;
    serde_json::from_str(&body).unwrap()
}

async fn open(addr: std::net::SocketAddr, token: &str) -> Socket {
    let url = format!("ws://{addr}/hub?id={token}");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(socket: &mut Socket, text: String) {
    socket.send(Message::text(text)).await.unwrap();
}

/// Every record of the next text frames until one matching `stop`, Pings and Acks skipped.
async fn read_until(socket: &mut Socket, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let Message::Text(text) = socket.next().await.unwrap().unwrap() else {
            continue;
        };
        for record in text.as_str().split('\u{1e}').filter(|r| !r.is_empty()) {
            let value: Value = serde_json::from_str(record).unwrap();
            if value["type"] == 6 || value["type"] == 8 {
                continue;
            }
            let done = stop(&value);
            seen.push(value);
            if done {
                return seen;
            }
        }
    }
}

fn hub(disconnect: Duration, reasons: mpsc::UnboundedSender<DisconnectReason>) -> Hub {
    Hub::builder()
        .options(HubOptions {
            allow_stateful_reconnect: true,
            disconnect_timeout: disconnect,
            ..HubOptions::default()
        })
        .method("Echo", |_ctx: HubContext, (v,): (Value,)| async move {
            Ok::<_, HubError>(v)
        })
        .on_disconnected(move |_ctx: HubContext, reason| {
            let reasons = reasons.clone();
            async move { reasons.send(reason).unwrap() }
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn stateful_is_granted_only_when_allowed_and_asked() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let addr = listen(hub(Duration::from_secs(5), tx)).await;
    let asked = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    assert_eq!(asked["useStatefulReconnect"], true);
    let unasked = negotiate(addr, "negotiateVersion=1").await;
    assert!(unasked.get("useStatefulReconnect").is_none());

    let plain = Hub::builder().build().unwrap();
    let addr = listen(plain).await;
    let refused = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    assert!(refused.get("useStatefulReconnect").is_none());
}

#[tokio::test]
async fn a_new_socket_resumes_with_replay_and_duplicates_dropped() {
    let (tx, mut reasons) = mpsc::unbounded_channel();
    let addr = listen(hub(Duration::from_secs(5), tx)).await;
    let negotiated = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    let token = negotiated["connectionToken"].as_str().unwrap();

    let mut first = open(addr, token).await;
    send(
        &mut first,
        "{\"protocol\":\"json\",\"version\":2}\u{1e}".into(),
    )
    .await;
    let invoke_one =
        json!({"type": 1, "invocationId": "1", "target": "Echo", "arguments": ["one"]});
    send(&mut first, format!("{invoke_one}\u{1e}")).await;
    let got = read_until(&mut first, |m| m["type"] == 3).await;
    assert_eq!(got.last().unwrap()["result"], "one");
    // The socket dies without a close frame; the client never acknowledged the Completion.
    drop(first);

    let mut second = open(addr, token).await;
    // The client resends from its first unacknowledged message: the invocation the server already ran.
    let invoke_two =
        json!({"type": 1, "invocationId": "2", "target": "Echo", "arguments": ["two"]});
    send(
        &mut second,
        format!(
            "{}\u{1e}{invoke_one}\u{1e}{invoke_two}\u{1e}",
            json!({"type": 9, "sequenceId": 1})
        ),
    )
    .await;
    let got = read_until(&mut second, |m| m["invocationId"] == "2").await;
    assert_eq!(
        got,
        vec![
            json!({"type": 9, "sequenceId": 1}),
            json!({"type": 3, "invocationId": "1", "result": "one"}),
            json!({"type": 3, "invocationId": "2", "result": "two"}),
        ],
        "the unacknowledged completion is replayed once and the duplicate invocation is not run again"
    );
    send(&mut second, "{\"type\":7}\u{1e}".into()).await;
    assert_eq!(reasons.recv().await.unwrap(), DisconnectReason::Closed);
}

#[tokio::test]
async fn without_a_reconnect_the_connection_ends_after_the_window() {
    let (tx, mut reasons) = mpsc::unbounded_channel();
    let addr = listen(hub(Duration::from_millis(200), tx)).await;
    let negotiated = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    let token = negotiated["connectionToken"].as_str().unwrap().to_owned();
    let mut socket = open(addr, &token).await;
    send(
        &mut socket,
        "{\"protocol\":\"json\",\"version\":2}\u{1e}".into(),
    )
    .await;
    read_until(&mut socket, |m| *m == json!({})).await;
    drop(socket);
    assert_eq!(
        reasons.recv().await.unwrap(),
        DisconnectReason::TransportTimeout
    );
    // The token is gone: a late reconnect is refused.
    let late = tokio_tungstenite::connect_async(format!("ws://{addr}/hub?id={token}")).await;
    let error = late.unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
}

#[tokio::test]
async fn a_sequence_ahead_of_what_was_received_is_fatal() {
    let (tx, mut reasons) = mpsc::unbounded_channel();
    let addr = listen(hub(Duration::from_secs(5), tx)).await;
    let negotiated = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    let mut socket = open(addr, negotiated["connectionToken"].as_str().unwrap()).await;
    send(
        &mut socket,
        "{\"protocol\":\"json\",\"version\":2}\u{1e}".into(),
    )
    .await;
    send(
        &mut socket,
        format!("{}\u{1e}", json!({"type": 9, "sequenceId": 5})),
    )
    .await;
    let got = read_until(&mut socket, |m| m["type"] == 7).await;
    assert_eq!(
        got.last().unwrap()["error"],
        "Connection closed with an error: Sequence id 5 is ahead of the last received message 0."
    );
    assert!(matches!(
        reasons.recv().await.unwrap(),
        DisconnectReason::ProtocolError(_)
    ));
}

#[tokio::test]
async fn unacknowledged_bytes_apply_backpressure_until_acked() {
    // A background sender reports how many messages it queued before the queue was full.
    let (counts_tx, mut counts) = mpsc::unbounded_channel::<usize>();
    let (go_tx, go_rx) = mpsc::unbounded_channel::<()>();
    let go_rx = std::sync::Arc::new(tokio::sync::Mutex::new(go_rx));
    let hub = Hub::builder()
        .options(HubOptions {
            allow_stateful_reconnect: true,
            stateful_reconnect_buffer_size: 1_000,
            outbound_queue_capacity: 4,
            ..HubOptions::default()
        })
        .method("Flood", move |ctx: HubContext, (): ()| {
            let (counts_tx, go_rx) = (counts_tx.clone(), go_rx.clone());
            async move {
                let caller = ctx.caller();
                tokio::spawn(async move {
                    let mut go = go_rx.lock().await;
                    loop {
                        let mut sent = 0;
                        // Keep sending until the queue stays full for a while.
                        let mut full_in_a_row = 0;
                        while full_in_a_row < 50 {
                            match caller.send("Item", ("x".repeat(50),)) {
                                Ok(()) => {
                                    sent += 1;
                                    full_in_a_row = 0;
                                }
                                Err(e) if e.is_full() => full_in_a_row += 1,
                                Err(_) => return,
                            }
                            tokio::task::yield_now().await;
                        }
                        counts_tx.send(sent).unwrap();
                        if go.recv().await.is_none() {
                            return;
                        }
                    }
                });
                Ok::<_, HubError>(())
            }
        })
        .build()
        .unwrap();
    let addr = listen(hub).await;
    let negotiated = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    let mut socket = open(addr, negotiated["connectionToken"].as_str().unwrap()).await;
    send(
        &mut socket,
        "{\"protocol\":\"json\",\"version\":2}\u{1e}".into(),
    )
    .await;
    send(
        &mut socket,
        format!(
            "{}\u{1e}",
            json!({"type": 1, "invocationId": "1", "target": "Flood", "arguments": []})
        ),
    )
    .await;
    // Without acks the server stops writing after about 1,000 bytes (each Item is ~90 bytes), so the sender
    // can only fill the buffer and the 4-slot queue.
    let first = counts.recv().await.unwrap();
    assert!(
        (4..=20).contains(&first),
        "sent {first} before backpressure"
    );
    // Read what was written and acknowledge all of it: sending resumes.
    let mut received = 0u64;
    while received < 1 {
        let Message::Text(text) = socket.next().await.unwrap().unwrap() else {
            continue;
        };
        received += text.as_str().matches("\"type\":3").count() as u64;
    }
    send(
        &mut socket,
        format!("{}\u{1e}", json!({"type": 8, "sequenceId": 1_000_000})),
    )
    .await;
    go_tx.send(()).unwrap();
    let second = counts.recv().await.unwrap();
    assert!(second >= 4, "sent {second} after the ack");
}
