//! The connection task: one per hub connection, whatever the transport.
//!
//! Files by job: [`handshake`](mod@handshake), reading and dispatch (here), [`invocations`] (scheduling), [`uploads`]
//! (client-to-server streams), [`outbound`] (writing frames), [`replay`] (stateful reconnect), [`timers`],
//! and [`rare`], the boxed state that most connections never use.
//!
//! Invariants:
//! - The task alone owns the transport and the protocol state (record buffer, stream maps, sequence ids,
//!   replay buffer). Everything else reaches the client through the outbound queue in
//!   [`ConnectionShared`], so messages leave in the order they were queued.
//! - Inbound messages are handled in arrival order. Invocations run as futures polled by this task; at most
//!   `max_parallel_invocations` run at once and the rest wait in arrival order. While none runs, a new one
//!   is polled once as its record is handled, and one that finishes there never enters the running set. Server-to-client streams do
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

mod handshake;
mod invocations;
mod outbound;
mod rare;
mod replay;
mod timers;
mod uploads;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::caller::ConnectionShared;
use super::context::HubContext;
use super::error::DisconnectReason;
use super::hub::HubInner;
use super::protocol::msgpack::{self, LengthPrefixedBuffer, Split};
use super::protocol::{self, HubMessage, HubProtocol, RecordBuffer};
use super::registry::{PendingTicket, SlotGuard};
use super::transport::{Inbound, Transport, TransportEnd};
use handshake::handshake;
use invocations::{next_finished, Invocations};
use rare::Rare;
use replay::reconnect_opt;
use timers::Activity;
use uploads::stalled_room;

/// Starts a connection task.
pub(crate) fn spawn<T: Transport>(
    hub: Arc<HubInner>,
    conn: Arc<ConnectionShared>,
    transport: T,
    stateful_negotiated: bool,
    reconnects: Option<mpsc::Receiver<Box<T>>>,
    slot: Option<SlotGuard>,
    ticket: Option<PendingTicket>,
) {
    let span = tracing::info_span!(
        "hub_connection",
        connection_id = %conn.id,
        transport = conn.request.transport.as_str()
    );
    let c = Connection {
        hub,
        conn,
        transport: Some(transport),
        records: RecordBuffer::default(),
        invocations: Invocations::default(),
        activity: Activity::new(),
        rare: None,
    };
    let fut = run(Box::new(c), stateful_negotiated, reconnects, slot, ticket).instrument(span);
    tokio::spawn(fut);
}

async fn recv_opt<T: Transport>(t: &mut Option<T>) -> Result<Inbound, TransportEnd> {
    match t {
        Some(t) => t.recv().await,
        None => std::future::pending().await,
    }
}

struct Connection<T> {
    hub: Arc<HubInner>,
    conn: Arc<ConnectionShared>,
    transport: Option<T>,
    records: RecordBuffer,
    invocations: Invocations,
    activity: Activity,
    /// What most connections never use, boxed (see [`rare`]).
    rare: Option<Box<Rare>>,
}

/// One received message, not parsed yet: a JSON record (without its separator) or a MessagePack message
/// (without its length prefix). Messages wait in this form while reads are held back.
pub(super) enum Record {
    Json(String),
    MsgPack(Vec<u8>),
}

impl Record {
    fn len(&self) -> usize {
        match self {
            Record::Json(text) => text.len(),
            Record::MsgPack(bytes) => bytes.len(),
        }
    }

    fn parse(&self) -> Result<HubMessage, protocol::ProtocolError> {
        match self {
            Record::Json(text) => protocol::parse_message(text),
            Record::MsgPack(bytes) => msgpack::parse_message(bytes),
        }
    }
}

/// What to do after handling input.
enum Step {
    Continue,
    End(DisconnectReason),
}

