//! The connection task: one per hub connection, whatever the transport.
//!
//! Invariants:
//! - The task alone owns the transport and the protocol state (record buffer, stream maps, sequence ids,
//!   replay buffer). Everything else reaches the client through the outbound queue in
//!   [`ConnectionShared`], so messages leave in the order they were queued.
//! - Inbound messages are handled in arrival order. Invocations run as futures polled by this task; at most
//!   `max_parallel_invocations` run at once and the rest wait in arrival order. Server-to-client streams do
//!   not count against that limit, and neither do client-to-server stream items and completions: they are
//!   routed to their stream's buffer even while its invocation still waits for a slot. At most
//!   `max_waiting_invocations` wait: when that many do, the records after them are held and the transport is
//!   not read until one starts, so what a client can queue is bounded by that count, one transport frame
//!   (`max_receive_batch_size`) and one partial message (`max_receive_message_size`).
//! - Timers: the client timeout runs from the handshake (not on transports with an inherent keep-alive, long
//!   polling, whose transport ends itself after `disconnect_timeout` without a poll) and pauses while reads
//!   are paused. Every write is bounded by `client_timeout`, so a client that stops reading cannot hold the
//!   task in a write. Only deadlines that can pass are scheduled: a transport without pings has no keep-alive
//!   deadline, or the timer would fire again at once, forever.
//! - The task never awaits a consumer it drives itself. A client-to-server stream item (or error completion)
//!   that finds its stream's buffer (`HubOptions::stream_buffer_capacity` items) full is parked together with
//!   the records read after it, and the task stops reading the transport until the hub method has taken an
//!   item: that is the backpressure a client faster than the method gets, and what it buffers is bounded by
//!   the stream buffer plus the one frame already read. Meanwhile the task keeps polling running invocations
//!   (so the consumer progresses), writes queued outbound messages, and sends keep-alive pings; the client
//!   timeout does not run while reads are paused, since the unread socket may hold the client's pings.
//!   Waiting invocations start as slots free up, so a stream whose method waits behind the parallel limit
//!   resumes once the methods ahead of it end. A method ahead of it that waits for a client result waits
//!   until its own timeout, because the client's answer sits behind the paused items.
//! - One exception to paused reads: under stateful reconnect, when sending also waits (the replay buffer is
//!   full until the client acks), the task reads on, handles the client's Acks at once and parks every other
//!   record behind the stalled one, so a method that sends while it consumes cannot deadlock with its client.
//!   Parked records are not acknowledged, so a well-behaved client stops at its own replay window; one that
//!   parks more than twice `stateful_reconnect_buffer_size` plus `max_receive_message_size` bytes is closed
//!   with an error naming the options.
//! - On the way out: the queue is closed (later sends fail), the connection leaves the lifetime manager,
//!   running invocations are dropped, then `on_disconnected` runs once with the reason.
//! - Under stateful reconnect, messages of types 1 to 5 carry implicit sequence ids in both directions. Sent
//!   ones stay in the replay buffer until acknowledged; when the transport drops, the task keeps running
//!   without one for `disconnect_timeout`, and a new transport for the same token resumes it: the server
//!   sends `Sequence` and replays, and drops the client's replays it has already seen.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use super::context::{ConnectionShared, HubContext, Outbound};
use super::error::{DisconnectReason, HubError};
use super::hub::{ClientStream, HubInner, MethodHandler};
use super::protocol::{self, CompletionOutcome, HubMessage, RecordBuffer};
use super::registry::PendingTicket;
use super::transport::{Inbound, Transport, TransportEnd, FRAME_BATCH_BYTES};

/// Starts a connection task.
pub(crate) fn spawn<T: Transport>(
    hub: Arc<HubInner>,
    conn: Arc<ConnectionShared>,
    transport: T,
    stateful_negotiated: bool,
    reconnects: Option<mpsc::Receiver<Box<T>>>,
    token: Option<String>,
    ticket: Option<PendingTicket>,
) {
    let span = tracing::info_span!(
        "hub_connection",
        connection_id = %conn.id,
        transport = conn.request.transport.as_str()
    );
    let now = Instant::now();
    let c = Connection {
        hub,
        conn,
        transport: Some(transport),
        records: RecordBuffer::default(),
        running: None,
        in_flight: 0,
        waiting: VecDeque::new(),
        held: Vec::new(),
        uploads: HashMap::new(),
        stalled: None,
        cancels: HashMap::new(),
        last_received: now,
        last_sent: now,
        timeout_armed: false,
        stateful: false,
        replay: VecDeque::new(),
        replay_bytes: 0,
        next_send_seq: 1,
        next_recv_seq: 1,
        last_processed: 0,
        last_acked_sent: 0,
        disconnected_at: None,
    };
    let fut = run(Box::new(c), stateful_negotiated, reconnects, token, ticket).instrument(span);
    tokio::spawn(fut);
}

