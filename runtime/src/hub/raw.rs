//! Raw connections, ASP.NET Core's `MapConnectionHandler`: negotiate and the three transports without the hub
//! protocol. No handshake, no records, no pings: what the client sends reaches the handler as it came, text
//! or binary, and what the handler sends goes out the same way.
//!
//! A [`ConnectionHandler`] is served by the same HTTP layer as a hub (`super::http`), so origins, the
//! authorization hook, transports and their limits (`max_receive_batch_size`, the long-polling buffer and
//! timeouts, `client_timeout` on writes) behave identically. Stateful reconnect is never offered.
//!
//! Invariants:
//! - Each connection is two tasks: a pump that alone owns the transport, and the handler's task, which owns
//!   the [`RawConnection`]. They meet in two bounded channels. Client input waits in the pump (one frame)
//!   and the inbound channel (one more) until the handler takes it: the pump stops reading the transport
//!   meanwhile, so a slow handler holds back its client instead of buffering without bound. Handler output
//!   waits in the outbound channel (`HubOptions::outbound_queue_capacity` messages); `send` waits for room.
//! - The pump keeps writing while it waits for the handler to take input, so a handler that sends before it
//!   reads cannot deadlock with its client.
//! - The connection ends when the client goes (the handler's `recv` then answers `None` and its sends fail)
//!   or when the handler drops its `RawConnection` (returning from the handler does): everything it sent
//!   before is written, then the transport is closed.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::HeaderMap;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::caller::{RequestInfo, TransportKind};
use super::error::{HubConfigError, Refusal};
use super::hub::AuthorizeFn;
use super::options::HubOptions;
use super::registry::{Registry, SlotGuard};
use super::transport::{bounded_write, Inbound, Transport, TransportEnd};

type HandlerFn = dyn Fn(RawConnection) -> BoxFuture<'static, ()> + Send + Sync;

/// The shared state of a built [`ConnectionHandler`].
pub(crate) struct RawInner {
    pub(crate) options: HubOptions,
    pub(crate) registry: Registry,
    pub(crate) authorize: Option<Arc<AuthorizeFn>>,
    handler: Arc<HandlerFn>,
}

/// An endpoint for connections that speak their own protocol instead of the hub protocol (ASP.NET Core's
/// `MapConnectionHandler`): the official client's transports and negotiate, bytes in and out. Build it with
/// [`ConnectionHandler::builder`], serve it with [`ConnectionHandler::router`]. Cheap to clone.
///
/// ```no_run
/// use tether::hub::{ConnectionHandler, RawConnection};
///
/// let echo = ConnectionHandler::builder()
///     .build(|mut connection: RawConnection| async move {
///         while let Some(message) = connection.recv().await {
///             if connection.send(message).await.is_err() {
///                 break;
///             }
///         }
///     })
///     .expect("valid options");
/// let app: axum::Router = axum::Router::new().merge(echo.router("/echo"));
/// ```
#[derive(Clone)]
pub struct ConnectionHandler {
    pub(crate) inner: Arc<RawInner>,
}

impl std::fmt::Debug for ConnectionHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandler").finish_non_exhaustive()
    }
}

impl ConnectionHandler {
    /// Starts building a connection handler.
    pub fn builder() -> ConnectionHandlerBuilder {
        ConnectionHandlerBuilder::default()
    }

    /// The options this handler was built with.
    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }
}

/// Builds a [`ConnectionHandler`]: options and the authorization hook, then [`ConnectionHandlerBuilder::build`]
/// with the function each connection runs.
#[derive(Default)]
pub struct ConnectionHandlerBuilder {
    options: HubOptions,
    authorize: Option<Arc<AuthorizeFn>>,
}

