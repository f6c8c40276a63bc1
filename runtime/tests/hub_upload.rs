//! Client-to-server streams under load, over real sockets: more items than the stream buffer holds, sent in
//! one frame, must reach the upload method while the connection keeps working (see the backpressure notes in
//! the connection module docs).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tether::hub::{ClientStream, Hub, HubBuilder, HubContext, HubError, HubOptions};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

mod raw;

use raw::{connect, invocation, recv, send_frame, serve, within, Socket};

fn upload_invocation(id: &str, target: &str, stream_id: &str) -> Value {
    json!({"type": 1, "invocationId": id, "target": target, "arguments": [], "streamIds": [stream_id]})
}

fn stream_items(stream_id: &str, count: u64) -> impl Iterator<Item = Value> + '_ {
    (1..=count).map(move |n| json!({"type": 2, "invocationId": stream_id, "item": n}))
}

fn stream_complete(stream_id: &str) -> Value {
    json!({"type": 3, "invocationId": stream_id})
}

async fn sum(streams: Vec<ClientStream>) -> Result<f64, HubError> {
    let mut total = 0.0;
    for mut stream in streams {
        while let Some(item) = stream.next().await {
            total += item?
                .as_f64()
                .ok_or_else(|| HubError::new("Sum takes numbers"))?;
        }
    }
    Ok(total)
}

/// A hub with `Sum(stream)`, `Echo(value)`, and the given options (default stream buffer: 10 items).
fn sum_hub(options: HubOptions) -> HubBuilder {
    Hub::builder()
        .options(options)
        .upload_method(
            "Sum",
            |_ctx: HubContext, (): (), streams: Vec<ClientStream>| sum(streams),
        )
        .method("Echo", |_ctx: HubContext, (value,): (Value,)| async move {
            Ok::<_, HubError>(value)
        })
}

#[tokio::test]
async fn more_stream_items_than_the_buffer_in_one_frame_reach_the_method() {
    let url = serve(sum_hub(HubOptions::default()).build().unwrap()).await;
    let mut socket = connect(&url).await;
    let mut frame = vec![upload_invocation("1", "Sum", "s")];
    frame.extend(stream_items("s", 150));
    frame.push(stream_complete("s"));
    frame.push(invocation("2", "Echo", json!(["after"])));
    send_frame(&mut socket, &frame).await;
    let done = within("sum of 150 items", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "1", "result": 11325.0})
    );
    let echo = within("echo after the stream", recv(&mut socket)).await;
    assert_eq!(echo["result"], "after");
    // The connection lives on for a second upload on the same stream id.
    let mut frame = vec![upload_invocation("3", "Sum", "s")];
    frame.extend(stream_items("s", 40));
    frame.push(stream_complete("s"));
    send_frame(&mut socket, &frame).await;
    let done = within("second sum", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "3", "result": 820.0})
    );
}

#[tokio::test]
async fn a_client_error_completion_behind_a_full_buffer_reaches_the_method() {
    let url = serve(sum_hub(HubOptions::default()).build().unwrap()).await;
    let mut socket = connect(&url).await;
    let mut frame = vec![upload_invocation("1", "Sum", "s")];
    frame.extend(stream_items("s", 30));
    frame.push(json!({"type": 3, "invocationId": "s", "error": "the client gave up"}));
    send_frame(&mut socket, &frame).await;
    let done = within("error completion", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "1", "error": "An unexpected error occurred invoking 'Sum' on the server."})
    );
}

#[tokio::test]
async fn a_slow_consumer_pauses_reads_while_outbound_messages_still_flow() {
    let gate = Arc::new(Notify::new());
    let method_gate = gate.clone();
    let hub = sum_hub(HubOptions {
        max_parallel_invocations: 2,
        ..HubOptions::default()
    })
    .upload_method(
        "GatedSum",
        move |ctx: HubContext, (): (), streams: Vec<ClientStream>| {
            let gate = method_gate.clone();
            async move {
                ctx.caller()
                    .send("Started", ())
                    .map_err(HubError::internal)?;
                gate.notified().await;
                sum(streams).await
            }
        },
    )
    .build()
    .unwrap();
    let url = serve(hub.clone()).await;
    let mut socket = connect(&url).await;
    let mut frame = vec![upload_invocation("1", "GatedSum", "s")];
    frame.extend(stream_items("s", 100));
    frame.push(stream_complete("s"));
    frame.push(invocation("2", "Echo", json!(["behind the stream"])));
    send_frame(&mut socket, &frame).await;
    // The whole frame is routed before the method first runs, so by the time it says it started, the
    // stream buffer is full and reads are paused. Messages to the client must still go out.
    let started = within("the gated method starting", recv(&mut socket)).await;
    assert_eq!(started["target"], "Started");
    hub.clients()
        .all()
        .send("Outside", ("while paused",))
        .unwrap();
    let outside = within("a send while reads are paused", recv(&mut socket)).await;
    assert_eq!(outside["target"], "Outside");
    gate.notify_one();
    let done = within("the gated sum", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "1", "result": 5050.0})
    );
    let echo = within("the echo parked behind the items", recv(&mut socket)).await;
    assert_eq!(echo["result"], "behind the stream");
}