async fn recv_opt<T: Transport>(t: &mut Option<T>) -> Result<Inbound, TransportEnd> {
    match t {
        Some(t) => t.recv().await,
        None => std::future::pending().await,
    }
}

/// The next finished invocation or stream; never resolves while none runs.
async fn next_finished(
    running: &mut Option<FuturesUnordered<BoxFuture<'static, Finished>>>,
) -> Option<Finished> {
    match running {
        Some(set) if !set.is_empty() => {
            let done = set.next().await;
            if set.is_empty() {
                *running = None;
            }
            done
        }
        _ => std::future::pending().await,
    }
}

async fn reconnect_opt<T>(r: &mut Option<mpsc::Receiver<Box<T>>>, waiting: bool) -> Option<Box<T>> {
    match r {
        Some(r) if waiting => r.recv().await,
        _ => std::future::pending().await,
    }
}

enum Finished {
    /// An invocation that counts against the parallel limit ended.
    Invocation,
    /// A server-to-client stream ended.
    Stream(String),
}

/// What a client-to-server stream carries: an item, or the error the client completed it with.
type StreamInput = Result<Box<RawValue>, String>;

/// A waiting-for-room future of a full upload stream buffer.
type RoomFuture =
    BoxFuture<'static, Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>>;

/// A stream input that found its stream's buffer full, and the records read after it. While one exists the
/// transport is not read; it is delivered when the method consuming the stream makes room.
struct Stalled {
    stream_id: String,
    room: RoomFuture,
    input: StreamInput,
    rest: Vec<String>,
    /// Bytes of records read while stalled (see the module docs on stateful reconnect).
    parked_bytes: usize,
}

/// Resolves when the stalled stream has room (or its consumer is gone); never while nothing is stalled.
/// A plain poll function rather than an async block keeps the idle task's select state small.
fn stalled_room(
    stalled: &mut Option<Box<Stalled>>,
) -> impl Future<Output = Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>> + '_ {
    std::future::poll_fn(move |cx| match stalled {
        Some(s) => s.room.as_mut().poll(cx),
        None => std::task::Poll::Pending,
    })
}

struct Connection<T> {
    hub: Arc<HubInner>,
    conn: Arc<ConnectionShared>,
    transport: Option<T>,
    records: RecordBuffer,
    /// Running invocations and streams; `None` while there are none, so an idle connection holds no set.
    running: Option<FuturesUnordered<BoxFuture<'static, Finished>>>,
    in_flight: usize,
    /// Invocations waiting for a parallel slot, at most `max_waiting_invocations`.
    waiting: VecDeque<BoxFuture<'static, Finished>>,
    /// Records read but not yet handled because `waiting` is full; the transport is not read meanwhile.
    held: Vec<String>,
    uploads: HashMap<String, mpsc::Sender<StreamInput>>,
    /// A stream input waiting for room; the transport is not read meanwhile.
    stalled: Option<Box<Stalled>>,
    cancels: HashMap<String, oneshot::Sender<()>>,
    last_received: Instant,
    last_sent: Instant,
    timeout_armed: bool,
    // Stateful reconnect.
    stateful: bool,
    replay: VecDeque<(u64, Bytes)>,
    replay_bytes: usize,
    next_send_seq: u64,
    next_recv_seq: u64,
    last_processed: u64,
    last_acked_sent: u64,
    disconnected_at: Option<Instant>,
}

/// What to do after handling input.
enum Step {
    Continue,
    End(DisconnectReason),
}

