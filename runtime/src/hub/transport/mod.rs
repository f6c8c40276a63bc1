//! Transports: what carries hub frames between a client and its connection task, one file per transport.
//!
//! A transport only moves frames. It knows nothing of the hub protocol, the connection task or the registry;
//! the HTTP layer (`super::http`) builds one per connection and hands it to the connection task, which
//! drives it through [`Transport`]. Invariants every transport keeps:
//! - `recv` is cancel-safe (the connection task selects on it).
//! - `send` returns once the frame is handed on, or waits while the client is not taking frames; the
//!   connection task bounds that wait (`HubOptions::client_timeout`).
//! - What a transport buffers is bounded: tungstenite's frame limit, one `POST` body at a time, the
//!   long-polling buffer.

use std::future::Future;
use std::time::Duration;

mod long_polling;
mod sse;
mod websocket;

pub(crate) use long_polling::{ActivePoll, LongPollTransport, PollAnswer, PollState};
pub(crate) use sse::SseTransport;
pub(crate) use websocket::WsTransport;

/// Outbound messages are batched into frames of about this size.
pub(crate) const FRAME_BATCH_BYTES: usize = 16 * 1024;

/// What a transport hands the connection task.
pub(crate) enum Inbound {
    /// A text frame (one or more records, or part of one): a WebSocket text message, or a `POST` body sent
    /// as UTF-8 text (`Content-Type: text/…`).
    Text(String),
    /// A binary frame (a WebSocket binary message, a `POST` body not sent as text): MessagePack messages,
    /// or JSON text sent as bytes.
    Binary(Vec<u8>),
    /// The transport refused a frame over its own size limit (bytes, if known).
    TooLarge(Option<usize>),
}

/// Why a transport stopped delivering.
pub(crate) enum TransportEnd {
    /// The client closed it cleanly and will not come back.
    Clean,
    /// It failed (reset, abnormal close): the client may reconnect under stateful reconnect.
    Failed(String),
}

/// A write bounded by `timeout` (`HubOptions::client_timeout`): a client that stops reading cannot hold a
/// connection task (and so its timers) forever.
pub(crate) async fn bounded_write(
    timeout: Duration,
    write: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, write).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the client took nothing written to it for {timeout:?} (HubOptions::client_timeout)"
        )),
    }
}

/// A bidirectional carrier of hub frames (WebSocket, SSE + POSTs, long polls + POSTs).
pub(crate) trait Transport: Send + 'static {
    /// The next inbound frame, or why there will be none. Must be cancel-safe.
    fn recv(&mut self) -> impl Future<Output = Result<Inbound, TransportEnd>> + Send;
    /// Writes one frame holding one or more encoded messages (binary frames after
    /// [`Transport::use_binary_frames`]).
    fn send(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
    /// Writes one frame of JSON text whatever the frame type in use (the handshake answer).
    fn send_text(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        self.send(frame)
    }
    /// Writes one binary frame whatever the frame type in use (raw connections choose per message).
    fn send_binary(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        self.send(frame)
    }
    /// Whether the transport can carry binary frames (Server-Sent Events cannot).
    fn carries_binary(&self) -> bool {
        true
    }
    /// Later frames are binary (the MessagePack protocol).
    fn use_binary_frames(&mut self) {}
    /// Ends the transport cleanly after the last frame.
    fn close(self) -> impl Future<Output = ()> + Send;
    /// Ends the transport because the client sent a message over the size limit, saying so where the
    /// transport can (a WebSocket's close code 1009 and `reason`, at most 123 bytes); otherwise as `close`.
    /// For raw connections, which have no protocol of their own to carry the reason.
    fn close_too_large(self, reason: &str) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        let _ = reason;
        self.close()
    }
    /// Whether the transport keeps itself alive (long polling: its polls). Then the server sends no pings and
    /// does not time the client out; the transport ends itself when the client stops coming.
    fn has_inherent_keep_alive(&self) -> bool {
        false
    }
}
