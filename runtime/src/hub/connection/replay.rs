//! Stateful reconnect: sequence ids, the replay buffer, and resuming on a new transport.

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::super::error::DisconnectReason;
use super::super::protocol::{self, HubMessage, RecordBuffer};
use super::{Connection, Step, Transport};

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
        if self.stateful {
            tracing::debug!(connection_id = %self.conn.id, "transport lost ({error}); waiting for a reconnect");
            self.disconnected_at = Some(Instant::now());
            Step::Continue
        } else {
            Step::End(DisconnectReason::TransportError(error))
        }
    }

    pub(super) async fn resume(&mut self, transport: T) -> Step {
        tracing::debug!(connection_id = %self.conn.id, "transport reconnected; replaying {} messages", self.replay.len());
        self.transport = Some(transport);
        self.disconnected_at = None;
        self.records = RecordBuffer::default();
        let mut out = Vec::new();
        let first = self
            .replay
            .front()
            .map(|(id, _)| *id)
            .unwrap_or(self.next_send_seq);
        protocol::write_sequence(&mut out, first);
        for (_, bytes) in &self.replay {
            out.extend_from_slice(bytes);
        }
        self.send_frame(out).await
    }

    /// Under stateful reconnect, counts a sequenced message and says whether the client replayed it after
    /// a reconnect although it was already handled.
    pub(super) fn is_replayed(&mut self, message: &HubMessage) -> bool {
        if !(self.stateful && message.is_sequenced()) {
            return false;
        }
        let id = self.next_recv_seq;
        self.next_recv_seq += 1;
        if id <= self.last_processed {
            return true;
        }
        self.last_processed = id;
        false
    }

    /// Keeps a sent message until the client acknowledges it (stateful reconnect only).
    pub(super) fn keep_for_replay(&mut self, bytes: Bytes) {
        if self.stateful {
            self.replay_bytes += bytes.len();
            self.replay.push_back((self.next_send_seq, bytes));
            self.next_send_seq += 1;
        }
    }

    /// The client acknowledged everything up to `sequence_id`.
    pub(super) fn on_ack(&mut self, sequence_id: u64) {
        while self
            .replay
            .front()
            .is_some_and(|(id, _)| *id <= sequence_id)
        {
            let (_, bytes) = self.replay.pop_front().expect("front exists");
            self.replay_bytes -= bytes.len();
        }
    }

    /// The client resends from `sequence_id` after a reconnect.
    pub(super) async fn on_sequence(&mut self, sequence_id: u64) -> Step {
        if !self.stateful {
            return Step::Continue;
        }
        if sequence_id > self.last_processed + 1 {
            return self
                .protocol_error(format!(
                    "Sequence id {sequence_id} is ahead of the last received message {}.",
                    self.last_processed
                ))
                .await;
        }
        self.next_recv_seq = sequence_id;
        Step::Continue
    }
}