// Not an async fn on purpose: see the comment inside.
#[allow(clippy::manual_async_fn)]
fn run<T: Transport>(
    mut c: Box<Connection<T>>,
    stateful_negotiated: bool,
    reconnects: Option<mpsc::Receiver<Box<T>>>,
    slot: Option<SlotGuard>,
    ticket: Option<PendingTicket>,
) -> impl Future<Output = ()> {
    // The connection state is built before the task starts and moved in whole, and every large
    // sub-future is boxed, so the task stays small while the connection idles. The handshake runs in
    // its own boxed future: its locals (two transports' worth, moved out but still in scope) would
    // otherwise take room in this task's state for the connection's whole life. For the same reason
    // only the connection and its slot are held across the main loop: the hooks' context is made on
    // each side of it, the first step is settled in a block of its own, and this is a block that uses
    // its captures in place rather than an async fn (whose arguments take room twice). That keeps a
    // WebSocket connection's task cell (128-aligned) at 768 bytes, just: measure it again (see
    // docs/performance.md, "What an idle circuit holds") after adding state that lives across the loop.
    async move {
        let reason = 'run: {
            let reconnects = {
                let opened = Box::pin(open(&mut c, stateful_negotiated, reconnects, ticket)).await;
                match opened {
                    None => return,
                    Some((Step::Continue, reconnects)) => reconnects,
                    Some((Step::End(reason), _)) => break 'run reason,
                }
            };
            c.main_loop(reconnects).await
        };
        Box::pin(close(c, slot, reason)).await;
    }
}

/// After the main loop: shutdown, then the `on_disconnected` hook.
async fn close<T: Transport>(
    mut c: Box<Connection<T>>,
    slot: Option<SlotGuard>,
    reason: DisconnectReason,
) {
    c.shutdown(&reason).await;
    let hub = c.hub.clone();
    let ctx = c.context();
    drop(c);
    ctx.conn.flush_client_warnings();
    // The token is forgotten before the hook runs: a reconnect from here on is refused, not resumed.
    drop(slot);
    tracing::debug!(connection_id = %ctx.conn.id, %reason, "disconnected");
    if let Some(hook) = &hub.on_disconnected {
        if AssertUnwindSafe(hook(ctx.clone(), reason))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(connection_id = %ctx.conn.id, "on_disconnected hook panicked");
        }
    }
}

/// The handshake and what follows it up to the main loop: `None` when the handshake failed, else the
/// outcome of the messages that came in the handshake's frame and the reconnect channel to keep.
async fn open<T: Transport>(
    c: &mut Connection<T>,
    stateful_negotiated: bool,
    mut reconnects: Option<mpsc::Receiver<Box<T>>>,
    ticket: Option<PendingTicket>,
) -> Option<(Step, Option<mpsc::Receiver<Box<T>>>)> {
    let hub = c.hub.clone();
    let ctx = &c.context();
    let transport = c
        .transport
        .take()
        .expect("a new connection has its transport");
    let accept = || {
        if let Some(provider) = &hub.user_id {
            *ctx.conn.user_id.lock() = provider(ctx.conn.request.headers()).map(Arc::from);
        }
        hub.lifetime.on_connected(&ctx.caller());
    };
    let (transport, request, rest) =
        Box::pin(handshake(&c.hub, &c.conn, transport, accept)).await?;
    let version = request.version;
    if request.protocol == HubProtocol::MessagePack {
        c.rare_mut().msgpack = Some(LengthPrefixedBuffer::default());
        c.conn.set_msgpack();
    }
    drop(ticket);
    // Like ASP.NET Core, the client timeout runs from the handshake, except where polls keep the
    // connection alive.
    c.activity.timeout_armed = !transport.has_inherent_keep_alive();
    c.transport = Some(transport);
    if stateful_negotiated && version >= 2 {
        c.rare_mut().replay.stateful = true;
    } else {
        // Without stateful reconnect a second socket for this token is refused (see the WebSocket endpoint).
        reconnects = None;
    }
    let now = Instant::now();
    c.activity.last_received = now;
    c.activity.last_sent = now;
    hub.counters
        .connections_total
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(hook) = &hub.on_connected {
        if AssertUnwindSafe(hook(ctx.clone()))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(connection_id = %ctx.conn.id, "on_connected hook panicked");
        }
    }
    tracing::debug!(connection_id = %ctx.conn.id, stateful = c.stateful(), "connected");
    let first = if rest.is_empty() {
        Step::Continue
    } else {
        Box::pin(c.on_bytes(rest)).await
    };
    Some((first, reconnects))
}

