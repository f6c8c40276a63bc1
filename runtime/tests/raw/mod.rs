//! A raw hub client for the hub's socket tests: a WebSocket plus the records received but not yet read (a frame
//! may carry several), with the JSON hub protocol written out by hand so the tests see exactly what is sent.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tether::hub::{DisconnectReason, Hub, HubBuilder, HubContext, HubError, HubOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A raw hub client: the socket plus records received but not yet read.
pub struct Socket {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub pending: VecDeque<Value>,
}

/// Serves `hub` at `/hub` on a free loopback port; returns its address.
pub async fn listen(hub: Hub) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, hub.router("/hub")));
    addr
}

/// Serves `hub` at `/hub` on a free loopback port; returns its WebSocket URL.
pub async fn serve(hub: Hub) -> String {
    format!("ws://{}/hub", listen(hub).await)
}

/// Adds an `on_disconnected` hook that reports every disconnect reason on the returned receiver.
pub fn report_disconnects(
    builder: HubBuilder,
) -> (HubBuilder, mpsc::UnboundedReceiver<DisconnectReason>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let builder = builder.on_disconnected(move |_ctx: HubContext, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(reason);
        }
    });
    (builder, rx)
}

/// A hub whose one method, `Echo`, answers its argument, built with `options`; every disconnect reason
/// arrives on the receiver.
pub fn echo_hub(options: HubOptions) -> (Hub, mpsc::UnboundedReceiver<DisconnectReason>) {
    let builder = Hub::builder()
        .options(options)
        .method("Echo", |_ctx: HubContext, (v,): (Value,)| async move {
            Ok::<_, HubError>(v)
        });
    let (builder, reasons) = report_disconnects(builder);
    (builder.build().unwrap(), reasons)
}

/// Connects with extra request headers and completes the JSON handshake.
pub async fn connect_with(url: &str, headers: &[(&'static str, &str)]) -> Socket {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut socket = Socket {
        ws,
        pending: VecDeque::new(),
    };
    send(&mut socket, json!({"protocol": "json", "version": 1})).await;
    assert_eq!(recv(&mut socket).await, json!({}));
    socket
}

/// Connects and completes the JSON handshake.
pub async fn connect(url: &str) -> Socket {
    connect_with(url, &[]).await
}

/// Sends one message in its own frame.
pub async fn send(socket: &mut Socket, message: Value) {
    send_frame(socket, &[message]).await;
}

/// Sends all `messages` in one WebSocket frame.
pub async fn send_frame(socket: &mut Socket, messages: &[Value]) {
    let text: String = messages.iter().map(|m| format!("{m}\u{1e}")).collect();
    socket.ws.send(Message::text(text)).await.unwrap();
}

/// The next hub message that is not a Ping.
pub async fn recv(socket: &mut Socket) -> Value {
    loop {
        while let Some(value) = socket.pending.pop_front() {
            if value["type"] != 6 {
                return value;
            }
        }
        match socket.ws.next().await.expect("socket open").unwrap() {
            Message::Text(text) => {
                for record in text.as_str().split('\u{1e}').filter(|r| !r.is_empty()) {
                    socket
                        .pending
                        .push_back(serde_json::from_str(record).unwrap());
                }
            }
            Message::Close(frame) => panic!("socket closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Fails the test instead of hanging it when the connection stops answering.
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("the hub stopped answering: {what}"))
}

/// One HTTP/1.1 request on its own connection; the status and body.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within("an HTTP answer", tcp.read_to_end(&mut response))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Negotiates, makes the first poll and completes the handshake over long polling; the token.
pub async fn long_polling(addr: SocketAddr) -> String {
    let (_, negotiated) = http(addr, "POST", "/hub/negotiate?negotiateVersion=1", "").await;
    let negotiated: Value = serde_json::from_str(&negotiated).unwrap();
    let token = negotiated["connectionToken"].as_str().unwrap().to_owned();
    assert_eq!(
        http(addr, "GET", &format!("/hub?id={token}"), "").await.0,
        200
    );
    let handshake = format!("{}\u{1e}", json!({"protocol": "json", "version": 1}));
    let (status, _) = http(addr, "POST", &format!("/hub?id={token}"), &handshake).await;
    assert_eq!(status, 200);
    let (status, body) = http(addr, "GET", &format!("/hub?id={token}"), "").await;
    assert_eq!((status, body), (200, "{}\u{1e}".to_owned()));
    token
}

/// An Invocation message that expects a Completion.
pub fn invocation(id: &str, target: &str, args: Value) -> Value {
    json!({"type": 1, "invocationId": id, "target": target, "arguments": args})
}
