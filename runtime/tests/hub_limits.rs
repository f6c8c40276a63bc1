//! Hostile and slow clients over real sockets: every resource a client can make the hub hold is bounded, and
//! every refusal says why (issue 9). Each test names the defect it pins.

mod raw;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use raw::{
    connect, connect_with, echo_hub, http, invocation, listen, long_polling, recv,
    report_disconnects, send, send_frame, serve, within, Socket,
};
use serde_json::{json, Value};
use tether::hub::{DisconnectReason, Hub, HubContext, HubError, HubOptions, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const RS: char = '\u{1e}';

/// Records of a long-poll body.
fn records(body: &str) -> Vec<Value> {
    body.split(RS)
        .filter(|r| !r.is_empty())
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

/// The hub Close message (type 7) that ends `socket`, skipping anything before it.
async fn close_message(socket: &mut Socket) -> Value {
    within("a Close message", async {
        loop {
            match socket.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    for record in text.as_str().split(RS).filter(|r| !r.is_empty()) {
                        let value: Value = serde_json::from_str(record).unwrap();
                        if value["type"] == 7 {
                            return value;
                        }
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended without a Close message: {other:?}"),
            }
        }
    })
    .await
}

// 1. A long poll dropped mid-poll starts the disconnect timeout, so the connection ends.
#[tokio::test]
async fn an_abandoned_long_poll_ends_the_connection_after_the_disconnect_timeout() {
    let (hub, mut reasons) = echo_hub(HubOptions {
        disconnect_timeout: Duration::from_millis(300),
        long_poll_timeout: Duration::from_secs(60),
        ..HubOptions::default()
    });
    let addr = listen(hub).await;
    let token = long_polling(addr).await;
    let mut poll = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /hub?id={token} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    poll.write_all(request.as_bytes()).await.unwrap();
    // Nothing marks a poll as started on the client side: give the server a moment to read it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(poll);
    let reason = within("the connection ending", reasons.recv())
        .await
        .unwrap();
    assert_eq!(
        reason,
        DisconnectReason::TransportError("no poll arrived within the disconnect timeout".into())
    );
}

// 2. Invocations waiting for a parallel slot are bounded: the hub stops reading instead of queueing.
#[tokio::test]
async fn a_full_wait_queue_stops_reading_instead_of_queueing() {
    let created = Arc::new(AtomicUsize::new(0));
    let counter = created.clone();
    let hub = Hub::builder()
        .method("Hold", |_ctx: HubContext, (): ()| async move {
            std::future::pending::<()>().await;
            Ok::<_, HubError>(())
        })
        .method("Queued", move |_ctx: HubContext, (_text,): (String,)| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, HubError>(()) }
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    send(&mut socket, invocation("0", "Hold", json!([]))).await;
    let filler = "x".repeat(28 * 1024);
    let mut sent = 0;
    for i in 0..1000 {
        let message = json!({"type": 1, "target": "Queued", "arguments": [filler], "invocationId": i.to_string()});
        let frame = Message::text(format!("{message}{RS}"));
        match tokio::time::timeout(Duration::from_secs(2), socket.ws.send(frame)).await {
            Ok(result) => result.unwrap(),
            // The socket buffers are full: the server stopped reading.
            Err(_) => break,
        }
        sent += 1;
    }
    assert!(
        sent < 1000,
        "the server read all 28 MB of queued invocations"
    );
    let decoded = created.load(Ordering::SeqCst);
    assert!(
        decoded <= HubOptions::default().max_waiting_invocations,
        "{decoded} invocations were decoded and queued behind a held slot"
    );
}

// 3. One frame may carry many messages; the limit is per message.
#[tokio::test]
async fn a_frame_of_many_small_messages_is_not_a_large_message() {
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    let text = "y".repeat(1000);
    let messages: Vec<Value> = (0..100)
        .map(|i| invocation(&i.to_string(), "Echo", json!([text])))
        .collect();
    send_frame(&mut socket, &messages).await;
    for i in 0..100 {
        let answer = within("an echo", recv(&mut socket)).await;
        assert_eq!(answer["invocationId"], i.to_string());
        assert_eq!(answer["result"], text);
    }
}

// 3. The same over long polling: one POST of 10 x 20 KB is accepted.
#[tokio::test]
async fn a_post_of_many_messages_is_accepted_over_long_polling() {
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let addr = listen(hub).await;
    let token = long_polling(addr).await;
    let text = "z".repeat(20 * 1024);
    let body: String = (0..10)
        .map(|i| format!("{}{RS}", invocation(&i.to_string(), "Echo", json!([text]))))
        .collect();
    let (status, answer) = http(addr, "POST", &format!("/hub?id={token}"), &body).await;
    assert_eq!(status, 200, "{answer}");
    let mut completions = Vec::new();
    while completions.len() < 10 {
        let (status, body) = http(addr, "GET", &format!("/hub?id={token}"), "").await;
        assert_eq!(status, 200);
        completions.extend(records(&body).into_iter().filter(|r| r["type"] == 3));
    }
    assert!(completions.iter().all(|c| c["result"] == text));
}

// 4. A client that stops reading cannot stop the connection's timers: the stuck write ends it.
#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_by_the_write_timeout() {
    let builder = Hub::builder()
        .options(HubOptions {
            client_timeout: Duration::from_millis(500),
            keep_alive_interval: Duration::from_millis(200),
            ..HubOptions::default()
        })
        .method("Flood", |ctx: HubContext, (): ()| async move {
            let caller = ctx.caller();
            tokio::spawn(async move {
                let chunk = "f".repeat(16 * 1024);
                loop {
                    match caller.send("Chunk", (&chunk,)) {
                        Ok(()) => {}
                        Err(e) if e.is_closed() => return,
                        Err(_) => tokio::task::yield_now().await,
                    }
                }
            });
            Ok::<_, HubError>(())
        });
    let (builder, mut reasons) = report_disconnects(builder);
    let url = serve(builder.build().unwrap()).await;
    let mut socket = connect(&url).await;
    send(&mut socket, invocation("1", "Flood", json!([]))).await;
    // From here on the client reads nothing.
    let reason = within("the write timeout", reasons.recv()).await.unwrap();
    let DisconnectReason::TransportError(text) = reason else {
        panic!("unexpected reason {reason:?}");
    };
    assert!(text.contains("HubOptions::client_timeout"), "{text}");
    drop(socket);
}

// 5. A client trickling a request head is cut off after the header-read timeout.
#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let options = ServeOptions::default().header_read_timeout(Duration::from_millis(300));
    tokio::spawn(tether::hub::serve_with(
        listener,
        hub.router("/hub"),
        options,
    ));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /hub/negotiate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    within("the server closing the socket", tcp.read_to_end(&mut rest))
        .await
        .unwrap();
}

