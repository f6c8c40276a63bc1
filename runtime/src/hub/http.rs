//! The HTTP side of a hub: negotiate, the three transports, origin checks and CORS, and the registry of
//! negotiated connections.
//!
//! Status codes follow the SignalR transport rules (see `docs/troubleshooting.md`): a missing id is 400, an
//! unknown or expired id 404, a disabled transport 404, switching transport 400, a second concurrent
//! SSE stream or WebSocket 409 (a newer long poll instead ends the older one with 204), a wrong method 405,
//! a refused origin 403, an oversized POST body 413. Every error body is one line of plain text.
//!
//! The registry maps connection tokens to slots. A slot is created by negotiate, takes a transport on the
//! first transport request, and is removed by the connection task when the connection ends (or after
//! `disconnect_timeout` if no transport ever came).

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use futures_util::SinkExt;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::connection::{self, Inbound, Transport, TransportEnd};
use super::context::{ConnectionShared, RequestInfo, TransportKind};
use super::hub::HubInner;
use super::options::AllowedOrigins;

/// Socket buffer sizes: small on purpose, see `docs/performance.md` (an idle connection must stay under 8 KB).
const WS_READ_BUFFER: usize = 4 * 1024;
const WS_MAX_MESSAGE: usize = 64 * 1024;
/// The cap on bytes waiting in tungstenite's write buffer. Above the 64 KiB the design notes suggest, because
/// one outbound message (a large render batch) must fit in one frame; it is a cap, not an allocation.
const WS_MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// Outbound messages are batched into frames of about this size.
pub(crate) const FRAME_BATCH_BYTES: usize = 16 * 1024;

/// A plain-text error response: one line a person can act on.
fn reject(status: StatusCode, reason: impl Into<String>) -> Response {
    let mut text = reason.into();
    text.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

enum SlotState {
    Negotiated,
    WebSockets {
        reconnect: Option<mpsc::Sender<Box<WsTransport>>>,
    },
    ServerSentEvents {
        inbound: mpsc::Sender<String>,
        streaming: bool,
    },
    LongPolling {
        inbound: mpsc::Sender<String>,
        polls: Arc<PollState>,
    },
}

impl SlotState {
    fn transport(&self) -> Option<TransportKind> {
        match self {
            SlotState::Negotiated => None,
            SlotState::WebSockets { .. } => Some(TransportKind::WebSockets),
            SlotState::ServerSentEvents { .. } => Some(TransportKind::ServerSentEvents),
            SlotState::LongPolling { .. } => Some(TransportKind::LongPolling),
        }
    }
}

pub(crate) struct Slot {
    id: Arc<str>,
    stateful: bool,
    state: Mutex<SlotState>,
    /// Set once a connection task runs for this slot; until then the slot expires after the disconnect
    /// timeout (negotiated but never connected, or a WebSocket upgrade that failed).
    started: AtomicBool,
}

/// Negotiated connections by token.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Registry {
    pub(crate) fn remove(&self, token: Option<&str>) {
        if let Some(token) = token {
            self.slots.lock().remove(token);
        }
    }

    fn get(&self, token: &str) -> Option<Arc<Slot>> {
        self.slots.lock().get(token).cloned()
    }
}

/// 16 random bytes, base64url without padding (22 characters).
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn router(hub: Arc<HubInner>, path: &str) -> Router {
    let base = path.trim_end_matches('/');
    let base = if base.is_empty() { "" } else { base };
    let endpoint_path = if base.is_empty() { "/" } else { base };
    Router::new()
        .route(endpoint_path, any(endpoint))
        .route(&format!("{base}/negotiate"), any(negotiate))
        .with_state(hub)
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    crate::request::value(query?, name)
}

/// Checks `Origin` against the policy. `Ok(Some(origin))` means a cross-origin request that is allowed
/// (CORS headers go on the answer); `Ok(None)` a same-origin or non-browser request.
fn check_origin(hub: &HubInner, headers: &HeaderMap) -> Result<Option<HeaderValue>, String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(None);
    };
    let origin_text = origin.to_str().unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin_text.split_once("://").map_or("", |(_, h)| h);
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        return Ok(None);
    }
    let allowed = match &hub.options.allowed_origins {
        AllowedOrigins::SameOrigin => false,
        AllowedOrigins::Any => true,
        AllowedOrigins::List(list) => list
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin_text)),
    };
    if allowed {
        Ok(Some(origin.clone()))
    } else {
        Err(format!(
                "Origin '{origin_text}' is not allowed to use this hub; add it to HubOptions::allowed_origins \
                 (cross-origin requests are refused to prevent cross-site WebSocket hijacking)"
        ))
    }
}

