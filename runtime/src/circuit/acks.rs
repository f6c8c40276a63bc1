//! Render acknowledgement bookkeeping for one circuit.
//!
//! Invariants:
//! - Batch ids start at 1 and rise by one per batch (the renderer counts them; this only records them);
//!   every batch is kept, as the frame that was sent, until acknowledged.
//! - An acknowledgement for id N covers every batch up to N. One at or below the last acknowledged id is stale
//!   and ignored. One above the last sent id, or one that reports an apply error, is fatal to the circuit.
//! - While `limit` batches are unacknowledged the circuit must not produce another (`has_room` is false);
//!   rendering resumes when an acknowledgement frees room. The batch that takes the last free place asks
//!   the browser to acknowledge at once (`fills_buffer`); the browser may defer any other acknowledgement
//!   (protocol version 3), so this is what keeps a paused circuit from waiting on the browser's delay.
//! - On reconnect every unacknowledged batch is sent again, in id order.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;

/// A render batch encoded once, into the frame that goes on the wire (a whole `T.Batch` hub message). It
/// is kept as is until acknowledged, and sent again as is after a reconnect.
#[derive(Debug, Clone)]
pub(crate) struct EncodedBatch {
    pub(crate) id: u64,
    pub(crate) frame: Bytes,
}

/// Why an acknowledgement ends the circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckError {
    /// The browser acknowledged a batch the server never sent.
    UnknownBatch {
        /// The id the browser sent.
        acked: u64,
        /// The highest id the server has sent.
        last_sent: u64,
    },
    /// The browser failed to apply a batch.
    ApplyFailed {
        /// The batch that failed.
        batch: u64,
        /// The browser's error message.
        message: String,
    },
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownBatch { acked, last_sent } => {
                write!(f, "acknowledgement for render batch {acked}, but the last batch sent was {last_sent}")
            }
            Self::ApplyFailed { batch, message } => write!(
                f,
                "the browser failed to apply render batch {batch}: {message}"
            ),
        }
    }
}

impl std::error::Error for AckError {}

/// What an accepted acknowledgement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Batches up to the id were released.
    Released,
    /// The id was at or below the last acknowledged one: nothing changed.
    Stale,
}

/// Sent-but-unacknowledged batches.
#[derive(Debug)]
pub(crate) struct RenderAcks {
    last_sent: u64,
    last_acked: u64,
    unacked: VecDeque<EncodedBatch>,
    limit: usize,
}

impl RenderAcks {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            last_sent: 0,
            last_acked: 0,
            unacked: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Whether another batch may be produced now.
    pub(crate) fn has_room(&self) -> bool {
        self.unacked.len() < self.limit
    }

    /// Whether the next batch takes the last free place, so that rendering pauses until it is acknowledged.
    pub(crate) fn fills_buffer(&self) -> bool {
        self.unacked.len() + 1 >= self.limit
    }

    /// Records a batch as sent. Its id follows the last one: both come from the circuit's one renderer.
    pub(crate) fn record(&mut self, batch: EncodedBatch) {
        debug_assert_eq!(batch.id, self.last_sent + 1, "batch ids rise by one");
        self.last_sent = batch.id;
        self.unacked.push_back(batch);
    }

    pub(crate) fn acknowledge(
        &mut self,
        batch: u64,
        error: Option<String>,
    ) -> Result<AckOutcome, AckError> {
        if batch > self.last_sent {
            return Err(AckError::UnknownBatch {
                acked: batch,
                last_sent: self.last_sent,
            });
        }
        if let Some(message) = error {
            return Err(AckError::ApplyFailed { batch, message });
        }
        if batch <= self.last_acked {
            return Ok(AckOutcome::Stale);
        }
        self.last_acked = batch;
        while self.unacked.front().is_some_and(|b| b.id <= batch) {
            self.unacked.pop_front();
        }
        if self.unacked.is_empty() {
            self.unacked = VecDeque::new();
        }
        Ok(AckOutcome::Released)
    }

    /// Every unacknowledged batch, oldest first (to send again on reconnect).
    pub(crate) fn unacknowledged(&self) -> impl Iterator<Item = &EncodedBatch> {
        self.unacked.iter()
    }

    #[cfg(test)]
    pub(crate) fn unacknowledged_count(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(acks: &mut RenderAcks, n: usize) {
        for _ in 0..n {
            let id = acks.last_sent + 1;
            acks.record(EncodedBatch {
                id,
                frame: Bytes::from(format!("[{id}]")),
            });
        }
    }

    #[test]
    fn ids_start_at_one_and_rise_by_one() {
        let mut acks = RenderAcks::new(10);
        sent(&mut acks, 3);
        let ids: Vec<u64> = acks.unacknowledged().map(|b| b.id).collect();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[test]
    fn an_ack_covers_all_earlier_batches() {
        let mut acks = RenderAcks::new(10);
        sent(&mut acks, 4);
        assert_eq!(acks.acknowledge(3, None), Ok(AckOutcome::Released));
        let ids: Vec<u64> = acks.unacknowledged().map(|b| b.id).collect();
        assert_eq!(ids, [4]);
    }

    #[test]
    fn stale_acks_are_ignored() {
        let mut acks = RenderAcks::new(10);
        sent(&mut acks, 4);
        acks.acknowledge(3, None).unwrap();
        assert_eq!(acks.acknowledge(2, None), Ok(AckOutcome::Stale));
        assert_eq!(acks.acknowledge(3, None), Ok(AckOutcome::Stale));
        assert_eq!(acks.unacknowledged_count(), 1);
    }

    #[test]
    fn an_ack_for_a_future_batch_is_fatal() {
        let mut acks = RenderAcks::new(10);
        sent(&mut acks, 2);
        let err = acks.acknowledge(5, None).unwrap_err();
        assert_eq!(
            err,
            AckError::UnknownBatch {
                acked: 5,
                last_sent: 2
            }
        );
        assert!(err.to_string().contains("last batch sent was 2"));
    }

    #[test]
    fn an_apply_error_is_fatal() {
        let mut acks = RenderAcks::new(10);
        sent(&mut acks, 1);
        let err = acks.acknowledge(1, Some("no node 7".into())).unwrap_err();
        assert!(err.to_string().contains("no node 7"));
    }

    #[test]
    fn rendering_pauses_at_the_limit_and_resumes_on_ack() {
        let mut acks = RenderAcks::new(2);
        sent(&mut acks, 1);
        assert!(acks.has_room());
        sent(&mut acks, 1);
        assert!(!acks.has_room());
        acks.acknowledge(1, None).unwrap();
        assert!(acks.has_room());
    }

    #[test]
    fn the_batch_that_fills_the_buffer_is_the_one_that_asks_for_an_ack() {
        let mut acks = RenderAcks::new(3);
        assert!(!acks.fills_buffer());
        sent(&mut acks, 1);
        assert!(!acks.fills_buffer());
        sent(&mut acks, 1);
        assert!(acks.fills_buffer(), "the third batch takes the last place");
        acks.acknowledge(2, None).unwrap();
        assert!(!acks.fills_buffer());
        assert!(
            RenderAcks::new(1).fills_buffer(),
            "with a limit of 1 every batch asks"
        );
    }
}