// 5. Connections that have not completed the handshake are bounded.
#[tokio::test]
async fn connections_waiting_for_their_handshake_are_bounded() {
    let (hub, _reasons) = echo_hub(HubOptions {
        max_pending_handshakes: 2,
        ..HubOptions::default()
    });
    let url = serve(hub).await;
    let (mut first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (_second, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let refused = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status(), 503);
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("max_pending_handshakes"), "{body}");
    // A completed handshake frees its place.
    let handshake = format!("{}{RS}", json!({"protocol": "json", "version": 1}));
    first.send(Message::text(handshake)).await.unwrap();
    let answer = first.next().await.unwrap().unwrap();
    assert_eq!(answer.into_text().unwrap().as_str(), format!("{{}}{RS}"));
    connect(&url).await;
}

// 6. With stateful reconnect negotiated but a version-1 handshake, a second socket is refused.
#[tokio::test]
async fn a_second_socket_without_stateful_reconnect_is_refused() {
    let (hub, _reasons) = echo_hub(HubOptions {
        allow_stateful_reconnect: true,
        ..HubOptions::default()
    });
    let addr = listen(hub).await;
    let (_, negotiated) = http(
        addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1&useStatefulReconnect=true",
        "",
    )
    .await;
    let negotiated: Value = serde_json::from_str(&negotiated).unwrap();
    assert_eq!(negotiated["useStatefulReconnect"], true);
    let url = format!(
        "ws://{addr}/hub?id={}",
        negotiated["connectionToken"].as_str().unwrap()
    );
    let _first = connect(&url).await;
    let refused = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status(), 409);
}

// 7. An oversized message in several frames still gets its Close naming the limit.
#[tokio::test]
async fn an_oversized_message_in_many_frames_gets_its_close() {
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    let part = "p".repeat(16 * 1024);
    let head = format!("{{\"type\":1,\"target\":\"Echo\",\"arguments\":[\"{part}");
    socket.ws.feed(Message::text(head)).await.unwrap();
    for _ in 0..40 {
        socket.ws.feed(Message::text(part.clone())).await.unwrap();
    }
    socket.ws.flush().await.unwrap();
    let close = close_message(&mut socket).await;
    let error = close["error"].as_str().unwrap();
    assert!(
        error.contains("maximum receive message size of 32768 bytes"),
        "{error}"
    );
}

