//! [`HubClient`]: the JSON hub protocol over a real WebSocket, written out by hand so tests see exactly what
//! travels; and readers for the batches and markup it receives.

use std::collections::VecDeque;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{PATIENCE, RS};

#[derive(Debug, Clone)]
pub struct Invocation {
    pub target: String,
    pub arguments: Vec<Value>,
}

/// A hub connection speaking the JSON protocol over WebSockets (no negotiate).
pub struct HubClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    queued: VecDeque<Value>,
    next_id: u64,
    pub closed: Option<Value>,
}

impl HubClient {
    /// Connects to `ws://addr{path}` and completes the handshake.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        Self::connect_with_cookie(addr, path, None).await
    }

    /// [`HubClient::connect`] with a `Cookie` header on the upgrade request (a signed-in browser).
    pub async fn connect_with_cookie(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("a valid WebSocket URL");
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().expect("a valid cookie header"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        let mut client = Self {
            ws,
            queued: VecDeque::new(),
            next_id: 0,
            closed: None,
        };
        client
            .write(json!({"protocol": "json", "version": 1}))
            .await;
        let handshake = client.read().await.expect("handshake answer");
        assert_eq!(handshake, json!({}), "handshake refused");
        client
    }

    async fn write(&mut self, message: Value) {
        let mut text = message.to_string();
        text.push(RS);
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next message from the server, or `None` when the socket closed.
    async fn read(&mut self) -> Option<Value> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Some(message);
            }
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("server message in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    for part in text.as_str().split(RS).filter(|p| !p.is_empty()) {
                        self.queued
                            .push_back(serde_json::from_str(part).expect("JSON hub message"));
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends an invocation without an id (no answer).
    pub async fn send(&mut self, target: &str, arguments: Value) {
        self.write(json!({"type": 1, "target": target, "arguments": arguments}))
            .await;
    }

    /// Invokes `target` and waits for its completion; server invocations that arrive meanwhile are kept for
    /// [`HubClient::next`]. `Err` holds the completion's error.
    pub async fn invoke(&mut self, target: &str, arguments: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.write(
            json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments}),
        )
        .await;
        let mut held = Vec::new();
        let outcome = loop {
            let Some(message) = self.read().await else {
                panic!("connection closed before the completion of {target}")
            };
            if message["type"] == 3 && message["invocationId"] == id.as_str() {
                break match message.get("error") {
                    Some(error) => Err(error.as_str().unwrap_or_default().to_owned()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            held.push(message);
        };
        for message in held.into_iter().rev() {
            self.queued.push_front(message);
        }
        outcome
    }

    /// Sends an invocation whose arguments travel as a client-to-server stream of string chunks.
    pub async fn send_chunked(
        &mut self,
        target: &str,
        arguments: &Value,
        chunk_chars: usize,
        invocation_id: Option<&str>,
    ) {
        let text = arguments.to_string();
        let mut message =
            json!({"type": 1, "target": "Chunked", "arguments": [target], "streamIds": ["s1"]});
        if let Some(id) = invocation_id {
            message["invocationId"] = json!(id);
        }
        self.write(message).await;
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(chunk_chars) {
            let item: String = chunk.iter().collect();
            self.write(json!({"type": 2, "invocationId": "s1", "item": item}))
                .await;
        }
        self.write(json!({"type": 3, "invocationId": "s1"})).await;
    }

    /// Like [`HubClient::send_chunked`] (without an invocation id), with every message in one WebSocket frame.
    pub async fn send_chunked_in_one_frame(
        &mut self,
        target: &str,
        arguments: &Value,
        chunk_chars: usize,
    ) {
        let text = arguments.to_string();
        let chars: Vec<char> = text.chars().collect();
        let mut frame =
            json!({"type": 1, "target": "Chunked", "arguments": [target], "streamIds": ["s1"]})
                .to_string();
        frame.push(RS);
        for chunk in chars.chunks(chunk_chars) {
            let item: String = chunk.iter().collect();
            frame.push_str(&json!({"type": 2, "invocationId": "s1", "item": item}).to_string());
            frame.push(RS);
        }
        frame.push_str(&json!({"type": 3, "invocationId": "s1"}).to_string());
        frame.push(RS);
        self.ws.send(Message::text(frame)).await.expect("send");
    }

    /// How many messages were read from the socket and not yet returned (those that arrived before the
    /// completion of an [`HubClient::invoke`] are kept here).
    pub fn held(&self) -> usize {
        self.queued.len()
    }

    /// The next raw hub message of any type (`None` once the connection closed).
    pub async fn next_raw(&mut self) -> Option<Value> {
        self.read().await
    }

    /// The next server invocation (pings skipped); `None` once the connection closed (the Close message, if
    /// any, is in `closed`).
    pub async fn next(&mut self) -> Option<Invocation> {
        loop {
            let message = self.read().await?;
            match message["type"].as_u64() {
                Some(1) => {
                    return Some(Invocation {
                        target: message["target"].as_str().unwrap_or_default().to_owned(),
                        arguments: message["arguments"].as_array().cloned().unwrap_or_default(),
                    })
                }
                Some(7) => {
                    self.closed = Some(message);
                }
                _ => {}
            }
        }
    }

    /// The next server invocation, which must be of `target`.
    pub async fn expect(&mut self, target: &str) -> Vec<Value> {
        let got = self
            .next()
            .await
            .unwrap_or_else(|| panic!("connection closed while waiting for {target}"));
        assert_eq!(got.target, target, "expected {target}, got {got:?}");
        got.arguments
    }

    /// Waits for the server to end the connection, returning every invocation that came before.
    pub async fn until_closed(&mut self) -> Vec<Invocation> {
        let mut seen = Vec::new();
        while let Some(invocation) = self.next().await {
            seen.push(invocation);
        }
        seen
    }

    /// Drops the socket without a Close message (a network failure as the server sees it).
    pub async fn drop_socket(self) {
        drop(self.ws.into_inner());
    }
}

/// A batch's `[id, batch]` arguments as (id, batch JSON).
pub fn batch(arguments: &[Value]) -> (u64, Value) {
    (
        arguments[0].as_u64().expect("batch id"),
        arguments[1].clone(),
    )
}

/// The value of attribute `attr` on the element whose `id` is `id` in `html`.
pub fn attribute_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_owned())
}

/// The text directly inside the element whose `id` is `id` in `html`.
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_owned())
}

/// The HTML of the first op 11 (attach) edit of a batch.
pub fn attach_html(batch: &Value) -> String {
    batch
        .as_array()
        .unwrap()
        .iter()
        .find_map(|edit| (edit[0] == 11).then(|| edit[2].as_str().unwrap().to_owned()))
        .unwrap_or_else(|| panic!("no attach edit in {batch}"))
}

/// The text of the first op 8 (set text) edit of a batch.
pub fn text_update(batch: &Value) -> Option<String> {
    batch
        .as_array()?
        .iter()
        .find_map(|edit| (edit[0] == 8).then(|| edit[2].as_str().unwrap_or_default().to_owned()))
}
