//! Stateful reconnect: sequence ids, the replay buffer, and resuming on a new transport.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::super::error::DisconnectReason;
use super::super::protocol::{self, HubMessage, RecordBuffer};
use super::{Connection, Step, Transport};

/// Stateful-reconnect state: sequence ids both ways, sent messages kept until acknowledged, and when the
/// transport was lost.
pub(super) struct Replay {
    /// Whether the connection uses stateful reconnect (negotiated, and a version-2 handshake).
    pub(super) stateful: bool,
    /// Sent messages not yet acknowledged, with their sequence ids.
    pub(super) sent: VecDeque<(u64, Bytes)>,
    pub(super) sent_bytes: usize,
    pub(super) next_send_seq: u64,
    pub(super) next_recv_seq: u64,
    pub(super) last_processed: u64,
    pub(super) last_acked_sent: u64,
    pub(super) disconnected_at: Option<Instant>,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            stateful: false,
            sent: VecDeque::new(),
            sent_bytes: 0,
            next_send_seq: 1,
            next_recv_seq: 1,
            last_processed: 0,
            last_acked_sent: 0,
            disconnected_at: None,
        }
    }
}

pub(super) async fn reconnect_opt<T>(
    r: &mut Option<mpsc::Receiver<Box<T>>>,
    waiting: bool,
) -> Option<Box<T>> {
    match r {
        Some(r) if waiting => r.recv().await,
        _ => std::future::pending().await,
    }
}

impl<T: Transport> Connection<T> {
    pub(super) fn transport_lost(&mut self, error: String) -> Step {
        self.transport = None;
        if self.replay.stateful {
            tracing::debug!(connection_id = %self.conn.id, "transport lost ({error}); waiting for a reconnect");
            self.replay.disconnected_at = Some(Instant::now());
            Step::Continue
        } else {
            Step::End(DisconnectReason::TransportError(error))
        }
    }

    pub(super) async fn resume(&mut self, mut transport: T) -> Step {
        tracing::debug!(connection_id = %self.conn.id, "transport reconnected; replaying {} messages", self.replay.sent.len());
        if self.msgpack.is_some() {
            // A new socket starts with text frames; MessagePack needs binary ones (there is no new handshake).
            transport.use_binary_frames();
        }
        self.transport = Some(transport);
        self.replay.disconnected_at = None;
        self.records = RecordBuffer::default();
        if let Some(buffer) = self.msgpack.as_mut() {
            // A message cut short by the lost transport is not continued by the new one.
            *buffer = Default::default();
        }
        let mut out = Vec::new();
        let first = self
            .replay
            .sent
            .front()
            .map(|(id, _)| *id)
            .unwrap_or(self.replay.next_send_seq);
        protocol::write_sequence(&mut out, first);
        // The kept messages are already in the connection's protocol.
        let mut out = self.to_wire(out);
        for (_, bytes) in &self.replay.sent {
            out.extend_from_slice(bytes);
        }
        self.send_frame(out).await
    }

    /// Under stateful reconnect, counts a sequenced message and says whether the client replayed it after
    /// a reconnect although it was already handled.
    pub(super) fn is_replayed(&mut self, message: &HubMessage) -> bool {
        if !(self.replay.stateful && message.is_sequenced()) {
            return false;
        }
        let id = self.replay.next_recv_seq;
        self.replay.next_recv_seq += 1;
        if id <= self.replay.last_processed {
            return true;
        }
        self.replay.last_processed = id;
        false
    }

    /// Keeps a sent message until the client acknowledges it (stateful reconnect only).
    pub(super) fn keep_for_replay(&mut self, bytes: Bytes) {
        if self.replay.stateful {
            self.replay.sent_bytes += bytes.len();
            self.replay
                .sent
                .push_back((self.replay.next_send_seq, bytes));
            self.replay.next_send_seq += 1;
        }
    }

    /// The client acknowledged everything up to `sequence_id`.
    pub(super) fn on_ack(&mut self, sequence_id: u64) {
        while self
            .replay
            .sent
            .front()
            .is_some_and(|(id, _)| *id <= sequence_id)
        {
            let (_, bytes) = self.replay.sent.pop_front().expect("front exists");
            self.replay.sent_bytes -= bytes.len();
        }
    }

    /// The client resends from `sequence_id` after a reconnect.
    pub(super) async fn on_sequence(&mut self, sequence_id: u64) -> Step {
        if !self.replay.stateful {
            return Step::Continue;
        }
        if sequence_id > self.replay.last_processed + 1 {
            return self
                .protocol_error(format!(
                    "Sequence id {sequence_id} is ahead of the last received message {}.",
                    self.replay.last_processed
                ))
                .await;
        }
        self.replay.next_recv_seq = sequence_id;
        Step::Continue
    }
}