// 9. Only a bounded copy of the upgrade request's headers is kept.
#[tokio::test]
async fn the_headers_kept_for_hub_code_are_bounded() {
    let hub = Hub::builder()
        .method("HeaderBytes", |ctx: HubContext, (): ()| async move {
            let bytes: usize = ctx
                .headers()
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum();
            Ok::<_, HubError>(bytes)
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let value = "h".repeat(3000);
    let names: Vec<&'static str> = (0..20)
        .map(|i| &*Box::leak(format!("x-padding-{i}").into_boxed_str()))
        .collect();
    let headers: Vec<(&'static str, &str)> = names.iter().map(|n| (*n, value.as_str())).collect();
    let mut socket = connect_with(&url, &headers).await;
    send(&mut socket, invocation("1", "HeaderBytes", json!([]))).await;
    let kept = recv(&mut socket).await["result"].as_u64().unwrap();
    let max = HubOptions::default().max_request_headers_kept as u64;
    assert!(kept <= max, "{kept} bytes of headers kept (limit {max})");
    assert!(kept > 0);
}

// 10. Same origin means same scheme too.
#[tokio::test]
async fn an_origin_with_another_scheme_is_not_the_same_origin() {
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let addr = listen(hub).await;
    let url = format!("ws://{addr}/hub");
    for origin in [format!("https://{addr}"), format!("ws://{addr}")] {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        let refused = tokio_tungstenite::connect_async(request).await.unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
            panic!("{origin}: expected an HTTP refusal, got {refused:?}");
        };
        assert_eq!(response.status(), 403, "{origin}");
    }
    connect_with(&url, &[("origin", &format!("http://{addr}"))]).await;
}

// 11. The client timeout runs from the handshake.
#[tokio::test]
async fn a_silent_client_times_out_from_the_handshake() {
    let (hub, mut reasons) = echo_hub(HubOptions {
        client_timeout: Duration::from_millis(400),
        keep_alive_interval: Duration::from_millis(100),
        ..HubOptions::default()
    });
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    let close = close_message(&mut socket).await;
    assert_eq!(
        close["error"],
        "Server timeout elapsed without receiving a message from the client."
    );
    assert_eq!(
        within("the reason", reasons.recv()).await.unwrap(),
        DisconnectReason::ClientTimeout
    );
}

// 11. Long polling's polls are its keep-alive: a polling client outlives the client timeout.
#[tokio::test]
async fn a_polling_client_outlives_the_client_timeout() {
    let (hub, _reasons) = echo_hub(HubOptions {
        client_timeout: Duration::from_millis(200),
        keep_alive_interval: Duration::from_millis(100),
        long_poll_timeout: Duration::from_millis(100),
        ..HubOptions::default()
    });
    let addr = listen(hub).await;
    let token = long_polling(addr).await;
    // A Ping does not turn the client timeout on either: the polls stay the keep-alive.
    let ping = format!("{}{RS}", json!({"type": 6}));
    assert_eq!(
        http(addr, "POST", &format!("/hub?id={token}"), &ping)
            .await
            .0,
        200
    );
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let (status, body) = http(addr, "GET", &format!("/hub?id={token}"), "").await;
        assert_eq!((status, body.as_str()), (200, ""));
    }
    let call = format!("{}{RS}", invocation("1", "Echo", json!(["still here"])));
    assert_eq!(
        http(addr, "POST", &format!("/hub?id={token}"), &call)
            .await
            .0,
        200
    );
    let (_, body) = http(addr, "GET", &format!("/hub?id={token}"), "").await;
    assert_eq!(records(&body)[0]["result"], "still here");
}

/// The handshake answer to `frames`, sent before any handshake.
async fn handshake_answer(frames: Vec<Message>) -> Value {
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let url = serve(hub).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    for frame in frames {
        ws.send(frame).await.unwrap();
    }
    let answer = within("the handshake answer", ws.next())
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(answer.into_text().unwrap().trim_end_matches(RS)).unwrap()
}

// 12. Refused handshakes and undecodable frames say why.
#[tokio::test]
async fn a_handshake_that_is_not_an_object_says_so() {
    let answer = handshake_answer(vec![Message::text(format!("[1,2]{RS}"))]).await;
    assert_eq!(
        answer["error"],
        "Handshake request must be a JSON object like {\"protocol\":\"json\",\"version\":1}."
    );
}

#[tokio::test]
async fn an_oversized_handshake_says_so() {
    let answer = handshake_answer(vec![Message::text("{".repeat(40 * 1024))]).await;
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("HubOptions::max_receive_message_size"),
        "{error}"
    );
}

#[tokio::test]
async fn a_binary_frame_that_is_not_utf8_says_so() {
    let answer = handshake_answer(vec![Message::binary(vec![0xff, 0xfe, 0x1e])]).await;
    assert_eq!(answer["error"], "The handshake request is not UTF-8 text.");
    let (hub, _reasons) = echo_hub(HubOptions::default());
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    socket
        .ws
        .send(Message::binary(vec![0xff, 0xfe, 0x1e]))
        .await
        .unwrap();
    let close = close_message(&mut socket).await;
    assert_eq!(
        close["error"],
        "Connection closed with an error: A binary frame was not UTF-8 text; the JSON hub protocol is text."
    );
}