fn add_cors(hub: &HubInner, response: &mut Response, origin: Option<HeaderValue>) {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if hub.options.allow_credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

fn preflight(hub: &HubInner, headers: &HeaderMap, methods: &'static str) -> Response {
    let origin = match check_origin(hub, headers) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    add_cors(hub, &mut response, origin);
    response
}

async fn negotiate(State(hub): State<Arc<HubInner>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    if parts.method == Method::OPTIONS {
        return preflight(&hub, &parts.headers, "POST, OPTIONS");
    }
    if parts.method != Method::POST {
        let mut r = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("negotiate accepts POST only, not {}", parts.method),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        return r;
    }
    let origin = match check_origin(&hub, &parts.headers) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    let query = parts.uri.query();
    let version = match query_param(query, "negotiateVersion") {
        None => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(v) => v.clamp(0, 1),
            Err(_) => {
                let mut r = axum::Json(serde_json::json!({
                    "error": format!("The negotiateVersion query parameter must be an integer, got '{v}'.")
                }))
                .into_response();
                add_cors(&hub, &mut r, origin);
                return r;
            }
        },
    };
    let stateful = hub.options.allow_stateful_reconnect
        && query_param(query, "useStatefulReconnect").as_deref() == Some("true");
    let id = random_id();
    let token = if version >= 1 {
        random_id()
    } else {
        id.clone()
    };
    let t = hub.options.transports;
    let mut transports = Vec::new();
    if t.web_sockets {
        transports.push(
            serde_json::json!({"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}),
        );
    }
    if t.server_sent_events {
        transports.push(
            serde_json::json!({"transport": "ServerSentEvents", "transferFormats": ["Text"]}),
        );
    }
    if t.long_polling {
        transports.push(
            serde_json::json!({"transport": "LongPolling", "transferFormats": ["Text", "Binary"]}),
        );
    }
    let mut body = serde_json::json!({
        "negotiateVersion": version,
        "connectionId": id,
        "availableTransports": transports,
    });
    if version >= 1 {
        body["connectionToken"] = serde_json::Value::String(token.clone());
    }
    if stateful {
        body["useStatefulReconnect"] = serde_json::Value::Bool(true);
    }
    let slot = Arc::new(Slot {
        id: Arc::from(id.as_str()),
        stateful,
        state: Mutex::new(SlotState::Negotiated),
        started: AtomicBool::new(false),
    });
    hub.registry
        .slots
        .lock()
        .insert(token.clone(), slot.clone());
    // A negotiated connection that never starts a transport is forgotten after the disconnect timeout.
    let weak = Arc::downgrade(&hub);
    let window = hub.options.disconnect_timeout;
    tokio::spawn(async move {
        tokio::time::sleep(window).await;
        if let Some(hub) = weak.upgrade() {
            let mut slots = hub.registry.slots.lock();
            if slots
                .get(&token)
                .is_some_and(|s| !s.started.load(Ordering::Acquire))
            {
                slots.remove(&token);
            }
        }
    });
    let mut r = axum::Json(body).into_response();
    add_cors(&hub, &mut r, origin);
    r
}

fn is_websocket_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn transport_disabled(kind: TransportKind) -> Response {
    reject(
        StatusCode::NOT_FOUND,
        format!(
            "The {} transport is not enabled on this hub (HubOptions::transports)",
            kind.as_str()
        ),
    )
}

fn unknown_connection() -> Response {
    reject(
        StatusCode::NOT_FOUND,
        "No connection with this id: it expired, ended, or was negotiated with another server; negotiate again",
    )
}

fn switching(from: TransportKind, to: TransportKind) -> Response {
    reject(
        StatusCode::BAD_REQUEST,
        format!(
            "Cannot change transports mid-connection: this connection uses {}, not {}",
            from.as_str(),
            to.as_str()
        ),
    )
}

/// Copies what the connection keeps of the request. The copy is deliberate: header values share hyper's read
/// buffer, and holding them would keep that whole buffer (8 KiB or more) alive for the connection's life.
fn request_info(parts: &axum::http::request::Parts, transport: TransportKind) -> RequestInfo {
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    RequestInfo::new(&parts.headers, remote, transport)
}

async fn endpoint(State(hub): State<Arc<HubInner>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let method = parts.method.clone();
    if method == Method::OPTIONS {
        return preflight(&hub, &parts.headers, "GET, POST, DELETE, OPTIONS");
    }
    let origin = match check_origin(&hub, &parts.headers) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    let token = query_param(parts.uri.query(), "id").map(Cow::into_owned);
    let mut response = if method == Method::GET && is_websocket_request(&parts.headers) {
        websocket(&hub, &mut parts, token).await
    } else if method == Method::GET {
        let sse = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        match token {
            None => reject(StatusCode::BAD_REQUEST, "Connection ID required"),
            Some(token) if sse => server_sent_events(&hub, &parts, &token),
            Some(token) => long_poll(&hub, &parts, &token).await,
        }
    } else if method == Method::POST {
        match token {
            None => reject(StatusCode::BAD_REQUEST, "Connection ID required"),
            Some(token) => post(&hub, &token, body).await,
        }
    } else if method == Method::DELETE {
        match token {
            None => reject(StatusCode::BAD_REQUEST, "Connection ID required"),
            Some(token) => delete(&hub, &token),
        }
    } else {
        let mut r = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on a hub endpoint (GET, POST, DELETE, OPTIONS are)"),
        );
        r.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        r
    };
    add_cors(&hub, &mut response, origin);
    response
}

async fn websocket(
    hub: &Arc<HubInner>,
    parts: &mut axum::http::request::Parts,
    token: Option<String>,
) -> Response {
    if !hub.options.transports.web_sockets {
        return transport_disabled(TransportKind::WebSockets);
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let max = WS_MAX_MESSAGE.max(hub.options.max_receive_message_size.saturating_mul(2));
    let upgrade = upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max);
    let info = request_info(parts, TransportKind::WebSockets);
    let hub = hub.clone();
    let Some(token) = token else {
        // No negotiate (`skipNegotiation`): a fresh connection without stateful reconnect.
        return upgrade.on_upgrade(move |socket| async move {
            let conn = ConnectionShared::new(
                Arc::from(random_id().as_str()),
                info,
                hub.options.outbound_queue_capacity,
            );
            connection::spawn(hub, conn, WsTransport { socket }, false, None, None);
        });
    };
    let Some(slot) = hub.registry.get(&token) else {
        return unknown_connection();
    };
    let mut state = slot.state.lock();
    match &*state {
        SlotState::Negotiated => {
            let (reconnect_tx, reconnect_rx) = if slot.stateful {
                let (tx, rx) = mpsc::channel(1);
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            *state = SlotState::WebSockets {
                reconnect: reconnect_tx,
            };
            drop(state);
            let stateful = slot.stateful;
            let id = slot.id.clone();
            let slot = slot.clone();
            upgrade.on_upgrade(move |socket| async move {
                slot.started.store(true, Ordering::Release);
                let conn = ConnectionShared::new(id, info, hub.options.outbound_queue_capacity);
                connection::spawn(
                    hub,
                    conn,
                    WsTransport { socket },
                    stateful,
                    reconnect_rx,
                    Some(token),
                );
            })
        }
        SlotState::WebSockets {
            reconnect: Some(tx),
        } => {
            let tx = tx.clone();
            drop(state);
            upgrade.on_upgrade(move |socket| async move {
                // The connection task may have ended meanwhile; then the socket is simply dropped.
                let _ = tx.send(Box::new(WsTransport { socket })).await;
            })
        }
        SlotState::WebSockets { reconnect: None } => reject(
            StatusCode::CONFLICT,
            "A WebSocket is already active for this connection",
        ),
        other => switching(
            other.transport().expect("started"),
            TransportKind::WebSockets,
        ),
    }
}

/// The WebSocket transport.
pub(crate) struct WsTransport {
    socket: WebSocket,
}

impl Transport for WsTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        loop {
            match self.socket.recv().await {
                None => {
                    return Err(TransportEnd::Failed(
                        "the socket closed without a close frame".into(),
                    ))
                }
                Some(Err(e)) => {
                    let text = e.to_string();
                    // tungstenite's capacity error, through axum's opaque error: "… Message too long: N > MAX".
                    if let Some(rest) = text.split("Message too long: ").nth(1) {
                        let size = rest.split(' ').next().and_then(|n| n.parse().ok());
                        return Ok(Inbound::TooLarge(size));
                    }
                    return Err(TransportEnd::Failed(text));
                }
                Some(Ok(Message::Text(t))) => return Ok(Inbound::Text(t.as_str().to_owned())),
                Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                    Ok(s) => return Ok(Inbound::Text(s)),
                    Err(_) => {
                        return Err(TransportEnd::Failed(
                            "binary frame is not UTF-8 text (the JSON protocol is text)".into(),
                        ))
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite queues the echo of the client's close frame; flush it before the socket is
                    // dropped, or the browser reports 1006 (abnormal closure) instead of its own code.
                    let _ = self.socket.flush().await;
                    return match frame {
                        Some(f) if f.code != 1000 && f.code != 1001 => Err(TransportEnd::Failed(
                            format!("the client closed the socket with code {}", f.code),
                        )),
                        _ => Err(TransportEnd::Clean),
                    };
                }
                Some(Ok(_)) => {}
            }
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(frame).map_err(|e| e.to_string())?;
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| e.to_string())
    }

    async fn close(mut self) {
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
    }
}