impl<T: Transport> Connection<T> {
    /// What hub code (the hooks) sees of this connection.
    fn context(&self) -> HubContext {
        HubContext {
            conn: self.conn.clone(),
            lifetime: self.hub.lifetime.clone(),
        }
    }

    async fn main_loop(
        &mut self,
        mut reconnects: Option<mpsc::Receiver<Box<T>>>,
    ) -> DisconnectReason {
        let hub = self.hub.clone();
        let options = &hub.options;
        let timer = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(timer);
        self.schedule(timer.as_mut(), options);
        loop {
            let connected = self.transport.is_some();
            let stateful = self.stateful();
            let room = self
                .replay()
                .is_none_or(|r| r.sent_bytes < options.stateful_reconnect_buffer_size);
            // Under stateful reconnect a stalled connection reads on while sending waits for an ack.
            let reading = !self.queue_full() && (!self.is_stalled() || !room);
            // Biased, in this order: invocations that became ready run first, then what they queued is
            // written, and the transport is read last. An invocation that queues a message (a render
            // batch) then finds the queue's `Notify` with no waiter registered: it leaves a permit that the
            // next turn takes at once, instead of waking this task while it runs (a self-wake reschedules
            // the task and wakes a parked worker thread to steal it: two context switches per message).
            let step = tokio::select! {
                biased;
                Some(done) = next_finished(&mut self.invocations.running) => Box::pin(self.on_finished(done)).await,
                _ = self.conn.queued.notified(), if connected && room => {
                    let outbound = self.conn.drain();
                    Box::pin(self.write_outbound(outbound)).await
                }
                _ = &mut timer => {
                    // Here rather than after every step: a connection whose events each queue briefly
                    // behind the one before (an ack riding with the next event) keeps it between them.
                    self.release_rare();
                    let step = Box::pin(self.on_timer(options)).await;
                    self.schedule(timer.as_mut(), options);
                    step
                }
                permit = stalled_room(&mut self.rare) => Box::pin(self.unstall(permit)).await,
                new = reconnect_opt(&mut reconnects, stateful) => match new {
                    Some(t) => Box::pin(self.resume(*t)).await,
                    // No sender is left: stop polling a channel that would answer `None` at once, forever.
                    None => {
                        reconnects = None;
                        Step::Continue
                    }
                },
                frame = recv_opt(&mut self.transport), if reading => match frame {
                    Ok(Inbound::Text(text)) if !self.is_msgpack() => Box::pin(self.on_text(text)).await,
                    Ok(Inbound::Text(text)) => Box::pin(self.on_bytes(text.into_bytes())).await,
                    Ok(Inbound::Binary(bytes)) => Box::pin(self.on_bytes(bytes)).await,
                    Ok(Inbound::TooLarge(n)) => Box::pin(self.frame_too_large(n)).await,
                    Err(TransportEnd::Clean) => Step::End(DisconnectReason::Closed),
                    Err(TransportEnd::Failed(e)) => self.transport_lost(e),
                },
            };
            if let Step::End(reason) = step {
                return reason;
            }
        }
    }