async fn run<T: Transport>(
    mut c: Box<Connection<T>>,
    stateful_negotiated: bool,
    mut reconnects: Option<mpsc::Receiver<Box<T>>>,
    token: Option<String>,
    ticket: Option<PendingTicket>,
) {
    // The connection state is built before the task starts and moved in whole, and every large
    // sub-future is boxed, so the task stays small while the connection idles.
    let transport = c
        .transport
        .take()
        .expect("a new connection has its transport");
    let Some((transport, records, leftover, version)) =
        Box::pin(handshake(&c.hub, &c.conn, transport, token.as_deref())).await
    else {
        return;
    };
    drop(ticket);
    // Like ASP.NET Core, the client timeout runs from the handshake, except where polls keep the
    // connection alive.
    c.timeout_armed = !transport.has_inherent_keep_alive();
    c.transport = Some(transport);
    c.records = records;
    c.stateful = stateful_negotiated && version >= 2;
    if !c.stateful {
        // Without stateful reconnect a second socket for this token is refused (see the WebSocket endpoint).
        reconnects = None;
    }
    let now = Instant::now();
    c.last_received = now;
    c.last_sent = now;
    let ctx = HubContext {
        conn: c.conn.clone(),
        hub: c.hub.clone(),
    };
    if let Some(provider) = &ctx.hub.user_id {
        *ctx.conn.user_id.lock() = provider(ctx.conn.request.headers()).map(Arc::from);
    }
    ctx.hub.lifetime.on_connected(&ctx.caller());
    if let Some(hook) = &ctx.hub.on_connected {
        if AssertUnwindSafe(hook(ctx.clone()))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(connection_id = %ctx.conn.id, "on_connected hook panicked");
        }
    }
    tracing::debug!(connection_id = %ctx.conn.id, stateful = c.stateful, "connected");
    let reason = match Box::pin(c.handle_records(leftover)).await {
        Step::End(reason) => reason,
        Step::Continue => c.main_loop(reconnects).await,
    };
    Box::pin(c.shutdown(&reason)).await;
    drop(c);
    ctx.conn.flush_client_warnings();
    ctx.hub.registry.remove(token.as_deref());
    tracing::debug!(connection_id = %ctx.conn.id, %reason, "disconnected");
    if let Some(hook) = &ctx.hub.on_disconnected {
        if AssertUnwindSafe(hook(ctx.clone(), reason))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(connection_id = %ctx.conn.id, "on_disconnected hook panicked");
        }
    }
}

/// Reads and answers the handshake. `None` means the connection is over (already cleaned up).
async fn handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    mut transport: T,
    token: Option<&str>,
) -> Option<(T, RecordBuffer, Vec<String>, u32)> {
    let options = &hub.options;
    let mut records = RecordBuffer::default();
    let deadline = tokio::time::sleep(options.handshake_timeout);
    tokio::pin!(deadline);
    let handshake_records = loop {
        tokio::select! {
            _ = &mut deadline => {
                tracing::warn!(connection_id = %conn.id, "handshake not completed within {:?} (HubOptions::handshake_timeout)", options.handshake_timeout);
                finish_without_handshake(hub, conn, token, transport).await;
                return None;
            }
            frame = transport.recv() => match frame {
                Ok(Inbound::Text(text)) => {
                    let recs = records.push(&text);
                    if !recs.is_empty() {
                        break recs;
                    }
                    if records.pending_len() > options.max_receive_message_size {
                        let max = options.max_receive_message_size;
                        refuse_handshake(hub, conn, token, transport, &format!(
                            "Handshake request larger than the hub's maximum receive message size of {max} bytes \
                             (HubOptions::max_receive_message_size)."
                        )).await;
                        return None;
                    }
                }
                Ok(Inbound::TooLarge(_)) => {
                    let max = options.max_receive_batch_size;
                    refuse_handshake(hub, conn, token, transport, &format!(
                        "Handshake frame larger than {max} bytes (HubOptions::max_receive_batch_size)."
                    )).await;
                    return None;
                }
                Ok(Inbound::Malformed(why)) => {
                    refuse_handshake(hub, conn, token, transport, &why).await;
                    return None;
                }
                Err(_) => {
                    tracing::debug!(connection_id = %conn.id, "transport ended before the handshake");
                    hub.registry.remove(token);
                    conn.close();
                    return None;
                }
            }
        }
    };
    let mut handshake_records = handshake_records.into_iter();
    let first = handshake_records.next().expect("at least one record");
    let request = match protocol::parse_handshake(&first) {
        Ok(r) => r,
        Err(e) => {
            refuse_handshake(hub, conn, token, transport, &e.0).await;
            return None;
        }
    };
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, None);
    if let Err(e) = bounded_write(options.client_timeout, transport.send(out)).await {
        tracing::debug!(connection_id = %conn.id, "handshake response failed: {e}");
        hub.registry.remove(token);
        conn.close();
        return None;
    }
    let leftover: Vec<String> = handshake_records.collect();
    Some((transport, records, leftover, request.version))
}

/// Answers a refused handshake with its reason, then ends the connection.
async fn refuse_handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    token: Option<&str>,
    mut transport: T,
    why: &str,
) {
    tracing::warn!(connection_id = %conn.id, "handshake refused: {why}");
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, Some(why));
    let _ = bounded_write(hub.options.client_timeout, transport.send(out)).await;
    finish_without_handshake(hub, conn, token, transport).await;
}

async fn finish_without_handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    token: Option<&str>,
    transport: T,
) {
    hub.registry.remove(token);
    conn.close();
    let _ = tokio::time::timeout(hub.options.client_timeout, transport.close()).await;
}