#[tokio::test]
async fn stream_items_for_an_invocation_waiting_behind_the_parallel_limit_are_kept() {
    let gate = Arc::new(Notify::new());
    let method_gate = gate.clone();
    let hub = sum_hub(HubOptions::default())
        .method("Hold", move |ctx: HubContext, (): ()| {
            let gate = method_gate.clone();
            async move {
                ctx.caller()
                    .send("Holding", ())
                    .map_err(HubError::internal)?;
                gate.notified().await;
                Ok::<_, HubError>("held")
            }
        })
        .build()
        .unwrap();
    assert_eq!(hub.options().max_parallel_invocations, 1);
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    let mut frame = vec![
        invocation("1", "Hold", json!([])),
        upload_invocation("2", "Sum", "s"),
    ];
    frame.extend(stream_items("s", 50));
    frame.push(stream_complete("s"));
    send_frame(&mut socket, &frame).await;
    // `Sum` waits for `Hold`'s slot while its items fill the buffer; `Hold` must still run.
    let holding = within(
        "the running method while the stream is full",
        recv(&mut socket),
    )
    .await;
    assert_eq!(holding["target"], "Holding");
    gate.notify_one();
    let held = within("the held method", recv(&mut socket)).await;
    assert_eq!(
        held,
        json!({"type": 3, "invocationId": "1", "result": "held"})
    );
    let done = within("the queued sum", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "2", "result": 1275.0})
    );
}

#[tokio::test]
async fn paused_reads_do_not_count_as_client_silence() {
    let gate = Arc::new(Notify::new());
    let method_gate = gate.clone();
    let hub = Hub::builder()
        .options(HubOptions {
            client_timeout: Duration::from_millis(200),
            keep_alive_interval: Duration::from_millis(50),
            ..HubOptions::default()
        })
        .upload_method(
            "GatedSum",
            move |ctx: HubContext, (): (), streams: Vec<ClientStream>| {
                let gate = method_gate.clone();
                async move {
                    ctx.caller()
                        .send("Started", ())
                        .map_err(HubError::internal)?;
                    gate.notified().await;
                    sum(streams).await
                }
            },
        )
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    // A ping arms the client timeout; then the stream fills its buffer and reads pause.
    let mut frame = vec![json!({"type": 6}), upload_invocation("1", "GatedSum", "s")];
    frame.extend(stream_items("s", 30));
    frame.push(stream_complete("s"));
    send_frame(&mut socket, &frame).await;
    let started = within("the gated method starting", recv(&mut socket)).await;
    assert_eq!(started["target"], "Started");
    // Ten keep-alive pings span 500 ms, well past the 200 ms client timeout; the client sends nothing
    // meanwhile, but the server is the one not reading, so it must not close the connection.
    let mut pings = 0;
    while pings < 10 {
        let message = within("keep-alive pings while paused", async {
            match socket.ws.next().await.expect("socket open").unwrap() {
                Message::Text(text) => text.as_str().to_owned(),
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                other => panic!("unexpected frame {other:?}"),
            }
        })
        .await;
        for record in message.split('\u{1e}').filter(|r| !r.is_empty()) {
            let value: Value = serde_json::from_str(record).unwrap();
            assert_eq!(value["type"], 6, "only pings while paused, got {value}");
            pings += 1;
        }
    }
    gate.notify_one();
    // The client is reading again; answer its timeout with a ping as the official client would.
    send_frame(&mut socket, &[json!({"type": 6})]).await;
    let done = within("the gated sum", recv(&mut socket)).await;
    assert_eq!(
        done,
        json!({"type": 3, "invocationId": "1", "result": 465.0})
    );
}