/// Server-Sent Events: frames go out as `data:` events on the response body, frames come in as POSTs.
struct SseTransport {
    inbound: mpsc::Receiver<String>,
    events: mpsc::Sender<Result<Bytes, Infallible>>,
}

impl Transport for SseTransport {
    async fn recv(&mut self) -> Result<Inbound, TransportEnd> {
        tokio::select! {
            text = self.inbound.recv() => match text {
                Some(t) => Ok(Inbound::Text(t)),
                None => Err(TransportEnd::Clean),
            },
            _ = self.events.closed() => Err(TransportEnd::Clean),
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(frame).map_err(|e| e.to_string())?;
        let mut event = String::with_capacity(text.len() + 16);
        for line in text.split('\n') {
            event.push_str("data: ");
            event.push_str(line.trim_end_matches('\r'));
            event.push_str("\r\n");
        }
        event.push_str("\r\n");
        self.events
            .send(Ok(Bytes::from(event)))
            .await
            .map_err(|_| "the event stream was closed by the client".to_owned())
    }

    async fn close(self) {}
}

fn server_sent_events(
    hub: &Arc<HubInner>,
    parts: &axum::http::request::Parts,
    token: &str,
) -> Response {
    if !hub.options.transports.server_sent_events {
        return transport_disabled(TransportKind::ServerSentEvents);
    }
    let Some(slot) = hub.registry.get(token) else {
        return unknown_connection();
    };
    let mut state = slot.state.lock();
    match &mut *state {
        SlotState::Negotiated => {}
        SlotState::ServerSentEvents {
            streaming: true, ..
        } => {
            return reject(
                StatusCode::CONFLICT,
                "An event stream is already open for this connection",
            )
        }
        other => {
            return switching(
                other.transport().unwrap_or(TransportKind::ServerSentEvents),
                TransportKind::ServerSentEvents,
            )
        }
    }
    let (inbound_tx, inbound_rx) = mpsc::channel(16);
    let (events_tx, mut events_rx) = mpsc::channel(8);
    *state = SlotState::ServerSentEvents {
        inbound: inbound_tx,
        streaming: true,
    };
    drop(state);
    slot.started.store(true, Ordering::Release);
    let conn = ConnectionShared::new(
        slot.id.clone(),
        request_info(parts, TransportKind::ServerSentEvents),
        hub.options.outbound_queue_capacity,
    );
    connection::spawn(
        hub.clone(),
        conn,
        SseTransport {
            inbound: inbound_rx,
            events: events_tx,
        },
        false,
        None,
        Some(token.to_owned()),
    );
    let first =
        futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b":\r\n")) });
    let rest = futures_util::stream::poll_fn(move |cx| events_rx.poll_recv(cx));
    let body = Body::from_stream(futures_util::StreamExt::chain(first, rest));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

