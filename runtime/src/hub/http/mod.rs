//! The HTTP layer of a hub: the endpoint that negotiates, checks origins, and turns transport requests into
//! connections. It sits above the connection task (it starts connection tasks) and the transports (it
//! builds them); neither of those imports it.
//!
//! Status codes follow the SignalR transport rules (see `docs/troubleshooting.md`): a missing id is 400, an
//! unknown or expired id 404, a disabled transport 404, switching transport 400, a second concurrent
//! SSE stream or WebSocket 409 (a newer long poll instead ends the older one with 204), a second concurrent
//! POST 409, a wrong method 405, a refused origin 403, an oversized POST body 413, too many connections
//! waiting for their handshake 503. Every error body is one line of plain text.

mod cors;
mod long_polling;
mod negotiate;
mod paths;
mod sse;
mod websocket;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::caller::{ConnectionShared, RequestInfo, TransportKind};
use super::connection;
use super::hub::{AuthorizeFn, Hub, HubInner};
use super::options::HubOptions;
use super::raw::{self, ConnectionHandler, RawInner};
use super::registry::{PendingTicket, Registry, Slot, SlotGuard};
use super::transport::Transport;
use cors::{add_cors, check_origin, preflight};
use long_polling::{delete, long_poll, post};
use negotiate::negotiate;
pub use paths::ignore_path_case;
use sse::server_sent_events;
use websocket::websocket;

/// A plain-text error response: one line a person can act on.
pub(super) fn reject(status: StatusCode, reason: impl Into<String>) -> Response {
    let mut text = reason.into();
    text.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The bearer token of a hub request: the `Authorization: Bearer …` header, or else the `access_token` query
/// parameter, where the official client puts its `accessTokenFactory` token when it cannot set headers
/// (browser WebSockets and event streams). For [`HubBuilder::authorize`](crate::hub::HubBuilder::authorize).
pub fn access_token(parts: &axum::http::request::Parts) -> Option<String> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim().to_owned())
        });
    header.or_else(|| query_param(parts.uri.query(), "access_token").map(Cow::into_owned))
}

/// Runs the hub's authorization hook on a request; the refusal, when there is one, as the response.
pub(super) fn authorization<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
) -> Option<Response> {
    let refusal = hub.authorizer()?(parts).err()?;
    let mut response = reject(refusal.status, refusal.reason);
    if refusal.status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(response)
}

/// What the HTTP layer serves: a hub, or a raw connection handler. Both share negotiate, origin checks,
/// the authorization hook, the transports and their limits; they differ in the task a connection runs.
pub(crate) trait Endpoint: Send + Sync + 'static {
    fn options(&self) -> &HubOptions;
    fn registry(&self) -> &Registry;
    fn authorizer(&self) -> Option<&AuthorizeFn>;
    /// Starts the task of a connection whose transport has just opened.
    fn start<T: Transport>(self: &Arc<Self>, start: Start<T>);
}

/// [`Endpoint`]'s accessors for a type that keeps them in fields named `options`, `registry` and
/// `authorize` (both endpoints do).
macro_rules! endpoint_accessors {
    () => {
        fn options(&self) -> &HubOptions {
            &self.options
        }

        fn registry(&self) -> &Registry {
            &self.registry
        }

        fn authorizer(&self) -> Option<&AuthorizeFn> {
            self.authorize.as_deref()
        }
    };
}

/// A connection whose transport has just opened, for [`Endpoint::start`].
pub(crate) struct Start<T> {
    pub(crate) id: Arc<str>,
    pub(crate) request: RequestInfo,
    pub(crate) transport: T,
    /// Negotiated with stateful reconnect (hubs only; a raw connection handler never offers it).
    pub(crate) stateful: bool,
    /// Later sockets of a stateful-reconnect connection.
    pub(crate) reconnects: Option<mpsc::Receiver<Box<T>>>,
    /// The negotiated slot, held for the connection's life (`None` without negotiate).
    pub(crate) slot: Option<SlotGuard>,
    /// Its place among connections not yet past the hub handshake.
    pub(crate) ticket: Option<PendingTicket>,
}

impl Endpoint for HubInner {
    endpoint_accessors!();

