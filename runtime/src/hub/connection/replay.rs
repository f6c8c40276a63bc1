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
        if let Some(replay) = self.replay_mut() {
            replay.disconnected_at = Some(Instant::now());
            tracing::debug!(connection_id = %self.conn.id, "transport lost ({error}); waiting for a reconnect");
            Step::Continue
        } else {
            Step::End(DisconnectReason::TransportError(error))
        }
    }

    /// A new transport for a stateful connection: the server sends `Sequence` and replays what the client
    /// has not acknowledged. Reconnects reach only stateful connections (see [`reconnect_opt`]).
    pub(super) async fn resume(&mut self, mut transport: T) -> Step {
        let kept = self.replay().map_or(0, |r| r.sent.len());
        tracing::debug!(connection_id = %self.conn.id, "transport reconnected; replaying {kept} messages");
        let rare = self.rare_mut();
        if let Some(buffer) = rare.msgpack.as_mut() {
            // A new socket starts with text frames; MessagePack needs binary ones (there is no new handshake).
            transport.use_binary_frames();
            // A message cut short by the lost transport is not continued by the new one.
            *buffer = Default::default();
        }
        rare.replay.disconnected_at = None;
        let first = rare
            .replay
            .sent
            .front()
            .map(|(id, _)| *id)
            .unwrap_or(rare.replay.next_send_seq);
        self.transport = Some(transport);
        self.records = RecordBuffer::default();
        let mut out = Vec::new();
        protocol::write_sequence(&mut out, first);
        // The kept messages are already in the connection's protocol.
        let mut out = self.to_wire(out);
        if let Some(replay) = self.replay() {
            for (_, bytes) in &replay.sent {
                out.extend_from_slice(bytes);
            }
        }
        self.send_frame(out).await
    }

    /// Under stateful reconnect, counts a sequenced message and says whether the client replayed it after
    /// a reconnect although it was already handled.
    pub(super) fn is_replayed(&mut self, message: &HubMessage) -> bool {
        let Some(replay) = self.replay_mut().filter(|_| message.is_sequenced()) else {
            return false;
        };
        let id = replay.next_recv_seq;
        replay.next_recv_seq += 1;
        if id <= replay.last_processed {
            return true;
        }
        replay.last_processed = id;
        false
    }

    /// Keeps a sent message until the client acknowledges it (stateful reconnect only).
    pub(super) fn keep_for_replay(&mut self, bytes: Bytes) {
        if let Some(replay) = self.replay_mut() {
            replay.sent_bytes += bytes.len();
            replay.sent.push_back((replay.next_send_seq, bytes));
            replay.next_send_seq += 1;
        }
    }

    /// The client acknowledged everything up to `sequence_id`.
    pub(super) fn on_ack(&mut self, sequence_id: u64) {
        let Some(replay) = self.replay_mut() else {
            return;
        };
        while replay
            .sent
            .front()
            .is_some_and(|(id, _)| *id <= sequence_id)
        {
            let (_, bytes) = replay.sent.pop_front().expect("front exists");
            replay.sent_bytes -= bytes.len();
        }
    }

    /// The client resends from `sequence_id` after a reconnect.
    pub(super) async fn on_sequence(&mut self, sequence_id: u64) -> Step {
        let Some(replay) = self.replay_mut() else {
            return Step::Continue;
        };
        if sequence_id > replay.last_processed + 1 {
            let last = replay.last_processed;
            return self
                .protocol_error(format!(
                    "Sequence id {sequence_id} is ahead of the last received message {last}."
                ))
                .await;
        }
        replay.next_recv_seq = sequence_id;
        Step::Continue
    }
}