/// Long-polling state shared by the connection task and the poll requests.
struct PollState {
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

struct LongPollTransport {
    inbound: mpsc::Receiver<String>,
    polls: Arc<PollState>,
    disconnect_timeout: Duration,
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
                    Some(t) => Ok(Inbound::Text(t)),
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
        self.polls.inner.lock().data.extend_from_slice(&frame);
        self.polls.changed.notify_waiters();
        Ok(())
    }

    async fn close(self) {
        self.polls.inner.lock().closed = true;
        self.polls.changed.notify_waiters();
    }

    fn wants_pings(&self) -> bool {
        false
    }
}

async fn long_poll(
    hub: &Arc<HubInner>,
    parts: &axum::http::request::Parts,
    token: &str,
) -> Response {
    if !hub.options.transports.long_polling {
        return transport_disabled(TransportKind::LongPolling);
    }
    let Some(slot) = hub.registry.get(token) else {
        return unknown_connection();
    };
    let polls = {
        let mut state = slot.state.lock();
        match &*state {
            SlotState::Negotiated => {
                let (inbound_tx, inbound_rx) = mpsc::channel(16);
                let polls = Arc::new(PollState {
                    inner: Mutex::new(PollInner {
                        data: Vec::new(),
                        closed: false,
                        deleted: false,
                        generation: 0,
                        active_polls: 0,
                        last_poll_end: Instant::now(),
                    }),
                    changed: Notify::new(),
                });
                *state = SlotState::LongPolling {
                    inbound: inbound_tx,
                    polls: polls.clone(),
                };
                drop(state);
                slot.started.store(true, Ordering::Release);
                let conn = ConnectionShared::new(
                    slot.id.clone(),
                    request_info(parts, TransportKind::LongPolling),
                    hub.options.outbound_queue_capacity,
                );
                connection::spawn(
                    hub.clone(),
                    conn,
                    LongPollTransport {
                        inbound: inbound_rx,
                        polls,
                        disconnect_timeout: hub.options.disconnect_timeout,
                    },
                    false,
                    None,
                    Some(token.to_owned()),
                );
                // The first poll answers at once: the connection is established.
                return StatusCode::OK.into_response();
            }
            SlotState::LongPolling { polls, .. } => polls.clone(),
            other => {
                return switching(
                    other.transport().expect("started"),
                    TransportKind::LongPolling,
                )
            }
        }
    };
    let generation = {
        let mut p = polls.inner.lock();
        p.generation += 1;
        p.active_polls += 1;
        p.generation
    };
    // A newer poll ends any older one (which answers 204).
    polls.changed.notify_waiters();
    let deadline = Instant::now() + hub.options.long_poll_timeout;
    let response = loop {
        let changed = polls.changed.notified();
        {
            let mut p = polls.inner.lock();
            if !p.data.is_empty() {
                let data = std::mem::take(&mut p.data);
                break (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    data,
                )
                    .into_response();
            }
            if p.closed || p.deleted || p.generation != generation {
                break StatusCode::NO_CONTENT.into_response();
            }
        }
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => break StatusCode::OK.into_response(),
        }
    };
    let mut p = polls.inner.lock();
    p.active_polls -= 1;
    p.last_poll_end = Instant::now();
    drop(p);
    polls.changed.notify_waiters();
    response
}