/// POSTs negotiate over a plain TCP connection and returns the JSON body.
async fn negotiate(addr: &str, query: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /hub/negotiate?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// A stateful hub whose `Report(stream)` sends `Got(n)` per item (waiting for room) and returns the sum; the
/// replay buffer holds only a few messages, so its sends wait for the client's acks.
fn report_hub() -> Hub {
    Hub::builder()
        .options(HubOptions {
            allow_stateful_reconnect: true,
            stateful_reconnect_buffer_size: 300,
            outbound_queue_capacity: 2,
            ..HubOptions::default()
        })
        .upload_method(
            "Report",
            |ctx: HubContext, (): (), streams: Vec<ClientStream>| async move {
                let caller = ctx.caller();
                let mut total = 0.0;
                for mut stream in streams {
                    while let Some(item) = stream.next().await {
                        let n = item?.as_f64().unwrap_or_default();
                        caller
                            .send_wait("Got", (n,))
                            .await
                            .map_err(HubError::internal)?;
                        total += n;
                    }
                }
                Ok::<_, HubError>(total)
            },
        )
        .build()
        .unwrap()
}

/// Negotiates stateful reconnect and opens the WebSocket with the version 2 handshake.
async fn connect_stateful(url: &str) -> Socket {
    let addr = url.trim_start_matches("ws://").trim_end_matches("/hub");
    let negotiated = negotiate(addr, "negotiateVersion=1&useStatefulReconnect=true").await;
    assert_eq!(negotiated["useStatefulReconnect"], true);
    let token = negotiated["connectionToken"].as_str().unwrap();
    let (ws, _) = tokio_tungstenite::connect_async(format!("{url}?id={token}"))
        .await
        .unwrap();
    let mut socket = Socket {
        ws,
        pending: VecDeque::new(),
    };
    send_frame(&mut socket, &[json!({"protocol": "json", "version": 2})]).await;
    assert_eq!(recv(&mut socket).await, json!({}));
    socket
}

#[tokio::test]
async fn under_stateful_reconnect_acks_are_read_while_a_full_stream_waits() {
    let url = serve(report_hub()).await;
    let mut socket = connect_stateful(&url).await;
    let mut frame = vec![upload_invocation("1", "Report", "s")];
    frame.extend(stream_items("s", 30));
    frame.push(stream_complete("s"));
    send_frame(&mut socket, &frame).await;
    let (mut received, mut got) = (0u64, 0);
    let result = within("reports acked by the client", async {
        loop {
            let Message::Text(text) = socket.ws.next().await.expect("socket open").unwrap() else {
                continue;
            };
            let mut result = None;
            for record in text.as_str().split('\u{1e}').filter(|r| !r.is_empty()) {
                let value: Value = serde_json::from_str(record).unwrap();
                let kind = value["type"].as_u64().unwrap();
                assert_ne!(kind, 7, "closed: {value}");
                if (1..=5).contains(&kind) {
                    received += 1;
                }
                if value["target"] == "Got" {
                    got += 1;
                }
                if kind == 3 {
                    result = Some(value);
                }
            }
            send_frame(&mut socket, &[json!({"type": 8, "sequenceId": received})]).await;
            if let Some(result) = result {
                return result;
            }
        }
    })
    .await;
    assert_eq!(got, 30);
    assert_eq!(
        result,
        json!({"type": 3, "invocationId": "1", "result": 465.0})
    );
}

#[tokio::test]
async fn a_client_that_never_acks_while_a_stream_waits_is_closed_with_the_options_named() {
    let url = serve(report_hub()).await;
    let mut socket = connect_stateful(&url).await;
    let mut frame = vec![upload_invocation("1", "Report", "s")];
    frame.extend(stream_items("s", 30));
    send_frame(&mut socket, &frame).await;
    // No acks: the server's sends wait, so it reads on and parks what follows, up to its bound
    // (2 × 300 + 32,768 bytes here). How many fillers reach the stream before the stall depends on timing
    // (a dozen seen), so the fillers are large enough that the ones left to park always pass the bound.
    let filler = "x".repeat(2000);
    for _ in 0..40 {
        send_frame(
            &mut socket,
            &[json!({"type": 2, "invocationId": "s", "item": filler})],
        )
        .await;
    }
    let close = within("the close for too much parked input", async {
        loop {
            let message = recv(&mut socket).await;
            if message["type"] == 7 {
                return message;
            }
        }
    })
    .await;
    let error = close["error"].as_str().unwrap();
    assert!(
        error.contains("HubOptions::stream_buffer_capacity")
            && error.contains("HubOptions::stateful_reconnect_buffer_size"),
        "{error}"
    );
}