impl std::fmt::Debug for ConnectionHandlerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandlerBuilder")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ConnectionHandlerBuilder {
    /// Replaces the options. The transport and HTTP ones apply as they do to a hub: `transports`,
    /// `allowed_origins`, `allow_credentials`, `max_receive_batch_size` (the largest WebSocket message or
    /// `POST` body), `client_timeout` (as the write timeout only: there are no pings), `disconnect_timeout`,
    /// `long_poll_timeout`, `long_poll_buffer_size`, `max_pending_handshakes` (connections negotiated but
    /// not yet started), `max_request_headers_kept`, and `outbound_queue_capacity` (messages waiting to be
    /// written). The hub protocol's (`keep_alive_interval`, `handshake_timeout`, message and invocation
    /// limits, stateful reconnect) do not apply.
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks every request, negotiate and each transport request, as
    /// [`HubBuilder::authorize`](crate::hub::HubBuilder::authorize) does for a hub.
    pub fn authorize<F>(mut self, check: F) -> Self
    where
        F: Fn(&Parts) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        self.authorize = Some(Arc::new(check));
        self
    }

    /// Builds the handler: `handler` runs once per connection, in its own task, from the moment the
    /// transport opens. The connection closes when the handler returns (after what it sent is written) or
    /// when the client goes. Fails when the options are invalid.
    pub fn build<F, Fut>(self, handler: F) -> Result<ConnectionHandler, HubConfigError>
    where
        F: Fn(RawConnection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let options = HubOptions {
            allow_stateful_reconnect: false,
            ..self.options
        };
        options.validate().map_err(HubConfigError)?;
        Ok(ConnectionHandler {
            inner: Arc::new(RawInner {
                options,
                registry: Registry::default(),
                authorize: self.authorize,
                handler: Arc::new(move |connection| handler(connection).boxed()),
            }),
        })
    }
}

/// One message of a raw connection: a WebSocket text or binary message, a `POST` body, or what the handler
/// sends. `POST` bodies are text when the client sent them as text (`Content-Type: text/…`, how the
/// official client sends strings) and binary otherwise (`application/octet-stream`, its ArrayBuffers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMessage {
    /// UTF-8 text.
    Text(String),
    /// Bytes. Server-Sent Events cannot carry them ([`RawSendError::TextOnly`]).
    Binary(Vec<u8>),
}

impl RawMessage {
    /// The message's bytes (a text message's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RawMessage::Text(text) => text.as_bytes(),
            RawMessage::Binary(bytes) => bytes,
        }
    }
}

/// Why [`RawConnection::send`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RawSendError {
    /// The connection has ended; nothing more can be sent.
    Closed,
    /// A binary message on Server-Sent Events, which carry text only (the official client does not choose
    /// them for `TransferFormat.Binary`).
    TextOnly,
}

impl std::fmt::Display for RawSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RawSendError::Closed => "the connection has ended",
            RawSendError::TextOnly => {
                "binary messages cannot be sent over Server-Sent Events, which carry text only"
            }
        })
    }
}

impl std::error::Error for RawSendError {}

/// A raw connection, as its handler holds it: receive and send messages, read the starting request.
/// Dropping it ends the connection once what was sent is written.
pub struct RawConnection {
    id: Arc<str>,
    request: RequestInfo,
    inbound: mpsc::Receiver<RawMessage>,
    outbound: mpsc::Sender<RawMessage>,
}

impl std::fmt::Debug for RawConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConnection")
            .field("id", &self.id)
            .field("transport", &self.request.transport)
            .finish_non_exhaustive()
    }
}

impl RawConnection {
    /// The next message from the client, or `None` once the client has gone.
    pub async fn recv(&mut self) -> Option<RawMessage> {
        self.inbound.recv().await
    }

    /// Queues a message for the client; waits while `HubOptions::outbound_queue_capacity` messages are
    /// waiting to be written. Each message is one WebSocket message or event; long polling delivers what
    /// has queued up since the last poll as one response body.
    pub async fn send(&self, message: RawMessage) -> Result<(), RawSendError> {
        if matches!(message, RawMessage::Binary(_))
            && self.request.transport == TransportKind::ServerSentEvents
        {
            return Err(RawSendError::TextOnly);
        }
        self.outbound
            .send(message)
            .await
            .map_err(|_| RawSendError::Closed)
    }

    /// The connection id (the one negotiate handed out, or a fresh one without negotiate).
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    /// The transport of this connection.
    pub fn transport(&self) -> TransportKind {
        self.request.transport
    }

    /// The headers of the request that started the transport (as much as `max_request_headers_kept`).
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// The path of the request that started the transport (`/echo`), as the client sent it.
    pub fn request_path(&self) -> &str {
        self.request.path()
    }

    /// The query string of that request, without the connection token (`id`); empty when there is none.
    pub fn query(&self) -> &str {
        self.request.query()
    }

    /// The first decoded value of query parameter `name` (see [`RawConnection::query`]).
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::request::value(self.query(), name).map(std::borrow::Cow::into_owned)
    }

    /// The peer address, when the app is served with connect info (see [`crate::hub::serve`]).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.request.remote_addr
    }
}

