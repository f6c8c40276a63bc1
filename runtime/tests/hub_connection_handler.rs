//! Raw connection handlers (`ConnectionHandler`): the hub's HTTP layer without the hub protocol, driven over
//! real sockets. The official client's view (every transport, text and binary) is in
//! tests/node/connection_handler.test.mjs; these cover what app code sees and the shared checks.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tether::hub::{ConnectionHandler, HubOptions, RawConnection, RawMessage, Refusal};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{http, PATIENCE};

async fn serve(handler: ConnectionHandler, path: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, handler.router(path)));
    addr
}

/// Greets with what the handler knows of the request, tries a binary message, reports, and returns.
fn greeter() -> ConnectionHandler {
    ConnectionHandler::builder()
        .build(|connection: RawConnection| async move {
            let greeting = format!(
                "{} {} room={}",
                connection.transport().as_str(),
                connection.request_path(),
                connection.query_param("room").unwrap_or_default()
            );
            connection.send(RawMessage::Text(greeting)).await.unwrap();
            let binary = match connection.send(RawMessage::Binary(vec![1, 2, 3])).await {
                Ok(()) => "binary sent".to_owned(),
                Err(e) => e.to_string(),
            };
            connection.send(RawMessage::Text(binary)).await.unwrap();
        })
        .unwrap()
}

#[tokio::test]
async fn a_handler_sees_the_request_and_returning_closes_the_socket_after_its_messages() {
    let addr = serve(greeter(), "/greet").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/greet?room=7"))
        .await
        .unwrap();
    let mut received = Vec::new();
    let close = loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(message)) => received.push(message),
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(
        received,
        vec![
            Message::Text("WebSockets /greet room=7".into()),
            Message::Binary(vec![1, 2, 3].into()),
            Message::Text("binary sent".into()),
        ]
    );
    assert_eq!(u16::from(close.unwrap().code), 1000);
}

#[tokio::test]
async fn server_sent_events_refuse_binary_messages_with_an_error_the_handler_can_act_on() {
    let addr = serve(greeter(), "/greet").await;
    let negotiated = http(addr, "POST", "/greet/negotiate?negotiateVersion=1", &[], "").await;
    let body: serde_json::Value = serde_json::from_str(&negotiated.body).unwrap();
    let token = body["connectionToken"].as_str().unwrap();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /greet?id={token} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(tcp).lines();
    let mut data = Vec::new();
    while data.len() < 2 {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the stream stays open until both events arrive");
        if let Some(event) = line.strip_prefix("data: ") {
            data.push(event.to_owned());
        }
    }
    assert_eq!(data[0], "ServerSentEvents /greet room=");
    assert_eq!(
        data[1],
        "binary messages cannot be sent over Server-Sent Events, which carry text only"
    );
}

#[tokio::test]
async fn the_authorization_hook_and_origin_checks_guard_negotiate_and_the_transports() {
    let handler = ConnectionHandler::builder()
        .authorize(|parts| match tether::hub::access_token(parts).as_deref() {
            Some("open-sesame") => Ok(()),
            Some(_) => Err(Refusal::forbidden("wrong token")),
            None => Err(Refusal::unauthorized("a token is required")),
        })
        .build(|_connection: RawConnection| async {})
        .unwrap();
    let addr = serve(handler, "/private").await;
    let refused = http(addr, "POST", "/private/negotiate", &[], "").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body, "a token is required\n");
    let wrong = http(
        addr,
        "POST",
        "/private/negotiate?access_token=guess",
        &[],
        "",
    )
    .await;
    assert_eq!(wrong.status, 403);
    let socket = tokio_tungstenite::connect_async(format!("ws://{addr}/private")).await;
    assert!(socket.is_err(), "an upgrade without the token is refused");
    let ok = http(
        addr,
        "POST",
        "/private/negotiate",
        &[("Authorization", "Bearer open-sesame")],
        "",
    )
    .await;
    assert_eq!(ok.status, 200);
    let cross = http(
        addr,
        "POST",
        "/private/negotiate",
        &[
            ("Authorization", "Bearer open-sesame"),
            ("Origin", "http://evil.example"),
        ],
        "",
    )
    .await;
    assert_eq!(cross.status, 403);
    assert!(cross.body.contains("allowed_origins"), "{}", cross.body);
}

#[tokio::test]
async fn a_handler_that_is_slow_to_read_holds_back_its_client_and_loses_nothing() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let handler = ConnectionHandler::builder()
        .options(HubOptions::default())
        .build(move |mut connection: RawConnection| {
            let seen = seen_tx.clone();
            let mut go = go_rx.clone();
            async move {
                go.wait_for(|go| *go).await.unwrap();
                while let Some(message) = connection.recv().await {
                    let _ = seen.send(message);
                }
            }
        })
        .unwrap();
    let addr = serve(handler, "/slow").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/slow"))
        .await
        .unwrap();
    for i in 0..50 {
        ws.send(Message::Text(i.to_string().into())).await.unwrap();
    }
    go_tx.send(true).unwrap();
    for i in 0..50 {
        let message = tokio::time::timeout(PATIENCE, seen_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message, RawMessage::Text(i.to_string()));
    }
}
