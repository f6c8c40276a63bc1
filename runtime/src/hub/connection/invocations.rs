//! Invocation scheduling: invocations run as futures polled by the connection task, at most
//! `max_parallel_invocations` at once, at most `max_waiting_invocations` waiting; server-to-client streams
//! run beside them.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::super::caller::ConnectionShared;
use super::super::caller::Outbound;
use super::super::context::HubContext;
use super::super::error::HubError;
use super::super::hub::{ClientStream, MethodHandler};
use super::super::protocol::{self, msgpack, CompletionOutcome, HubMessage, Payload};
use super::{Connection, Step, Transport};

/// A result or stream item in the connection's protocol: a MessagePack connection's are encoded here, so
/// payloads the method returned as MessagePack values keep their binary data and timestamps.
fn encode_reply(conn: &ConnectionShared, message: &HubMessage) -> Outbound {
    let mut out = Vec::new();
    if conn.uses_msgpack() {
        msgpack::write_message_msgpack(message, &mut out);
        Outbound::Wire(Bytes::from(out))
    } else {
        protocol::write_message(message, &mut out);
        Outbound::Message(Bytes::from(out))
    }
}

/// Running invocations. Those waiting for a slot, the records held behind them and stream cancels are
/// rarely used state (see [`super::rare`]).
#[derive(Default)]
pub(super) struct Invocations {
    /// Running invocations and streams; `None` while there are none, so an idle connection holds no set.
    pub(super) running: Option<FuturesUnordered<BoxFuture<'static, Finished>>>,
    /// Running invocations that count against `max_parallel_invocations`.
    pub(super) in_flight: usize,
}

