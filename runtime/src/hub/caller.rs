//! The shared part of a connection and the [`Caller`] handle to it.
//!
//! Ownership: the connection task owns the socket; every handle holds an `Arc` of [`ConnectionShared`] (id,
//! request facts, extensions, the bounded outbound queue, pending client results). Sends never touch the
//! socket: they append an encoded message to the queue and wake the connection task, which writes queued
//! messages in order. After the connection ends the queue is closed and every send fails with
//! [`SendError::is_closed`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::error::{ClientResultError, SendError};
use super::extensions::Extensions;
use super::protocol::{self, CompletionOutcome};

/// The transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// WebSockets.
    WebSockets,
    /// Server-Sent Events.
    ServerSentEvents,
    /// Long polling.
    LongPolling,
}

impl TransportKind {
    /// The name used in negotiate (`WebSockets`, `ServerSentEvents`, `LongPolling`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebSockets => "WebSockets",
            TransportKind::ServerSentEvents => "ServerSentEvents",
            TransportKind::LongPolling => "LongPolling",
        }
    }
}

/// An Invocation message encoded once, ready to be queued on any number of connections (fan-out and
/// backplanes pass these around).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedInvocation(Bytes);

impl EncodedInvocation {
    /// Encodes a fire-and-forget invocation of client method `target`. `arguments` must serialise to a JSON
    /// array (a tuple such as `("alice", "hi")`, or a `Vec`); `()` means no arguments.
    pub fn new(target: &str, arguments: impl Serialize) -> Result<Self, SendError> {
        let args = encode_arguments(arguments).map_err(|e| SendError::serialize("", e))?;
        let mut out = Vec::with_capacity(target.len() + args.get().len() + 48);
        protocol::write_invocation(&mut out, None, target, &args, &[]);
        Ok(EncodedInvocation(Bytes::from(out)))
    }

    /// Wraps bytes produced by [`EncodedInvocation::as_bytes`] elsewhere (a backplane receiving from
    /// another server). The bytes must be one JSON hub message ending with `0x1E`.
    pub fn from_bytes(bytes: Bytes) -> Self {
        EncodedInvocation(bytes)
    }

    /// The wire bytes (one JSON hub message, record separator included).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

pub(crate) fn encode_arguments(arguments: impl Serialize) -> Result<Box<RawValue>, String> {
    let raw = serde_json::value::to_raw_value(&arguments).map_err(|e| e.to_string())?;
    match raw.get().as_bytes().first() {
        Some(b'[') => Ok(raw),
        _ if raw.get() == "null" => Ok(RawValue::from_string("[]".into()).expect("valid JSON")),
        _ => Err(format!(
            "arguments must serialise to a JSON array (use a tuple like (a, b)), got {}",
            raw.get()
        )),
    }
}

/// An item waiting in a connection's outbound queue.
pub(crate) enum Outbound {
    /// An encoded JSON hub message of types 1 to 5 (sequenced under stateful reconnect); a MessagePack
    /// connection translates it as it writes it.
    Message(Bytes),
    /// A hub message of types 1 to 5 already encoded in the connection's protocol (a MessagePack
    /// connection's results and stream items, which keep binary data and timestamps).
    Wire(Bytes),
    /// Send a Close message and end the connection.
    Close(Option<String>),
    /// Cut the transport without a Close message.
    Abort,
}

struct QueueState {
    items: VecDeque<Outbound>,
    closed: bool,
}

/// Client results the server waits for. The map is boxed and made on first use: most connections never
/// ask their client for a result, and an empty hash map is still 48 bytes.
struct PendingResults {
    next_id: u64,
    // Boxed on purpose: 8 bytes inline in every connection instead of 48 while no result is awaited.
    #[allow(clippy::box_collection)]
    waiting: Option<Box<HashMap<String, oneshot::Sender<CompletionOutcome>>>>,
}

impl PendingResults {
    fn insert(&mut self, id: String, tx: oneshot::Sender<CompletionOutcome>) {
        self.waiting.get_or_insert_with(Box::default).insert(id, tx);
    }

    fn remove(&mut self, id: &str) -> Option<oneshot::Sender<CompletionOutcome>> {
        self.waiting.as_mut()?.remove(id)
    }
}

/// Facts about the HTTP request that started the connection.
///
/// Headers are kept as one compact `name:value\n` byte string and turned into a `HeaderMap` on first use:
/// most idle connections never look at them, and a `HeaderMap` costs several times the bytes. The copy is
/// bounded (`HubOptions::max_request_headers_kept`): a client cannot make every connection hold its largest
/// possible request head. The WebSocket handshake's own headers ([`is_handshake_header`]) are not kept:
/// they describe the socket, which is open by then, not the client.
pub(crate) struct RequestInfo {
    raw_headers: Box<[u8]>,
    /// Boxed: a `HeaderMap` is nearly 100 bytes, which every connection would carry unbuilt.
    headers: OnceLock<Box<HeaderMap>>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) transport: TransportKind,
    /// The request's path and query (`/chathub?room=7`), without the connection token's `id` parameter.
    pub(crate) path_and_query: Box<str>,
}