    /// Handles a text frame: its records are handled, or parked while a stream input is stalled.
    async fn on_text(&mut self, text: String) -> Step {
        let recs: Vec<Record> = self
            .records
            .push(&text)
            .into_iter()
            .map(Record::Json)
            .collect();
        let step = if self.is_stalled() {
            self.park_records(recs).await
        } else {
            self.activity.last_received = Instant::now();
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

    /// Handles a binary frame: MessagePack messages become JSON records; for the JSON protocol the bytes must
    /// be UTF-8 text.
    async fn on_bytes(&mut self, bytes: Vec<u8>) -> Step {
        let max = self.hub.options.max_receive_message_size;
        let Some(buffer) = self.rare.as_mut().and_then(|r| r.msgpack.as_mut()) else {
            return match String::from_utf8(bytes) {
                Ok(text) => self.on_text(text).await,
                Err(_) => {
                    self.protocol_error(
                        "A binary frame was not UTF-8 text; the JSON hub protocol is text.".into(),
                    )
                    .await
                }
            };
        };
        let (messages, split_error) = match buffer.push(&bytes, max) {
            Ok(messages) => (messages, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let records = messages.into_iter().map(Record::MsgPack).collect();
        // The messages before a bad one are handled first, as in the JSON protocol.
        let step = if self.is_stalled() {
            self.park_records(records).await
        } else {
            self.activity.last_received = Instant::now();
            self.handle_records(records).await
        };
        match (step, split_error) {
            (Step::End(reason), _) => Step::End(reason),
            (Step::Continue, None) => Step::Continue,
            (Step::Continue, Some(Split::TooLarge(size))) => self.too_large(Some(size)).await,
            (Step::Continue, Some(Split::Malformed(e))) => self.protocol_error(e.0).await,
        }
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
        self.send_json(out).await;
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
        self.send_json(out).await;
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
        self.send_json(out).await;
        Step::End(DisconnectReason::ProtocolError(error))
    }

    async fn handle_records(&mut self, records: Vec<Record>) -> Step {
        let max = self.hub.options.max_receive_message_size;
        self.hub
            .counters
            .messages_received
            .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let mut records = records.into_iter();
        while let Some(record) = records.next() {
            // MessagePack messages were measured in their own bytes as they arrived.
            if matches!(record, Record::Json(_)) && record.len() > max {
                return self.too_large(Some(record.len())).await;
            }
            let message = match record.parse() {
                Ok(m) => m,
                Err(e) => return self.protocol_error(e.0).await,
            };
            if let Step::End(r) = self.handle_message(message).await {
                return Step::End(r);
            }
            if let Some(stalled) = self.rare.as_mut().and_then(|r| r.uploads.stalled.as_mut()) {
                stalled.rest.extend(records);
                return Step::Continue;
            }
            if self.waiting_len() >= self.hub.options.max_waiting_invocations {
                // Backpressure: the rest waits, and the transport is not read, until an invocation starts.
                self.rare_mut().held.extend(records);
                return Step::Continue;
            }
        }
        Step::Continue
    }

    async fn handle_message(&mut self, message: HubMessage) -> Step {
        if self.is_replayed(&message) {
            return Step::Continue;
        }
        match message {
            HubMessage::Invocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => {
                self.invoke(invocation_id, target, arguments, stream_ids, false)
                    .await
            }
            HubMessage::StreamInvocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => {
                self.invoke(Some(invocation_id), target, arguments, stream_ids, true)
                    .await
            }
            HubMessage::StreamItem {
                invocation_id,
                item,
            } => self.on_stream_item(invocation_id, item),
            HubMessage::Completion {
                invocation_id,
                outcome,
            } => self.on_completion(invocation_id, outcome),
            HubMessage::CancelInvocation { invocation_id } => {
                if let Some(tx) = self
                    .rare
                    .as_mut()
                    .and_then(|r| r.cancels.remove(&invocation_id))
                {
                    let _ = tx.send(());
                }
            }
            // Any message counts as client activity (see `on_text`); a Ping carries nothing else.
            HubMessage::Ping => {}
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
            HubMessage::Ack { sequence_id } => self.on_ack(sequence_id),
            HubMessage::Sequence { sequence_id } => return self.on_sequence(sequence_id).await,
            HubMessage::Unknown(kind) => {
                tracing::debug!(connection_id = %self.conn.id, "message of unknown type {kind} skipped")
            }
        }
        Step::Continue
    }

    async fn shutdown(&mut self, reason: &DisconnectReason) {
        self.conn.close();
        self.hub.lifetime.on_disconnected(&self.conn.id);
        self.invocations.running = None;
        // Waiting invocations, held records, stalled and open streams, stream cancels.
        self.rare = None;
        if let Some(t) = self.transport.take() {
            if !matches!(reason, DisconnectReason::TransportError(_)) {
                let _ = tokio::time::timeout(self.hub.options.client_timeout, t.close()).await;
            }
        }
    }
}