async fn post(hub: &Arc<HubInner>, token: &str, body: Body) -> Response {
    let Some(slot) = hub.registry.get(token) else {
        return unknown_connection();
    };
    let inbound = match &*slot.state.lock() {
        SlotState::ServerSentEvents { inbound, .. } | SlotState::LongPolling { inbound, .. } => {
            Ok(inbound.clone())
        }
        SlotState::Negotiated => Err(
            "This connection has no transport yet: start the event stream or the first poll before sending",
        ),
        SlotState::WebSockets { .. } => {
            Err("This connection uses WebSockets: send over the socket, not with POST")
        }
    };
    let inbound = match inbound {
        Ok(i) => i,
        Err(reason) => return reject(StatusCode::BAD_REQUEST, reason),
    };
    // The hub limit applies per message; a POST may carry several, so allow a few times the limit.
    let limit = hub
        .options
        .max_receive_message_size
        .saturating_mul(4)
        .max(64 * 1024);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body larger than {limit} bytes; raise HubOptions::max_receive_message_size"
                ),
            )
        }
    };
    let text = match String::from_utf8(bytes.to_vec()) {
        Ok(t) => t,
        Err(_) => return reject(StatusCode::BAD_REQUEST, "Request body is not UTF-8 text"),
    };
    match inbound.send(text).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => unknown_connection(),
    }
}

fn delete(hub: &Arc<HubInner>, token: &str) -> Response {
    let Some(slot) = hub.registry.get(token) else {
        return unknown_connection();
    };
    let state = slot.state.lock();
    match &*state {
        SlotState::LongPolling { polls, .. } => {
            polls.inner.lock().deleted = true;
            polls.changed.notify_waiters();
            StatusCode::ACCEPTED.into_response()
        }
        _ => reject(
            StatusCode::BAD_REQUEST,
            "DELETE ends long-polling connections only",
        ),
    }
}