impl RequestInfo {
    pub(crate) fn new(
        headers: &HeaderMap,
        max_bytes: usize,
        remote_addr: Option<SocketAddr>,
        transport: TransportKind,
    ) -> Self {
        let mut raw = Vec::new();
        let mut dropped = 0;
        for (name, value) in headers {
            if is_handshake_header(name) {
                continue;
            }
            if raw.len() + name.as_str().len() + value.len() + 2 > max_bytes {
                dropped += 1;
                continue;
            }
            // Header values never contain a newline and names never contain a colon.
            raw.extend_from_slice(name.as_str().as_bytes());
            raw.push(b':');
            raw.extend_from_slice(value.as_bytes());
            raw.push(b'\n');
        }
        if dropped > 0 {
            tracing::debug!(
                "{dropped} request headers not kept for hub code (HubOptions::max_request_headers_kept)"
            );
        }
        RequestInfo {
            raw_headers: raw.into_boxed_slice(),
            headers: OnceLock::new(),
            remote_addr,
            transport,
            path_and_query: Box::from(""),
        }
    }

    /// Keeps the request's path and query, less the `id` parameter: that is the connection token on the
    /// HTTP transports, a secret hub code must not log or echo.
    pub(crate) fn with_uri(mut self, uri: &axum::http::Uri) -> Self {
        let mut kept = uri.path().to_owned();
        if let Some(query) = uri.query() {
            let rest: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("id"))
                .collect();
            if !rest.is_empty() {
                kept.push('?');
                kept.push_str(&rest.join("&"));
            }
        }
        self.path_and_query = kept.into_boxed_str();
        self
    }

    /// The request path (`/chathub`), as the client sent it.
    pub(crate) fn path(&self) -> &str {
        let full = &*self.path_and_query;
        full.split_once('?').map_or(full, |(path, _)| path)
    }

    /// The query string without the connection token; empty when there is none.
    pub(crate) fn query(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or("", |(_, query)| query)
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        self.headers.get_or_init(|| {
            let mut map = HeaderMap::new();
            for line in self.raw_headers.split(|b| *b == b'\n') {
                let Some(colon) = line.iter().position(|b| *b == b':') else {
                    continue;
                };
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(&line[..colon]),
                    HeaderValue::from_bytes(&line[colon + 1..]),
                ) {
                    map.append(name, value);
                }
            }
            Box::new(map)
        })
    }
}

/// Whether `name` is one of the headers that only carry the WebSocket upgrade itself (`Connection`,
/// `Upgrade`, `Sec-WebSocket-Key`, `-Version`, `-Extensions`): a browser sends about 150 bytes of them, and
/// every connection would hold them for its whole life.
fn is_handshake_header(name: &HeaderName) -> bool {
    use axum::http::header::{
        CONNECTION, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
    };
    [
        CONNECTION,
        UPGRADE,
        SEC_WEBSOCKET_KEY,
        SEC_WEBSOCKET_VERSION,
        SEC_WEBSOCKET_EXTENSIONS,
    ]
    .contains(name)
}

/// The part of a connection shared between its task and every handle.
pub(crate) struct ConnectionShared {
    pub(crate) id: Arc<str>,
    pub(crate) user_id: Mutex<Option<Arc<str>>>,
    pub(crate) request: RequestInfo,
    capacity: usize,
    queue: Mutex<QueueState>,
    /// Wakes the connection task when something is queued.
    pub(crate) queued: Notify,
    /// Wakes senders waiting for room in the queue.
    room: Notify,
    pending: Mutex<PendingResults>,
    pub(crate) extensions: Mutex<Extensions>,
    /// Made when the client first causes a warning.
    warnings: Mutex<Option<Box<WarningWindow>>>,
    /// Set once the client chose the MessagePack protocol in its handshake.
    msgpack: std::sync::atomic::AtomicBool,
}

