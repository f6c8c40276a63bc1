//! Writing to the transport: queued outbound messages batched into frames in the connection's protocol,
//! each kept for replay under stateful reconnect, every write bounded by `client_timeout`.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::time::Instant;

use super::super::caller::Outbound;
use super::super::error::DisconnectReason;
use super::super::protocol::{self, msgpack};
use super::super::transport::{bounded_write, FRAME_BATCH_BYTES};
use super::{Connection, Step, Transport};

impl<T: Transport> Connection<T> {
    /// JSON records (each with its separator) in the connection's protocol.
    pub(super) fn to_wire(&self, json: Vec<u8>) -> Vec<u8> {
        if self.is_msgpack() {
            msgpack::json_frame_to_msgpack(&json)
        } else {
            json
        }
    }

    /// Writes JSON records in the connection's protocol (see [`Connection::send_frame`]).
    pub(super) async fn send_json(&mut self, json: Vec<u8>) -> Step {
        let frame = self.to_wire(json);
        self.send_frame(frame).await
    }

    /// Writes a frame, already in the connection's protocol, on the current transport; a failure, or no room
    /// for it within `client_timeout`, counts as a lost transport.
    pub(super) async fn send_frame(&mut self, frame: Vec<u8>) -> Step {
        let Some(t) = self.transport.as_mut() else {
            return Step::Continue;
        };
        self.activity.last_sent = Instant::now();
        match bounded_write(self.hub.options.client_timeout, t.send(frame)).await {
            Ok(()) => Step::Continue,
            Err(e) => self.transport_lost(e),
        }
    }

    /// Writes queued messages, as few frames as `FRAME_BATCH_BYTES` allows, in the order they were queued.
    pub(super) async fn write_outbound(&mut self, items: VecDeque<Outbound>) -> Step {
        let mut frame = Vec::new();
        let mut end = None;
        let msgpack = self.is_msgpack();
        for item in items {
            let bytes = match item {
                // Encoded once as JSON for every connection; a MessagePack connection translates it here, so
                // what it keeps for replay is already in its protocol.
                Outbound::Message(json) if msgpack => {
                    Bytes::from(msgpack::json_frame_to_msgpack(&json))
                }
                Outbound::Message(bytes) | Outbound::Wire(bytes) => bytes,
                Outbound::Close(error) => {
                    let mut close = Vec::new();
                    protocol::write_close(&mut close, error.as_deref(), false);
                    frame.extend_from_slice(&self.to_wire(close));
                    end = Some(DisconnectReason::ServerClosed(error));
                    break;
                }
                Outbound::Abort => {
                    if !frame.is_empty() {
                        if let Step::End(r) = self.send_frame(std::mem::take(&mut frame)).await {
                            return Step::End(r);
                        }
                    }
                    tracing::debug!(connection_id = %self.conn.id, "transport aborted by the server");
                    self.transport = None;
                    if let Some(replay) = self.replay_mut() {
                        replay.disconnected_at = Some(Instant::now());
                        continue;
                    }
                    return Step::End(DisconnectReason::ServerClosed(Some(
                        "connection aborted by the server".into(),
                    )));
                }
            };
            if !frame.is_empty() && frame.len() + bytes.len() > FRAME_BATCH_BYTES {
                if let Step::End(r) = self.send_frame(std::mem::take(&mut frame)).await {
                    return Step::End(r);
                }
            }
            frame.extend_from_slice(&bytes);
            self.keep_for_replay(bytes);
            self.hub
                .counters
                .messages_sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if !frame.is_empty() {
            if let Step::End(r) = self.send_frame(frame).await {
                return Step::End(r);
            }
        }
        match end {
            Some(reason) => Step::End(reason),
            None => Step::Continue,
        }
    }
}