    fn start<T: Transport>(self: &Arc<Self>, start: Start<T>) {
        let conn = ConnectionShared::new(
            start.id,
            start.request,
            self.options.outbound_queue_capacity,
        );
        connection::spawn(
            self.clone(),
            conn,
            start.transport,
            start.stateful,
            start.reconnects,
            start.slot,
            start.ticket,
        );
    }
}

impl Endpoint for RawInner {
    endpoint_accessors!();

    fn start<T: Transport>(self: &Arc<Self>, start: Start<T>) {
        // No hub handshake follows: the connection is established once its transport is.
        drop(start.ticket);
        raw::spawn(
            self.clone(),
            start.id,
            start.request,
            start.transport,
            start.slot,
        );
    }
}

impl Hub {
    /// An axum router serving this hub at `path` (`/chathub`, `/_tether`, `/signalr`, …): `POST
    /// {path}/negotiate`, and `GET`/`POST`/`DELETE`/`OPTIONS {path}` for the transports. Merge it into an
    /// app router and wrap it in tower layers like any other router.
    pub fn router(&self, path: &str) -> axum::Router {
        router(self.inner.clone(), path)
    }
}

impl ConnectionHandler {
    /// An axum router serving this handler at `path` (`/echo`): `POST {path}/negotiate` and the transport
    /// requests, exactly as [`Hub::router`] serves a hub.
    pub fn router(&self, path: &str) -> axum::Router {
        router(self.inner.clone(), path)
    }
}

fn router<E: Endpoint>(hub: Arc<E>, path: &str) -> Router {
    let base = path.trim_end_matches('/');
    let base = if base.is_empty() { "" } else { base };
    let endpoint_path = if base.is_empty() { "/" } else { base };
    Router::new()
        .route(endpoint_path, any(endpoint))
        .route(&format!("{base}/negotiate"), any(negotiate))
        .with_state(hub)
}

pub(super) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    crate::request::value(query?, name)
}

pub(super) fn is_websocket_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub(super) fn transport_disabled(kind: TransportKind) -> Response {
    reject(
        StatusCode::NOT_FOUND,
        format!(
            "The {} transport is not enabled on this hub (HubOptions::transports)",
            kind.as_str()
        ),
    )
}

pub(super) fn too_many_pending() -> Response {
    reject(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many connections are waiting to complete their handshake (HubOptions::max_pending_handshakes); try again shortly",
    )
}

pub(super) fn unknown_connection() -> Response {
    reject(
        StatusCode::NOT_FOUND,
        "No connection with this id: it expired, ended, or was negotiated with another server; negotiate again",
    )
}

pub(super) fn switching(from: TransportKind, to: TransportKind) -> Response {
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
pub(super) fn request_info<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
    transport: TransportKind,
) -> RequestInfo {
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    RequestInfo::new(
        &parts.headers,
        hub.options().max_request_headers_kept,
        remote,
        transport,
    )
    // The path as the client sent it, when `ignore_path_case` rewrote it.
    .with_uri(
        parts
            .extensions
            .get::<paths::SentUri>()
            .map_or(&parts.uri, |sent| &sent.0),
    )
}

/// Starts the connection task of a negotiated slot on its first SSE stream or poll. (A WebSocket starts
/// its task in the upgrade callback, with stateful reconnect.)
pub(super) fn start_connection<E: Endpoint, T: Transport>(
    hub: &Arc<E>,
    slot: &Slot,
    token: &str,
    parts: &axum::http::request::Parts,
    kind: TransportKind,
    transport: T,
) {
    slot.started.store(true, Ordering::Release);
    let ticket = slot.ticket.lock().take();
    hub.start(Start {
        id: slot.id.clone(),
        request: request_info(hub, parts, kind),
        transport,
        stateful: false,
        reconnects: None,
        slot: Some(hub.registry().guard(token)),
        ticket,
    });
}

async fn endpoint<E: Endpoint>(State(hub): State<Arc<E>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let method = parts.method.clone();
    if method == Method::OPTIONS {
        return preflight(&hub, &parts, "GET, POST, DELETE, OPTIONS");
    }
    let origin = match check_origin(&hub, &parts) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    let token = query_param(parts.uri.query(), "id").map(Cow::into_owned);
    let mut response = if let Some(refused) = authorization(&hub, &parts) {
        refused
    } else if method == Method::GET && is_websocket_request(&parts.headers) {
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
            Some(token) => post(&hub, &token, &parts.headers, body).await,
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
