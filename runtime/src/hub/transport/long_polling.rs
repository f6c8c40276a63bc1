//! Long polling: frames go out as the bodies of poll responses, frames come in as `POST`s.
//!
//! [`PollState`] is shared by the connection task (through [`LongPollTransport`]) and the poll requests.
//! One poll is answered at a time: a newer poll ends an older one. The connection ends `disconnect_timeout`
//! after the last poll ended, a poll whose request was dropped included ([`ActivePoll`]).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::super::options::HubOptions;
use super::{Inbound, Transport, TransportEnd};

/// Long-polling state shared by the connection task and the poll requests.
pub(crate) struct PollState {
    inner: Mutex<PollInner>,
    changed: Notify,
}

struct PollInner {
    data: Vec<u8>,
    closed: bool,
    deleted: bool,
    generation: u64,
    active_polls: usize,
    last_poll_end: Instant,
}

/// Counts one poll request as active for as long as it lives. A dropped request (the client went away
/// mid-poll) ends its poll through this guard, so the disconnect timeout starts from then.
pub(crate) struct ActivePoll {
    polls: Arc<PollState>,
    generation: u64,
}

/// How a poll is answered.
pub(crate) enum PollAnswer {
    /// Frames to deliver (200 with the frames as the body).
    Data(Vec<u8>),
    /// A newer poll replaced this one, or the connection ended (204).
    Ended,
    /// Nothing to send within the long-poll timeout (200, empty).
    Empty,
}

impl PollState {
    pub(crate) fn new() -> Self {
        PollState {
            inner: Mutex::new(PollInner {
                data: Vec::new(),
                closed: false,
                deleted: false,
                generation: 0,
                active_polls: 0,
                last_poll_end: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    /// The client ended the connection (`DELETE`).
    pub(crate) fn delete(&self) {
        self.inner.lock().deleted = true;
        self.changed.notify_waiters();
    }
}

impl ActivePoll {
    /// Starts a poll; a newer poll ends any older one (which answers 204).
    pub(crate) fn start(polls: Arc<PollState>) -> Self {
        let generation = {
            let mut p = polls.inner.lock();
            p.generation += 1;
            p.active_polls += 1;
            p.generation
        };
        polls.changed.notify_waiters();
        ActivePoll { polls, generation }
    }

    /// Waits for frames, the end of this poll, or `timeout`.
    pub(crate) async fn answer(&self, timeout: Duration) -> PollAnswer {
        let polls = &self.polls;
        let deadline = Instant::now() + timeout;
        loop {
            let changed = polls.changed.notified();
            {
                let mut p = polls.inner.lock();
                if !p.data.is_empty() {
                    let data = std::mem::take(&mut p.data);
                    drop(p);
                    // Wakes a send waiting for room.
                    polls.changed.notify_waiters();
                    return PollAnswer::Data(data);
                }
                if p.closed || p.deleted || p.generation != self.generation {
                    return PollAnswer::Ended;
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return PollAnswer::Empty,
            }
        }
    }
}

impl Drop for ActivePoll {
    fn drop(&mut self) {
        let mut p = self.polls.inner.lock();
        p.active_polls -= 1;
        p.last_poll_end = Instant::now();
        drop(p);
        self.polls.changed.notify_waiters();
    }
}

pub(crate) struct LongPollTransport {
    inbound: mpsc::Receiver<Inbound>,
    polls: Arc<PollState>,
    disconnect_timeout: Duration,
    /// `HubOptions::long_poll_buffer_size`.
    buffer_size: usize,
}

impl LongPollTransport {
    pub(crate) fn new(
        inbound: mpsc::Receiver<Inbound>,
        polls: Arc<PollState>,
        options: &HubOptions,
    ) -> Self {
        LongPollTransport {
            inbound,
            polls,
            disconnect_timeout: options.disconnect_timeout,
            buffer_size: options.long_poll_buffer_size,
        }
    }
}

impl Transport for LongPollTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        loop {
            let changed = self.polls.changed.notified();
            let idle_until = {
                let p = self.polls.inner.lock();
                if p.deleted {
                    return Err(TransportEnd::Clean);
                }
                (p.active_polls == 0).then_some(p.last_poll_end + self.disconnect_timeout)
            };
            let idle = async {
                match idle_until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                text = self.inbound.recv() => return match text {
                    Some(frame) => Ok(frame),
                    None => Err(TransportEnd::Clean),
                },
                _ = idle => {
                    return Err(TransportEnd::Failed(
                        "no poll arrived within the disconnect timeout".into(),
                    ))
                }
                _ = changed => {}
            }
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        // Waits while the buffer is full: the connection's write timeout ends a client that stopped polling.
        loop {
            let drained = self.polls.changed.notified();
            {
                let mut p = self.polls.inner.lock();
                if p.deleted || p.closed {
                    return Err("the long-polling connection was ended".into());
                }
                if p.data.is_empty() || p.data.len() + frame.len() <= self.buffer_size {
                    p.data.extend_from_slice(&frame);
                    drop(p);
                    self.polls.changed.notify_waiters();
                    return Ok(());
                }
            }
            drained.await;
        }
    }

    async fn close(self) {
        self.polls.inner.lock().closed = true;
        self.polls.changed.notify_waiters();
        // What is still buffered (a handshake refusal, a Close message) waits for the client's next poll: the
        // connection task, and with it the token, lives on until a poll takes it, the client deletes the
        // connection, or the disconnect timeout passes. Otherwise a poll arriving after the server gave up
        // would get `404 No connection with this id` instead of the reason.
        let deadline = Instant::now() + self.disconnect_timeout;
        loop {
            let changed = self.polls.changed.notified();
            {
                let p = self.polls.inner.lock();
                if p.data.is_empty() || p.deleted {
                    return;
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    fn has_inherent_keep_alive(&self) -> bool {
        true
    }
}