/// Starts a raw connection: the handler's task and the pump between it and `transport`.
pub(crate) fn spawn<T: Transport>(
    inner: Arc<RawInner>,
    id: Arc<str>,
    request: RequestInfo,
    transport: T,
    slot: Option<SlotGuard>,
) {
    let span = tracing::info_span!(
        "raw_connection",
        connection_id = %id,
        transport = request.transport.as_str()
    );
    let (to_handler, inbound) = mpsc::channel(1);
    let (outbound, from_handler) = mpsc::channel(inner.options.outbound_queue_capacity.max(1));
    let connection = RawConnection {
        id: id.clone(),
        request,
        inbound,
        outbound,
    };
    let handler = (inner.handler)(connection);
    let handler_id = id.clone();
    tokio::spawn(
        async move {
            if AssertUnwindSafe(handler).catch_unwind().await.is_err() {
                tracing::error!(connection_id = %handler_id, "connection handler panicked");
            }
        }
        .instrument(span.clone()),
    );
    let pump = Pump {
        inner,
        id,
        to_handler,
        from_handler,
    };
    tokio::spawn(
        async move {
            pump.run(transport).await;
            drop(slot);
        }
        .instrument(span),
    );
}

/// How a pump's loop ended.
enum End {
    /// The client went, or its transport failed: nothing to close.
    Gone,
    /// The handler is done: close the transport after what it sent.
    Close,
    /// The client sent a message over the limit: close, saying why where the transport can.
    TooLarge(String),
}

/// Moves messages between a transport and the handler (see the module docs).
struct Pump {
    inner: Arc<RawInner>,
    id: Arc<str>,
    to_handler: mpsc::Sender<RawMessage>,
    from_handler: mpsc::Receiver<RawMessage>,
}

impl Pump {
    async fn run<T: Transport>(mut self, mut transport: T) {
        // A frame read from the client that the handler has not taken yet; the transport is not read meanwhile.
        let mut unread: Option<RawMessage> = None;
        let end = loop {
            tokio::select! {
                frame = transport.recv(), if unread.is_none() => match frame {
                    Ok(Inbound::Text(text)) => unread = Some(RawMessage::Text(text)),
                    Ok(Inbound::Binary(bytes)) => unread = Some(RawMessage::Binary(bytes)),
                    Ok(Inbound::TooLarge(size)) => {
                        let max = self.inner.options.max_receive_batch_size;
                        let size = size.map_or_else(|| "a".to_owned(), |n| format!("a {n}-byte"));
                        tracing::warn!(
                            connection_id = %self.id,
                            "the client sent {size} message, more than {max} bytes (HubOptions::max_receive_batch_size); closing"
                        );
                        break End::TooLarge(format!("Message larger than {max} bytes"));
                    }
                    Err(TransportEnd::Clean) => break End::Gone,
                    Err(TransportEnd::Failed(why)) => {
                        tracing::debug!(connection_id = %self.id, "transport lost: {why}");
                        break End::Gone;
                    }
                },
                permit = self.to_handler.reserve(), if unread.is_some() => match permit {
                    Ok(permit) => permit.send(unread.take().expect("a frame is waiting")),
                    // The handler dropped its connection: it will read nothing more.
                    Err(_) => break End::Close,
                },
                message = self.from_handler.recv() => match message {
                    Some(message) => {
                        let write = match message {
                            RawMessage::Text(text) => bounded_write(self.inner.options.client_timeout, transport.send_text(text.into_bytes())).await,
                            RawMessage::Binary(bytes) => bounded_write(self.inner.options.client_timeout, transport.send_binary(bytes)).await,
                        };
                        if let Err(why) = write {
                            tracing::debug!(connection_id = %self.id, "write failed: {why}");
                            break End::Gone;
                        }
                    }
                    // The handler is done: everything it sent has been written.
                    None => break End::Close,
                },
            }
        };
        // Later sends fail and `recv` answers `None` from here on.
        drop(self.to_handler);
        self.from_handler.close();
        let timeout = self.inner.options.client_timeout;
        match end {
            End::Gone => {}
            End::Close => {
                let _ = tokio::time::timeout(timeout, transport.close()).await;
            }
            End::TooLarge(reason) => {
                let _ = tokio::time::timeout(timeout, transport.close_too_large(&reason)).await;
            }
        }
        tracing::debug!(connection_id = %self.id, "raw connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ConnectionHandler>();
        check::<RawConnection>();
        check::<RawMessage>();
        check::<RawSendError>();
    }
}
