//! The WebSocket transport: one frame per batch of hub messages each way, text for JSON and binary for
//! MessagePack (after the handshake, which is always text).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;

use super::{Inbound, Transport, TransportEnd};

/// The WebSocket transport.
pub(crate) struct WsTransport {
    socket: WebSocket,
    /// Frames go out as binary messages (the MessagePack protocol).
    binary: bool,
}

impl WsTransport {
    pub(crate) fn new(socket: WebSocket) -> Self {
        WsTransport {
            socket,
            binary: false,
        }
    }
}

impl Transport for WsTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        loop {
            match self.socket.recv().await {
                None => {
                    return Err(TransportEnd::Failed(
                        "the socket closed without a close frame".into(),
                    ))
                }
                Some(Err(e)) => {
                    let text = e.to_string();
                    // tungstenite's capacity error, through axum's opaque error: "… Message too long: N > MAX".
                    if let Some(rest) = text.split("Message too long: ").nth(1) {
                        let size = rest.split(' ').next().and_then(|n| n.parse().ok());
                        return Ok(Inbound::TooLarge(size));
                    }
                    return Err(TransportEnd::Failed(text));
                }
                Some(Ok(Message::Text(t))) => return Ok(Inbound::Text(t.as_str().to_owned())),
                Some(Ok(Message::Binary(b))) => return Ok(Inbound::Binary(b.into())),
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite queues the echo of the client's close frame; flush it before the socket is
                    // dropped, or the browser reports 1006 (abnormal closure) instead of its own code.
                    let _ = self.socket.flush().await;
                    return match frame {
                        Some(f) if f.code != 1000 && f.code != 1001 => Err(TransportEnd::Failed(
                            format!("the client closed the socket with code {}", f.code),
                        )),
                        _ => Err(TransportEnd::Clean),
                    };
                }
                Some(Ok(_)) => {}
            }
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        if self.binary {
            return self.send_binary(frame).await;
        }
        self.send_text(frame).await
    }

    async fn send_binary(&mut self, frame: Vec<u8>) -> Result<(), String> {
        self.socket
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|e| e.to_string())
    }

    async fn send_text(&mut self, frame: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(frame).map_err(|e| e.to_string())?;
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| e.to_string())
    }

    fn use_binary_frames(&mut self) {
        self.binary = true;
    }

    async fn close(self) {
        self.close_with(1000, "").await;
    }

    async fn close_too_large(self, reason: &str) {
        self.close_with(1009, reason).await;
    }
}

impl WsTransport {
    async fn close_with(mut self, code: u16, reason: &str) {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        if self.socket.send(close).await.is_err() {
            return;
        }
        // Read on until the client answers the close (or a short grace ends): dropping a socket with unread
        // input resets it, and the reset can overtake the Close message just written (the client then sees
        // 1006 instead of the error text).
        let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
        let answered = tokio::time::timeout_at(deadline, async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if let Message::Close(_) = message {
                    return true;
                }
            }
            false
        })
        .await;
        if answered == Ok(false) {
            // The socket cannot be read any further (after an oversized message the rest of it is still in
            // the socket and the WebSocket layer has given up): hold it, unread, for the rest of the grace,
            // so the client takes in the Close message before the reset that dropping it sends.
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// How long a closing WebSocket waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
