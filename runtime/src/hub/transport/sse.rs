//! Server-Sent Events: frames go out as `data:` events on the response body, frames come in as `POST`s.

use std::convert::Infallible;

use axum::body::Bytes;
use tokio::sync::mpsc;

use super::{Inbound, Transport, TransportEnd};

/// Server-Sent Events: frames go out as `data:` events on the response body, frames come in as POSTs.
pub(crate) struct SseTransport {
    inbound: mpsc::Receiver<Inbound>,
    events: mpsc::Sender<Result<Bytes, Infallible>>,
}

impl SseTransport {
    /// A transport reading `POST` bodies (text, checked by the endpoint) from `inbound` and writing events to `events` (the response body).
    pub(crate) fn new(
        inbound: mpsc::Receiver<Inbound>,
        events: mpsc::Sender<Result<Bytes, Infallible>>,
    ) -> Self {
        SseTransport { inbound, events }
    }
}

impl Transport for SseTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        tokio::select! {
            text = self.inbound.recv() => match text {
                Some(frame) => Ok(frame),
                None => Err(TransportEnd::Clean),
            },
            _ = self.events.closed() => Err(TransportEnd::Clean),
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(frame).map_err(|e| e.to_string())?;
        let mut event = String::with_capacity(text.len() + 16);
        for line in text.split('\n') {
            event.push_str("data: ");
            event.push_str(line.trim_end_matches('\r'));
            event.push_str("\r\n");
        }
        event.push_str("\r\n");
        self.events
            .send(Ok(Bytes::from(event)))
            .await
            .map_err(|_| "the event stream was closed by the client".to_owned())
    }

    async fn send_binary(&mut self, _frame: Vec<u8>) -> Result<(), String> {
        Err("Server-Sent Events carry text only".to_owned())
    }

    async fn close(self) {}

    fn carries_binary(&self) -> bool {
        false
    }
}
