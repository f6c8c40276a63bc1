//! An in-memory client for a [`Hub`]: the real connection task and protocol, no sockets. For tests and
//! benchmarks of hub code (and of hubs built on this one) without a network.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::caller::{ConnectionShared, RequestInfo, TransportKind};
use super::connection;
use super::hub::Hub;
use super::registry::random_id;
use super::transport::{Inbound, Transport, TransportEnd};

struct MemoryTransport {
    inbound: mpsc::Receiver<Vec<u8>>,
    outbound: mpsc::Sender<Vec<u8>>,
}

impl Transport for MemoryTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        match self.inbound.recv().await {
            Some(bytes) => Ok(Inbound::Binary(bytes)),
            None => Err(TransportEnd::Clean),
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        self.outbound
            .send(frame)
            .await
            .map_err(|_| "the in-memory client was dropped".to_owned())
    }

    async fn close(self) {}

    /// An in-process client is alive as long as it exists: no pings, no client timeout.
    fn has_inherent_keep_alive(&self) -> bool {
        true
    }
}

/// A hub client living in the same process (see [`Hub::connect_in_memory`]). Dropping it closes the
/// connection cleanly.
pub struct HubTestClient {
    to_hub: mpsc::Sender<Vec<u8>>,
    from_hub: mpsc::Receiver<Vec<u8>>,
    pending: VecDeque<Value>,
    next_id: u64,
}

impl std::fmt::Debug for HubTestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubTestClient").finish_non_exhaustive()
    }
}

impl Hub {
    /// Opens an in-memory connection to this hub (transport reported as WebSockets, no request headers).
    /// Call [`HubTestClient::handshake`] first, as a real client would. Needs a Tokio runtime.
    pub fn connect_in_memory(&self) -> HubTestClient {
        let (to_hub, inbound) = mpsc::channel(16);
        let (outbound, from_hub) = mpsc::channel(16);
        let conn = ConnectionShared::new(
            Arc::from(random_id().as_str()),
            RequestInfo::new(&HeaderMap::new(), 0, None, TransportKind::WebSockets),
            self.inner.options.outbound_queue_capacity,
        );
        connection::spawn(
            self.inner.clone(),
            conn,
            MemoryTransport { inbound, outbound },
            false,
            None,
            None,
            None,
        );
        HubTestClient {
            to_hub,
            from_hub,
            pending: VecDeque::new(),
            next_id: 0,
        }
    }
}

impl HubTestClient {
    /// Sends raw protocol text (records must end with `\u{1e}`). Returns false once the connection ended.
    pub async fn send_text(&self, text: &str) -> bool {
        self.send_bytes(text.as_bytes()).await
    }

    /// Sends a raw frame: after a `messagepack` handshake (sent with [`HubTestClient::send_text`]),
    /// length-prefixed MessagePack messages. Returns false once the connection ended.
    pub async fn send_bytes(&self, frame: &[u8]) -> bool {
        self.to_hub.send(frame.to_vec()).await.is_ok()
    }

    /// The next frame the hub wrote, or `None` once the connection ended. Panics on a MessagePack frame: read
    /// those with [`HubTestClient::recv_bytes`].
    pub async fn recv_text(&mut self) -> Option<String> {
        let frame = self.from_hub.recv().await?;
        Some(String::from_utf8(frame).expect("the hub writes UTF-8"))
    }

    /// The next frame the hub wrote, as bytes, or `None` once the connection ended.
    pub async fn recv_bytes(&mut self) -> Option<Vec<u8>> {
        self.from_hub.recv().await
    }

    /// Performs the JSON protocol handshake; returns the hub's error if it refused.
    pub async fn handshake(&mut self) -> Result<(), String> {
        self.send_text("{\"protocol\":\"json\",\"version\":1}\u{1e}")
            .await;
        match self.next_message().await {
            Some(v) if v == json!({}) => Ok(()),
            Some(v) => Err(v["error"]
                .as_str()
                .unwrap_or("bad handshake answer")
                .to_owned()),
            None => Err("the connection ended".to_owned()),
        }
    }

    /// The next hub message (Pings included), parsed; `None` once the connection ended.
    pub async fn next_message(&mut self) -> Option<Value> {
        loop {
            if let Some(v) = self.pending.pop_front() {
                return Some(v);
            }
            let frame = self.recv_text().await?;
            for record in frame.split('\u{1e}').filter(|r| !r.is_empty()) {
                self.pending
                    .push_back(serde_json::from_str(record).expect("the hub writes JSON"));
            }
        }
    }

    /// Invokes `target` with `arguments` and waits for its Completion: `Ok(result)` (null for void) or
    /// `Err(error)`. Other messages received meanwhile stay queued for [`HubTestClient::next_message`].
    pub async fn invoke(&mut self, target: &str, arguments: Vec<Value>) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let message =
            json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments});
        if !self.send_text(&format!("{message}\u{1e}")).await {
            return Err("the connection ended".to_owned());
        }
        let mut skipped = VecDeque::new();
        let outcome = loop {
            let Some(m) = self.next_message().await else {
                break Err("the connection ended".to_owned());
            };
            if m["type"] == 3 && m["invocationId"] == id.as_str() {
                break match m.get("error") {
                    Some(e) => Err(e.as_str().unwrap_or_default().to_owned()),
                    None => Ok(m.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            skipped.push_back(m);
        };
        skipped.extend(self.pending.drain(..));
        self.pending = skipped;
        outcome
    }
}