/// Warnings the client caused in the current minute (`HubOptions::max_client_warnings_per_minute`).
#[derive(Default)]
struct WarningWindow {
    started: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl ConnectionShared {
    pub(crate) fn new(id: Arc<str>, request: RequestInfo, capacity: usize) -> Arc<Self> {
        Arc::new(ConnectionShared {
            id,
            user_id: Mutex::new(None),
            request,
            capacity,
            queue: Mutex::new(QueueState {
                items: VecDeque::new(),
                closed: false,
            }),
            queued: Notify::new(),
            room: Notify::new(),
            pending: Mutex::new(PendingResults {
                next_id: 0,
                waiting: None,
            }),
            extensions: Mutex::new(Extensions::default()),
            warnings: Mutex::new(None),
            msgpack: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Logs a warning the client caused, at most `per_minute` a minute; the rest are counted and summarised
    /// in one line when the next minute starts or the connection ends.
    /// Records that the client speaks MessagePack (set by the connection task after the handshake).
    pub(crate) fn set_msgpack(&self) {
        self.msgpack
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the client speaks MessagePack: results and stream items are then encoded natively.
    pub(crate) fn uses_msgpack(&self) -> bool {
        self.msgpack.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn warn_client(&self, per_minute: u32, text: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        let mut guard = self.warnings.lock();
        let w = guard.get_or_insert_with(Box::default);
        if w.started
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60))
        {
            let suppressed = w.suppressed;
            **w = WarningWindow {
                started: Some(now),
                ..WarningWindow::default()
            };
            if suppressed > 0 {
                tracing::warn!(connection_id = %self.id, "{suppressed} more warnings caused by this client were not logged (HubOptions::max_client_warnings_per_minute)");
            }
        }
        if w.logged < per_minute {
            w.logged += 1;
            drop(guard);
            tracing::warn!(connection_id = %self.id, "{text}");
        } else {
            w.suppressed += 1;
        }
    }

    /// Logs the summary of warnings not yet logged (when the connection ends).
    pub(crate) fn flush_client_warnings(&self) {
        let suppressed = self
            .warnings
            .lock()
            .as_mut()
            .map_or(0, |w| std::mem::take(&mut w.suppressed));
        if suppressed > 0 {
            tracing::warn!(connection_id = %self.id, "{suppressed} more warnings caused by this client were not logged (HubOptions::max_client_warnings_per_minute)");
        }
    }

    pub(crate) fn try_push(&self, item: Outbound) -> Result<(), SendError> {
        let mut q = self.queue.lock();
        if q.closed {
            return Err(SendError::closed(&self.id));
        }
        if q.items.len() >= self.capacity {
            return Err(SendError::full(&self.id, self.capacity));
        }
        q.items.push_back(item);
        drop(q);
        self.queued.notify_one();
        Ok(())
    }

    /// Queues ignoring the capacity (completions and control messages, bounded by other means).
    pub(crate) fn push_force(&self, item: Outbound) -> Result<(), SendError> {
        let mut q = self.queue.lock();
        if q.closed {
            return Err(SendError::closed(&self.id));
        }
        q.items.push_back(item);
        drop(q);
        self.queued.notify_one();
        Ok(())
    }

    /// Queues, waiting for room when the queue is full.
    pub(crate) async fn push_wait(&self, item: Outbound) -> Result<(), SendError> {
        let mut item = Some(item);
        loop {
            let room = self.room.notified();
            {
                let mut q = self.queue.lock();
                if q.closed {
                    return Err(SendError::closed(&self.id));
                }
                if q.items.len() < self.capacity {
                    q.items.push_back(item.take().expect("pushed once"));
                    drop(q);
                    self.queued.notify_one();
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// Takes every queued item, in order. The queue is left without an allocation: an idle connection holds
    /// no queue capacity (the next send allocates a small one again).
    pub(crate) fn drain(&self) -> VecDeque<Outbound> {
        let items = std::mem::take(&mut self.queue.lock().items);
        self.room.notify_waiters();
        items
    }

    /// Closes the queue: later sends fail, pending client results fail with `Disconnected`.
    pub(crate) fn close(&self) {
        {
            let mut q = self.queue.lock();
            q.closed = true;
            q.items.clear();
        }
        self.room.notify_waiters();
        self.pending.lock().waiting = None;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.lock().closed
    }

    /// Routes a Completion from the client to a waiting client-result call. Returns false if none waits.
    pub(crate) fn complete_result(&self, invocation_id: &str, outcome: CompletionOutcome) -> bool {
        match self.pending.lock().remove(invocation_id) {
            Some(tx) => {
                // The caller may have timed out and gone: nothing to deliver then.
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }
}

/// A handle to one connection that can send to it from any task, at any time, without awaiting.
///
/// Cloneable, `Send + Sync + 'static`. Sends are queued (bounded by
/// [`HubOptions::outbound_queue_capacity`](crate::hub::HubOptions::outbound_queue_capacity)) and written by
/// the connection's task in order; a send after the connection ended fails with [`SendError::is_closed`].
#[derive(Clone)]
pub struct Caller {
    pub(crate) shared: Arc<ConnectionShared>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("connection_id", &self.shared.id)
            .finish()
    }
}

impl Caller {
    /// The connection id (the one given to the client in negotiate).
    pub fn connection_id(&self) -> &str {
        &self.shared.id
    }

    /// The user id the hub's user-id provider gave this connection, if any.
    pub fn user_id(&self) -> Option<Arc<str>> {
        self.shared.user_id.lock().clone()
    }

    /// Queues an invocation of client method `target` (no reply expected). `arguments` serialises to a
    /// JSON array: a tuple such as `(user, text)`, a `Vec`, or `()` for none.
    pub fn send(&self, target: &str, arguments: impl Serialize) -> Result<(), SendError> {
        let message = EncodedInvocation::new(target, arguments)
            .map_err(|e| SendError::serialize(&self.shared.id, e))?;
        self.send_encoded(&message)
    }

    /// Queues an already encoded invocation (what fan-out uses).
    pub fn send_encoded(&self, message: &EncodedInvocation) -> Result<(), SendError> {
        self.shared.try_push(Outbound::Message(message.0.clone()))
    }

    /// Like [`Caller::send`], but waits for room when the queue is full instead of failing.
    pub async fn send_wait(
        &self,
        target: &str,
        arguments: impl Serialize,
    ) -> Result<(), SendError> {
        let message = EncodedInvocation::new(target, arguments)
            .map_err(|e| SendError::serialize(&self.shared.id, e))?;
        self.shared.push_wait(Outbound::Message(message.0)).await
    }

    /// Invokes client method `target` and waits up to `timeout` for the client's result (SignalR client
    /// results). The client answers with its handler's return value, or an error when it has no handler.
    ///
    /// Called from a hub method, this needs
    /// [`max_parallel_invocations`](crate::hub::HubOptions::max_parallel_invocations) above 1 only if the
    /// client must call the hub while it computes the result.
    pub async fn invoke<R: DeserializeOwned>(
        &self,
        target: &str,
        arguments: impl Serialize,
        timeout: Duration,
    ) -> Result<R, ClientResultError> {
        let args = encode_arguments(arguments)
            .map_err(|e| ClientResultError::Send(SendError::serialize(&self.shared.id, e)))?;
        let raw = self.invoke_raw(target, args, timeout).await?;
        serde_json::from_str(raw.get()).map_err(|e| ClientResultError::InvalidResult(e.to_string()))
    }

    /// [`Caller::invoke`] with arguments already encoded as a JSON array; a void answer is `null`. What
    /// lifetime managers use to run a client result for another server.
    pub(crate) async fn invoke_raw(
        &self,
        target: &str,
        args: Box<RawValue>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, ClientResultError> {
        let (tx, rx) = oneshot::channel();
        let invocation_id = {
            let mut pending = self.shared.pending.lock();
            pending.next_id += 1;
            // A prefix keeps server-chosen ids apart from the client's own stream ids, which also arrive
            // in Completion messages.
            let id = format!("s{}", pending.next_id);
            pending.insert(id.clone(), tx);
            id
        };
        let mut out = Vec::with_capacity(target.len() + args.get().len() + 64);
        protocol::write_invocation(&mut out, Some(&invocation_id), target, &args, &[]);
        if let Err(e) = self.shared.try_push(Outbound::Message(Bytes::from(out))) {
            self.shared.pending.lock().remove(&invocation_id);
            return Err(ClientResultError::Send(e));
        }
        let outcome = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => return Err(ClientResultError::Disconnected),
            Err(_) => {
                self.shared.pending.lock().remove(&invocation_id);
                return Err(ClientResultError::Timeout);
            }
        };
        match outcome {
            CompletionOutcome::Error(e) => Err(ClientResultError::Client(e)),
            // Client results are JSON-shaped whatever the protocol: they may cross a backplane.
            CompletionOutcome::Result(payload) => Ok(payload.into_json()),
            CompletionOutcome::Void => {
                Ok(RawValue::from_string("null".into()).expect("valid JSON"))
            }
        }
    }

    /// Ends the connection: queued messages are written, then a Close message (with `error` if given).
    pub fn close(&self, error: Option<String>) {
        // A closed queue means the connection is already over: nothing to do.
        let _ = self.shared.push_force(Outbound::Close(error));
    }

    /// Cuts the transport at once without a Close message, as a network failure would. With stateful
    /// reconnect the client reconnects and the connection resumes; otherwise it ends. Meant for tests and
    /// for shedding a misbehaving socket.
    pub fn abort(&self) {
        let _ = self.shared.push_force(Outbound::Abort);
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_handshake_headers_are_not_kept() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "example.com"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("sec-websocket-protocol", "chat"),
            ("cookie", "a=1"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let info = RequestInfo::new(&headers, 32 * 1024, None, TransportKind::WebSockets);
        let kept: Vec<&str> = info.headers().keys().map(HeaderName::as_str).collect();
        assert_eq!(kept, ["host", "sec-websocket-protocol", "cookie"]);
        assert_eq!(info.headers()["cookie"], "a=1");
    }
}