/// The next finished invocation or stream; never resolves while none runs.
pub(super) async fn next_finished(
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

pub(super) enum Finished {
    /// An invocation that counts against the parallel limit ended.
    Invocation,
    /// A server-to-client stream ended.
    Stream(String),
}

/// What a unary invocation's outcome is sent with: its completion for the client, or a warning for a
/// fire-and-forget call that failed.
struct UnaryReply {
    conn: Arc<ConnectionShared>,
    name: Arc<str>,
    invocation_id: Option<String>,
    detailed: bool,
    warnings: u32,
}

impl UnaryReply {
    /// The task that runs `method` to its end and sends its outcome: for an invocation that waits for a
    /// slot, or that did not finish in its first poll.
    fn after<F>(self, method: F) -> BoxFuture<'static, Finished>
    where
        F: std::future::Future<Output = std::thread::Result<Result<Payload, HubError>>>
            + Send
            + 'static,
    {
        async move {
            self.send(method.await);
            Finished::Invocation
        }
        .boxed()
    }

    fn send(self, outcome: std::thread::Result<Result<Payload, HubError>>) {
        let UnaryReply {
            conn,
            name,
            invocation_id,
            detailed,
            warnings,
        } = self;
        let outcome = match outcome {
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
            Some(invocation_id) => {
                let reply = encode_reply(
                    &conn,
                    &HubMessage::Completion {
                        invocation_id,
                        outcome,
                    },
                );
                let _ = conn.push_force(reply);
            }
            None => {
                if let CompletionOutcome::Error(e) = outcome {
                    conn.warn_client(
                        warnings,
                        format_args!("fire-and-forget invocation of '{name}' failed: {e}"),
                    );
                }
            }
        }
    }
}

impl<T: Transport> Connection<T> {
    /// An invocation ended: the next waiting one takes its slot.
    fn start_next(&mut self) {
        self.invocations.in_flight -= 1;
        if let Some(next) = self.rare.as_mut().and_then(|r| r.waiting.pop_front()) {
            self.invocations.in_flight += 1;
            self.start(next);
        }
    }

    /// A server-to-client stream ended: its cancel signal goes.
    fn forget_cancel(&mut self, id: &str) {
        if let Some(rare) = self.rare.as_mut() {
            rare.cancels.remove(id);
        }
    }

    pub(super) fn start(&mut self, task: BoxFuture<'static, Finished>) {
        self.invocations
            .running
            .get_or_insert_with(FuturesUnordered::new)
            .push(task);
    }

    /// Lets started and queued invocations finish and writes what they queued, so that the messages received
    /// before a fatal one are still answered. Bounded by the handshake timeout so a stuck method cannot
    /// keep a doomed connection open.
    pub(super) async fn settle(&mut self) {
        let deadline = Instant::now() + self.hub.options.handshake_timeout;
        while self.invocations.in_flight > 0 || self.waiting_len() > 0 {
            let done = tokio::select! {
                done = next_finished(&mut self.invocations.running) => done,
                _ = tokio::time::sleep_until(deadline) => break,
            };
            match done {
                Some(Finished::Invocation) => self.start_next(),
                Some(Finished::Stream(id)) => self.forget_cancel(&id),
                None => break,
            }
        }
        let items = self.conn.drain();
        let _ = self.write_outbound(items).await;
    }

    pub(super) fn reply_error(&self, invocation_id: Option<&str>, text: String) {
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
    pub(super) fn warn_client(&self, text: std::fmt::Arguments<'_>) {
        self.conn
            .warn_client(self.hub.options.max_client_warnings_per_minute, text);
    }

    pub(super) async fn invoke(
        &mut self,
        invocation_id: Option<String>,
        target: String,
        arguments: Payload,
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
            self.rare_mut().uploads.streams.insert(id, tx);
            streams.push(ClientStream { items: rx });
        }
        let ctx = HubContext {
            conn: self.conn.clone(),
            lifetime: self.hub.lifetime.clone(),
        };
        let conn = self.conn.clone();
        let name = method.name.clone();
        let detailed = self.hub.options.detailed_errors;
        let warnings = self.hub.options.max_client_warnings_per_minute;
        match (&method.handler, streaming) {
            (MethodHandler::Unary(f), false) => {
                let mut fut = AssertUnwindSafe(f(ctx, arguments, streams)).catch_unwind();
                let reply = UnaryReply {
                    conn,
                    name,
                    invocation_id,
                    detailed,
                    warnings,
                };
                let slot_free = self.invocations.in_flight
                    < self.hub.options.max_parallel_invocations
                    && self.rare.as_ref().is_none_or(|r| r.waiting.is_empty());
                if !slot_free {
                    self.rare_mut().waiting.push_back(reply.after(fut));
                    return;
                }
                // With nothing else running it is polled once here, at its place in arrival order: most
                // methods (every circuit call) finish in their first poll, and then need no task, no set of
                // running futures and no further turn of the connection loop. One that waits joins the
                // running set and holds its slot. While others run it joins them unpolled, so that it
                // finishes after those already woken, as it always has.
                let idle = self
                    .invocations
                    .running
                    .as_ref()
                    .is_none_or(|set| set.is_empty());
                let first = if idle {
                    std::future::poll_fn(|cx| Poll::Ready(fut.poll_unpin(cx))).await
                } else {
                    Poll::Pending
                };
                match first {
                    Poll::Ready(result) => reply.send(result),
                    Poll::Pending => {
                        self.invocations.in_flight += 1;
                        self.start(reply.after(fut));
                    }
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
                self.rare_mut().cancels.insert(id.clone(), cancel_tx);
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
                                let reply = encode_reply(&conn, &HubMessage::StreamItem { invocation_id: id.clone(), item });
                                if conn.push_wait(reply).await.is_err() {
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
                format!("The client attempted to invoke the non-streaming '{name}' method with a streaming invocation."),
            ),
            (MethodHandler::Stream(_), false) => self.reply_error(
                invocation_id.as_deref(),
                format!("The client attempted to invoke the streaming '{name}' method with a non-streaming invocation."),
            ),
        }
    }

    /// An invocation or stream ended: the next waiting invocation takes its slot, and records held back by
    /// a full wait queue are handled.
    pub(super) async fn on_finished(&mut self, done: Finished) -> Step {
        match done {
            Finished::Invocation => {
                self.start_next();
                let held = match self.rare.as_mut() {
                    Some(rare) if !rare.held.is_empty() => std::mem::take(&mut rare.held),
                    _ => return Step::Continue,
                };
                self.handle_records(held).await
            }
            Finished::Stream(id) => {
                self.forget_cancel(&id);
                Step::Continue
            }
        }
    }
}
