//! The connection's one timer: keep-alive pings, the client timeout, acks under stateful reconnect and the
//! reconnect window, whichever is due first.

use std::time::Duration;

use tokio::time::Instant;

use super::super::error::DisconnectReason;
use super::super::options::HubOptions;
use super::super::protocol;
use super::{Connection, Step, Transport};

/// When the client and the server last sent something, which the timer's deadlines count from.
pub(super) struct Activity {
    pub(super) last_received: Instant,
    pub(super) last_sent: Instant,
    /// Whether the client timeout runs (not on transports with an inherent keep-alive).
    pub(super) timeout_armed: bool,
}

impl Activity {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Activity {
            last_received: now,
            last_sent: now,
            timeout_armed: false,
        }
    }
}

impl<T: Transport> Connection<T> {
    /// Points the timer at the earliest of: keep-alive ping, client timeout, ack, reconnect window.
    ///
    /// A transport without pings (long polling, or none while a stateful connection waits for its client)
    /// has no keep-alive deadline: one that stayed in the past would fire the timer again at once, forever.
    pub(super) fn schedule(
        &self,
        timer: std::pin::Pin<&mut tokio::time::Sleep>,
        options: &HubOptions,
    ) {
        // Far enough to mean "never", near enough to stay clear of `Instant` overflow.
        let mut due = Instant::now() + Duration::from_secs(24 * 3600);
        if self.sends_pings() {
            due = due.min(self.activity.last_sent + options.keep_alive_interval);
        }
        if self.activity.timeout_armed {
            due = due.min(self.activity.last_received + options.client_timeout);
        }
        if let Some(replay) = self.replay() {
            due = due.min(Instant::now() + Duration::from_secs(1));
            if let Some(at) = replay.disconnected_at {
                due = due.min(at + options.disconnect_timeout);
            }
        }
        timer.reset(due);
    }

    pub(super) async fn on_timer(&mut self, options: &HubOptions) -> Step {
        let now = Instant::now();
        if self.is_stalled() || self.queue_full() {
            // The client's latest messages (pings included) may be in the socket we are not reading.
            self.activity.last_received = now;
        }
        if let Some(at) = self.replay().and_then(|r| r.disconnected_at) {
            if now >= at + options.disconnect_timeout {
                return Step::End(DisconnectReason::TransportTimeout);
            }
            return Step::Continue;
        }
        if self.activity.timeout_armed
            && now >= self.activity.last_received + options.client_timeout
        {
            tracing::info!(connection_id = %self.conn.id, "no message from the client for {:?} (HubOptions::client_timeout)", options.client_timeout);
            let mut out = Vec::new();
            protocol::write_close(
                &mut out,
                Some("Server timeout elapsed without receiving a message from the client."),
                false,
            );
            self.send_json(out).await;
            return Step::End(DisconnectReason::ClientTimeout);
        }
        let mut out = Vec::new();
        if let Some(replay) = self.replay_mut() {
            if replay.last_processed != replay.last_acked_sent {
                replay.last_acked_sent = replay.last_processed;
                protocol::write_ack(&mut out, replay.last_processed);
            }
        }
        if self.sends_pings() && now >= self.activity.last_sent + options.keep_alive_interval {
            protocol::write_ping(&mut out);
        }
        if !out.is_empty() {
            return self.send_json(out).await;
        }
        Step::Continue
    }

    /// Whether reads wait for the wait queue: it is full, or records held back by it remain.
    pub(super) fn queue_full(&self) -> bool {
        self.has_held() || self.waiting_len() >= self.hub.options.max_waiting_invocations
    }

    pub(super) fn sends_pings(&self) -> bool {
        self.transport
            .as_ref()
            .is_some_and(|t| !t.has_inherent_keep_alive())
    }
}