/// A write bounded by `client_timeout`: a client that stops reading cannot hold the connection task (and so
/// its timers) forever.
async fn bounded_write(
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

impl<T: Transport> Connection<T> {
    fn start(&mut self, task: BoxFuture<'static, Finished>) {
        self.running
            .get_or_insert_with(FuturesUnordered::new)
            .push(task);
    }

    async fn main_loop(
        &mut self,
        mut reconnects: Option<mpsc::Receiver<Box<T>>>,
    ) -> DisconnectReason {
        let hub = self.hub.clone();
        let options = &hub.options;
        let mut outbound = Vec::new();
        let timer = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(timer);
        self.schedule(timer.as_mut(), options);
        loop {
            let connected = self.transport.is_some();
            let room = !self.stateful || self.replay_bytes < options.stateful_reconnect_buffer_size;
            // Under stateful reconnect a stalled connection reads on while sending waits for an ack.
            let reading =
                !self.queue_full() && (self.stalled.is_none() || (self.stateful && !room));
            let step = tokio::select! {
                frame = recv_opt(&mut self.transport), if reading => match frame {
                    Ok(Inbound::Text(text)) => Box::pin(self.on_text(text)).await,
                    Ok(Inbound::TooLarge(n)) => Box::pin(self.frame_too_large(n)).await,
                    Ok(Inbound::Malformed(why)) => Box::pin(self.protocol_error(why)).await,
                    Err(TransportEnd::Clean) => Step::End(DisconnectReason::Closed),
                    Err(TransportEnd::Failed(e)) => self.transport_lost(e),
                },
                _ = self.conn.queued.notified(), if connected && room => {
                    self.conn.drain(&mut outbound);
                    Box::pin(self.write_outbound(&mut outbound)).await
                }
                permit = stalled_room(&mut self.stalled) => Box::pin(self.unstall(permit)).await,
                Some(done) = next_finished(&mut self.running) => {
                    match done {
                        Finished::Invocation => {
                            self.in_flight -= 1;
                            if let Some(next) = self.waiting.pop_front() {
                                self.in_flight += 1;
                                self.start(next);
                            }
                            if !self.held.is_empty() {
                                let held = std::mem::take(&mut self.held);
                                Box::pin(self.handle_records(held)).await
                            } else {
                                Step::Continue
                            }
                        }
                        Finished::Stream(id) => { self.cancels.remove(&id); Step::Continue }
                    }
                }
                new = reconnect_opt(&mut reconnects, self.stateful) => match new {
                    Some(t) => Box::pin(self.resume(*t)).await,
                    None => Step::Continue,
                },
                _ = &mut timer => {
                    let step = Box::pin(self.on_timer(options)).await;
                    self.schedule(timer.as_mut(), options);
                    step
                }
            };
            if let Step::End(reason) = step {
                return reason;
            }
        }
    }

    /// Handles a text frame: its records are handled, or parked while a stream input is stalled.
    async fn on_text(&mut self, text: String) -> Step {
        let recs = self.records.push(&text);
        let step = if self.stalled.is_some() {
            self.park_records(recs).await
        } else {
            self.last_received = Instant::now();
            self.handle_records(recs).await
        };
        let pending = self.records.pending_len();
        match step {
            Step::Continue if pending > self.hub.options.max_receive_message_size => {
                self.too_large(Some(pending)).await
            }
            step => step,
        }
    }

    /// Points the timer at the earliest of: keep-alive ping, client timeout, ack, reconnect window.
    ///
    /// A transport without pings (long polling, or none while a stateful connection waits for its client)
    /// has no keep-alive deadline: one that stayed in the past would fire the timer again at once, forever.
    fn schedule(&self, timer: std::pin::Pin<&mut tokio::time::Sleep>, options: &super::HubOptions) {
        // Far enough to mean "never", near enough to stay clear of `Instant` overflow.
        let mut due = Instant::now() + Duration::from_secs(24 * 3600);
        if self.sends_pings() {
            due = due.min(self.last_sent + options.keep_alive_interval);
        }
        if self.timeout_armed {
            due = due.min(self.last_received + options.client_timeout);
        }
        if self.stateful {
            due = due.min(Instant::now() + Duration::from_secs(1));
        }
        if let Some(at) = self.disconnected_at {
            due = due.min(at + options.disconnect_timeout);
        }
        timer.reset(due);
    }

    async fn on_timer(&mut self, options: &super::HubOptions) -> Step {
        let now = Instant::now();
        if self.stalled.is_some() || self.queue_full() {
            // The client's latest messages (pings included) may be in the socket we are not reading.
            self.last_received = now;
        }
        if let Some(at) = self.disconnected_at {
            if now >= at + options.disconnect_timeout {
                return Step::End(DisconnectReason::TransportTimeout);
            }
            return Step::Continue;
        }
        if self.timeout_armed && now >= self.last_received + options.client_timeout {
            tracing::info!(connection_id = %self.conn.id, "no message from the client for {:?} (HubOptions::client_timeout)", options.client_timeout);
            let mut out = Vec::new();
            protocol::write_close(
                &mut out,
                Some("Server timeout elapsed without receiving a message from the client."),
                false,
            );
            self.send_frame(out).await;
            return Step::End(DisconnectReason::ClientTimeout);
        }
        let mut out = Vec::new();
        if self.stateful && self.last_processed != self.last_acked_sent {
            self.last_acked_sent = self.last_processed;
            protocol::write_ack(&mut out, self.last_processed);
        }
        if self.sends_pings() && now >= self.last_sent + options.keep_alive_interval {
            protocol::write_ping(&mut out);
        }
        if !out.is_empty() {
            return self.send_frame(out).await;
        }
        Step::Continue
    }

    /// Whether reads wait for the wait queue: it is full, or records held back by it remain.
    fn queue_full(&self) -> bool {
        !self.held.is_empty() || self.waiting.len() >= self.hub.options.max_waiting_invocations
    }

    fn sends_pings(&self) -> bool {
        self.transport
            .as_ref()
            .is_some_and(|t| !t.has_inherent_keep_alive())
    }

    /// Writes a frame on the current transport; a failure, or no room for it within `client_timeout`, counts
    /// as a lost transport.
    async fn send_frame(&mut self, frame: Vec<u8>) -> Step {
        let Some(t) = self.transport.as_mut() else {
            return Step::Continue;
        };
        self.last_sent = Instant::now();
        match bounded_write(self.hub.options.client_timeout, t.send(frame)).await {
            Ok(()) => Step::Continue,
            Err(e) => self.transport_lost(e),
        }
    }

    fn transport_lost(&mut self, error: String) -> Step {
        self.transport = None;
        if self.stateful {
            tracing::debug!(connection_id = %self.conn.id, "transport lost ({error}); waiting for a reconnect");
            self.disconnected_at = Some(Instant::now());
            Step::Continue
        } else {
            Step::End(DisconnectReason::TransportError(error))
        }
    }

    async fn resume(&mut self, transport: T) -> Step {
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

    async fn write_outbound(&mut self, items: &mut Vec<Outbound>) -> Step {
        let mut frame = Vec::new();
        let mut end = None;
        for item in items.drain(..) {
            match item {
                Outbound::Message(bytes) => {
                    if !frame.is_empty() && frame.len() + bytes.len() > FRAME_BATCH_BYTES {
                        if let Step::End(r) = self.send_frame(std::mem::take(&mut frame)).await {
                            return Step::End(r);
                        }
                    }
                    frame.extend_from_slice(&bytes);
                    if self.stateful {
                        self.replay_bytes += bytes.len();
                        self.replay.push_back((self.next_send_seq, bytes));
                        self.next_send_seq += 1;
                    }
                }
                Outbound::Close(error) => {
                    protocol::write_close(&mut frame, error.as_deref(), false);
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
                    if self.stateful {
                        self.disconnected_at = Some(Instant::now());
                        continue;
                    }
                    return Step::End(DisconnectReason::ServerClosed(Some(
                        "connection aborted by the server".into(),
                    )));
                }
            }
        }
        items.clear();
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

    /// Lets started and queued invocations finish and writes what they queued, so that the messages received
    /// before a fatal one are still answered. Bounded by the handshake timeout so a stuck method cannot
    /// keep a doomed connection open.
    async fn settle(&mut self) {
        let deadline = Instant::now() + self.hub.options.handshake_timeout;
        while self.in_flight > 0 || !self.waiting.is_empty() {
            let done = tokio::select! {
                done = next_finished(&mut self.running) => done,
                _ = tokio::time::sleep_until(deadline) => break,
            };
            match done {
                Some(Finished::Invocation) => {
                    self.in_flight -= 1;
                    if let Some(next) = self.waiting.pop_front() {
                        self.in_flight += 1;
                        self.start(next);
                    }
                }
                Some(Finished::Stream(id)) => {
                    self.cancels.remove(&id);
                }
                None => break,
            }
        }
        let mut items = Vec::new();
        self.conn.drain(&mut items);
        let _ = self.write_outbound(&mut items).await;
    }

    /// A WebSocket message over `max_receive_batch_size`, refused by the socket itself.
    async fn frame_too_large(&mut self, size: Option<usize>) -> Step {
        self.settle().await;
        let max = self.hub.options.max_receive_batch_size;
        let size = size.map_or_else(
            || "a WebSocket message".to_owned(),
            |n| format!("a WebSocket message of {n} bytes"),
        );
        let text = format!(
            "Connection closed with an error: the client sent {size}, more than the hub's maximum receive \
             batch size of {max} bytes (HubOptions::max_receive_batch_size)."
        );
        tracing::warn!(connection_id = %self.conn.id, "{text}");
        let mut out = Vec::new();
        protocol::write_close(&mut out, Some(&text), false);
        self.send_frame(out).await;
        Step::End(DisconnectReason::MessageTooLarge(text))
    }

    async fn too_large(&mut self, size: Option<usize>) -> Step {
        self.settle().await;
        let max = self.hub.options.max_receive_message_size;
        let size = size.map_or_else(
            || "a message".to_owned(),
            |n| format!("a message of {n} bytes"),
        );
        let text = format!(
            "Connection closed with an error: the client sent {size}, more than the hub's maximum receive \
             message size of {max} bytes (raise HubOptions::max_receive_message_size to allow larger messages)."
        );
        tracing::warn!(connection_id = %self.conn.id, "{text}");
        let mut out = Vec::new();
        protocol::write_close(&mut out, Some(&text), false);
        self.send_frame(out).await;
        Step::End(DisconnectReason::MessageTooLarge(text))
    }

    async fn protocol_error(&mut self, error: String) -> Step {
        self.settle().await;
        tracing::warn!(connection_id = %self.conn.id, "protocol error: {error}");
        let mut out = Vec::new();
        protocol::write_close(
            &mut out,
            Some(&format!("Connection closed with an error: {error}")),
            false,
        );
        self.send_frame(out).await;
        Step::End(DisconnectReason::ProtocolError(error))
    }

    async fn handle_records(&mut self, records: Vec<String>) -> Step {
        let max = self.hub.options.max_receive_message_size;
        let mut records = records.into_iter();
        while let Some(record) = records.next() {
            if record.len() > max {
                return self.too_large(Some(record.len())).await;
            }
            let message = match protocol::parse_message(&record) {
                Ok(m) => m,
                Err(e) => return self.protocol_error(e.0).await,
            };
            if let Step::End(r) = self.handle_message(message).await {
                return Step::End(r);
            }
            if let Some(stalled) = self.stalled.as_mut() {
                stalled.rest.extend(records);
                return Step::Continue;
            }
            if self.waiting.len() >= self.hub.options.max_waiting_invocations {
                // Backpressure: the rest waits, and the transport is not read, until an invocation starts.
                self.held.extend(records);
                return Step::Continue;
            }
        }
        Step::Continue
    }

    /// Parks a stream input whose buffer is full; see the module docs.
    fn stall(&mut self, stream_id: String, tx: mpsc::Sender<StreamInput>, input: StreamInput) {
        tracing::trace!(connection_id = %self.conn.id, "stream '{stream_id}' buffer full; pausing reads");
        self.stalled = Some(Box::new(Stalled {
            stream_id,
            room: tx.reserve_owned().boxed(),
            input,
            rest: Vec::new(),
            parked_bytes: 0,
        }));
    }

    /// Records read while stalled under stateful reconnect: Acks are handled now (they carry no sequence id
    /// and free the replay buffer), the rest wait behind the stalled stream input.
    async fn park_records(&mut self, records: Vec<String>) -> Step {
        let hub = self.hub.clone();
        let options = &hub.options;
        let limit = 2 * options.stateful_reconnect_buffer_size + options.max_receive_message_size;
        for record in records {
            if record.len() <= options.max_receive_message_size {
                if let Ok(ack @ HubMessage::Ack { .. }) = protocol::parse_message(&record) {
                    self.handle_message(ack).await;
                    continue;
                }
            }
            let stalled = self.stalled.as_mut().expect("parking only while stalled");
            stalled.parked_bytes += record.len();
            stalled.rest.push(record);
            if stalled.parked_bytes > limit {
                let text = format!(
                    "Connection closed with an error: the client sent more than {limit} bytes while the server \
                     waited for both a hub method to read its full client-to-server stream \
                     (HubOptions::stream_buffer_capacity) and for the client to acknowledge sent messages \
                     (HubOptions::stateful_reconnect_buffer_size); raise those options or send less at once."
                );
                tracing::warn!(connection_id = %self.conn.id, "{text}");
                let mut out = Vec::new();
                protocol::write_close(&mut out, Some(&text), false);
                self.send_frame(out).await;
                return Step::End(DisconnectReason::ProtocolError(text));
            }
        }
        Step::Continue
    }

    /// Delivers the stalled stream input once there is room, then handles the records parked after it.
    async fn unstall(
        &mut self,
        permit: Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>,
    ) -> Step {
        let Some(stalled) = self.stalled.take() else {
            return Step::Continue;
        };
        // Client silence counts from when reading resumes.
        self.last_received = Instant::now();
        let Stalled {
            stream_id,
            input,
            rest,
            ..
        } = *stalled;
        match permit {
            Ok(permit) => {
                permit.send(input);
            }
            Err(_) => {
                // The method dropped the stream without reading it to the end.
                self.uploads.remove(&stream_id);
            }
        }
        self.handle_records(rest).await
    }

    async fn handle_message(&mut self, message: HubMessage) -> Step {
        if self.stateful && message.is_sequenced() {
            let id = self.next_recv_seq;
            self.next_recv_seq += 1;
            if id <= self.last_processed {
                return Step::Continue;
            }
            self.last_processed = id;
        }
        match message {
            HubMessage::Invocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => self.invoke(invocation_id, target, arguments, stream_ids, false),
            HubMessage::StreamInvocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => self.invoke(Some(invocation_id), target, arguments, stream_ids, true),
            HubMessage::StreamItem {
                invocation_id,
                item,
            } => {
                let Some(tx) = self.uploads.get(&invocation_id) else {
                    self.warn_client(format_args!(
                        "stream item for unknown stream '{invocation_id}' ignored"
                    ));
                    return Step::Continue;
                };
                match tx.try_send(Ok(item)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(input)) => {
                        let tx = tx.clone();
                        self.stall(invocation_id, tx, input);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        self.uploads.remove(&invocation_id);
                    }
                }
            }
            HubMessage::Completion {
                invocation_id,
                outcome,
            } => {
                if let Some(tx) = self.uploads.remove(&invocation_id) {
                    if let CompletionOutcome::Error(e) = outcome {
                        if let Err(mpsc::error::TrySendError::Full(input)) = tx.try_send(Err(e)) {
                            self.stall(invocation_id, tx, input);
                        }
                    }
                } else if !self.conn.complete_result(&invocation_id, outcome) {
                    self.warn_client(format_args!(
                        "completion for unknown invocation '{invocation_id}' ignored"
                    ));
                }
            }
            HubMessage::CancelInvocation { invocation_id } => {
                if let Some(tx) = self.cancels.remove(&invocation_id) {
                    let _ = tx.send(());
                }
            }
            HubMessage::Ping => self.timeout_armed = true,
            HubMessage::Close {
                error,
                allow_reconnect,
            } => {
                tracing::debug!(connection_id = %self.conn.id, allow_reconnect, "the client sent Close");
                return Step::End(match error {
                    Some(e) => DisconnectReason::ClientError(e),
                    None => DisconnectReason::Closed,
                });
            }
            HubMessage::Ack { sequence_id } => {
                while self
                    .replay
                    .front()
                    .is_some_and(|(id, _)| *id <= sequence_id)
                {
                    let (_, bytes) = self.replay.pop_front().expect("front exists");
                    self.replay_bytes -= bytes.len();
                }
            }
            HubMessage::Sequence { sequence_id } => {
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
            }
            HubMessage::Unknown(kind) => {
                tracing::debug!(connection_id = %self.conn.id, "message of unknown type {kind} skipped")
            }
        }
        Step::Continue
    }

    fn reply_error(&self, invocation_id: Option<&str>, text: String) {
        match invocation_id {
            Some(id) => {
                let mut out = Vec::new();
                protocol::write_completion(&mut out, id, &CompletionOutcome::Error(text));
                let _ = self.conn.push_force(Outbound::Message(Bytes::from(out)));
            }
            None => self.warn_client(format_args!("fire-and-forget invocation failed: {text}")),
        }
    }

    /// Logs a warning the client caused, within `max_client_warnings_per_minute`.
    fn warn_client(&self, text: std::fmt::Arguments<'_>) {
        self.conn
            .warn_client(self.hub.options.max_client_warnings_per_minute, text);
    }

    fn invoke(
        &mut self,
        invocation_id: Option<String>,
        target: String,
        arguments: Box<RawValue>,
        stream_ids: Vec<String>,
        streaming: bool,
    ) {
        let hub = self.hub.clone();
        let Some(method) = hub.method(&target) else {
            self.reply_error(
                invocation_id.as_deref(),
                format!("Unknown hub method '{target}'."),
            );
            return;
        };
        if !stream_ids.is_empty() && !method.accepts_streams {
            self.reply_error(
                invocation_id.as_deref(),
                format!(
                    "Hub method '{}' does not accept client streams ({} sent).",
                    method.name,
                    stream_ids.len()
                ),
            );
            return;
        }
        let mut streams = Vec::with_capacity(stream_ids.len());
        for id in stream_ids {
            let (tx, rx) = mpsc::channel(self.hub.options.stream_buffer_capacity);
            self.uploads.insert(id, tx);
            streams.push(ClientStream { items: rx });
        }
        let ctx = HubContext {
            conn: self.conn.clone(),
            hub: self.hub.clone(),
        };
        let conn = self.conn.clone();
        let name = method.name.clone();
        let detailed = self.hub.options.detailed_errors;
        let warnings = self.hub.options.max_client_warnings_per_minute;
        match (&method.handler, streaming) {
            (MethodHandler::Unary(f), false) => {
                let fut = AssertUnwindSafe(f(ctx, arguments, streams)).catch_unwind();
                let task = async move {
                    let outcome = match fut.await {
                        Ok(Ok(raw)) => CompletionOutcome::Result(raw),
                        Ok(Err(e)) => {
                            if e.is_internal() {
                                tracing::error!(connection_id = %conn.id, "hub method '{name}' failed: {e}");
                            }
                            CompletionOutcome::Error(e.client_text(&name, detailed))
                        }
                        Err(_) => {
                            tracing::error!(connection_id = %conn.id, "hub method '{name}' panicked");
                            CompletionOutcome::Error(
                                HubError::internal("the method panicked").client_text(&name, detailed),
                            )
                        }
                    };
                    match invocation_id {
                        Some(id) => {
                            let mut out = Vec::new();
                            protocol::write_completion(&mut out, &id, &outcome);
                            let _ = conn.push_force(Outbound::Message(Bytes::from(out)));
                        }
                        None => {
                            if let CompletionOutcome::Error(e) = outcome {
                                conn.warn_client(warnings, format_args!("fire-and-forget invocation of '{name}' failed: {e}"));
                            }
                        }
                    }
                    Finished::Invocation
                }
                .boxed();
                if self.in_flight < self.hub.options.max_parallel_invocations {
                    self.in_flight += 1;
                    self.start(task);
                } else {
                    self.waiting.push_back(task);
                }
            }
            (MethodHandler::Stream(f), true) => {
                let id = invocation_id.expect("stream invocations carry an id");
                let stream = match f(ctx, arguments, streams) {
                    Ok(s) => s,
                    Err(e) => {
                        self.reply_error(Some(&id), e.client_text(&name, detailed));
                        return;
                    }
                };
                let (cancel_tx, mut cancel_rx) = oneshot::channel();
                self.cancels.insert(id.clone(), cancel_tx);
                let task = async move {
                    let mut stream = stream;
                    let mut error = None;
                    loop {
                        let next = tokio::select! {
                            _ = &mut cancel_rx => return Finished::Stream(id),
                            next = AssertUnwindSafe(stream.next()).catch_unwind() => next,
                        };
                        match next {
                            Ok(Some(Ok(item))) => {
                                let mut out = Vec::new();
                                protocol::write_stream_item(&mut out, &id, &item);
                                if conn.push_wait(Outbound::Message(Bytes::from(out))).await.is_err() {
                                    return Finished::Stream(id);
                                }
                            }
                            Ok(Some(Err(e))) => {
                                error = Some(e.client_text(&name, detailed));
                                break;
                            }
                            Ok(None) => break,
                            Err(_) => {
                                tracing::error!(connection_id = %conn.id, "stream method '{name}' panicked");
                                error = Some(HubError::internal("the stream panicked").client_text(&name, detailed));
                                break;
                            }
                        }
                    }
                    let outcome = error.map_or(CompletionOutcome::Void, CompletionOutcome::Error);
                    let mut out = Vec::new();
                    protocol::write_completion(&mut out, &id, &outcome);
                    let _ = conn.push_force(Outbound::Message(Bytes::from(out)));
                    Finished::Stream(id)
                }
                .boxed();
                self.start(task);
            }
            (MethodHandler::Unary(_), true) => self.reply_error(
                invocation_id.as_deref(),
                format!("The client attempted to invoke the non-streaming method '{name}' with a streaming invocation."),
            ),
            (MethodHandler::Stream(_), false) => self.reply_error(
                invocation_id.as_deref(),
                format!("The client attempted to invoke the streaming method '{name}' with a non-streaming invocation."),
            ),
        }
    }

    async fn shutdown(&mut self, reason: &DisconnectReason) {
        self.conn.close();
        self.hub.lifetime.on_disconnected(&self.conn.id);
        self.running = None;
        self.waiting.clear();
        self.held.clear();
        self.stalled = None;
        self.uploads.clear();
        self.cancels.clear();
        if let Some(t) = self.transport.take() {
            if !matches!(reason, DisconnectReason::TransportError(_)) {
                let _ = tokio::time::timeout(self.hub.options.client_timeout, t.close()).await;
            }
        }
    }
}
