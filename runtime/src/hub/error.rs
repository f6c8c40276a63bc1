//! Error types at the hub's public boundary.

use std::fmt;

/// The error a hub method returns. [`HubError::new`] messages reach the client as they are;
/// [`HubError::internal`] details are logged and only reach the client when
/// [`HubOptions::detailed_errors`](crate::hub::HubOptions::detailed_errors) is on.
#[derive(Debug, Clone)]
pub struct HubError {
    message: String,
    kind: ErrorKind,
}

/// Where an error came from, which decides what the client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// `HubError::new`: the message is for the client.
    Client,
    /// `HubError::internal`: the detail stays in the log unless detailed errors are on.
    Internal,
    /// The client ended one of its own streams with this error ([`crate::hub::ClientStream`]). ASP.NET Core
    /// raises a plain `Exception` there, so the client sees the same prefix and `Exception: ` before it.
    ClientStream,
}

impl HubError {
    /// An error meant for the client (like SignalR's `HubException`): sent verbatim in the Completion.
    pub fn new(message: impl Into<String>) -> Self {
        HubError {
            message: message.into(),
            kind: ErrorKind::Client,
        }
    }

    /// A server-side failure: the client gets a generic message unless detailed errors are enabled.
    pub fn internal(detail: impl fmt::Display) -> Self {
        HubError {
            message: detail.to_string(),
            kind: ErrorKind::Internal,
        }
    }

    /// The error a client sent to end one of its streams (see [`crate::hub::ClientStream`]).
    pub(crate) fn client_stream(detail: impl Into<String>) -> Self {
        HubError {
            message: detail.into(),
            kind: ErrorKind::ClientStream,
        }
    }

    /// The message (for internal errors: the detail).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether this is an internal error whose detail is hidden from clients by default.
    pub fn is_internal(&self) -> bool {
        self.kind == ErrorKind::Internal
    }

    /// The text sent to the client for an invocation of `method`, worded as ASP.NET Core words it (the
    /// official client surfaces it verbatim and apps match on it): `An unexpected error occurred invoking
    /// 'NAME' on the server.`, then a space and the detail when detailed errors are on.
    pub(crate) fn client_text(&self, method: &str, detailed: bool) -> String {
        let prefix = format!("An unexpected error occurred invoking '{method}' on the server.");
        match self.kind {
            ErrorKind::Client => self.message.clone(),
            ErrorKind::Internal if detailed => format!("{prefix} {}", self.message),
            ErrorKind::ClientStream if detailed => format!("{prefix} Exception: {}", self.message),
            ErrorKind::Internal | ErrorKind::ClientStream => prefix,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HubError {}

/// Why a message could not be queued for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    kind: SendErrorKind,
    connection_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SendErrorKind {
    Closed,
    Full(usize),
    Serialize(String),
}

impl SendError {
    pub(crate) fn closed(connection_id: &str) -> Self {
        SendError {
            kind: SendErrorKind::Closed,
            connection_id: connection_id.to_owned(),
        }
    }

    pub(crate) fn full(connection_id: &str, capacity: usize) -> Self {
        SendError {
            kind: SendErrorKind::Full(capacity),
            connection_id: connection_id.to_owned(),
        }
    }

    pub(crate) fn serialize(connection_id: &str, error: impl fmt::Display) -> Self {
        SendError {
            kind: SendErrorKind::Serialize(error.to_string()),
            connection_id: connection_id.to_owned(),
        }
    }

    /// The connection has ended (or no connection has that id): nothing more can be sent to it.
    pub fn is_closed(&self) -> bool {
        self.kind == SendErrorKind::Closed
    }

    /// The connection's outbound queue is full: the client is not reading fast enough.
    pub fn is_full(&self) -> bool {
        matches!(self.kind, SendErrorKind::Full(_))
    }

    /// The arguments could not be serialised to JSON.
    pub fn is_serialize(&self) -> bool {
        matches!(self.kind, SendErrorKind::Serialize(_))
    }

    /// The connection the send was for (empty for fan-out sends).
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SendErrorKind::Closed => write!(f, "connection {} is closed", self.connection_id),
            SendErrorKind::Full(cap) => write!(
                f,
                "the outbound queue of connection {} is full ({cap} messages; HubOptions::outbound_queue_capacity)",
                self.connection_id
            ),
            SendErrorKind::Serialize(e) => write!(f, "the arguments could not be serialised: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why a client result ([`crate::hub::Caller::invoke`]) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientResultError {
    /// The invocation could not be sent.
    Send(SendError),
    /// The client did not answer within the timeout.
    Timeout,
    /// The client answered with an error (no handler, or its handler threw).
    Client(String),
    /// The connection ended before the client answered.
    Disconnected,
    /// The client's result did not deserialise into the expected type.
    InvalidResult(String),
}

impl fmt::Display for ClientResultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientResultError::Send(e) => write!(f, "could not send the invocation: {e}"),
            ClientResultError::Timeout => {
                f.write_str("the client did not answer within the timeout")
            }
            ClientResultError::Client(e) => write!(f, "the client answered with an error: {e}"),
            ClientResultError::Disconnected => {
                f.write_str("the connection ended before the client answered")
            }
            ClientResultError::InvalidResult(e) => {
                write!(f, "the client's result has the wrong type: {e}")
            }
        }
    }
}

impl std::error::Error for ClientResultError {}

impl From<ClientResultError> for HubError {
    fn from(e: ClientResultError) -> Self {
        HubError::internal(e)
    }
}

/// The hub configuration is invalid (returned by [`crate::hub::HubBuilder::build`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfigError(pub(crate) String);

impl fmt::Display for HubConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid hub configuration: {}", self.0)
    }
}

impl std::error::Error for HubConfigError {}

/// Why a connection ended, given to the `on_disconnected` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed cleanly (Close message, WebSocket close, `DELETE`, or `stop()`).
    Closed,
    /// The client sent a Close message carrying an error.
    ClientError(String),
    /// The transport failed (socket reset, write error).
    TransportError(String),
    /// The client broke the protocol; the text is the reason sent in the Close message.
    ProtocolError(String),
    /// The client sent a message larger than `max_receive_message_size`.
    MessageTooLarge(String),
    /// The client sent nothing for `client_timeout`.
    ClientTimeout,
    /// No transport came back within `disconnect_timeout` (long polling gap, dropped stateful socket).
    TransportTimeout,
    /// The server closed the connection ([`crate::hub::Caller::close`] or [`crate::hub::Caller::abort`]).
    ServerClosed(Option<String>),
}

impl DisconnectReason {
    /// Whether the connection ended without an error.
    pub fn is_clean(&self) -> bool {
        matches!(
            self,
            DisconnectReason::Closed | DisconnectReason::ServerClosed(None)
        )
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Closed => f.write_str("closed by the client"),
            DisconnectReason::ClientError(e) => {
                write!(f, "closed by the client with an error: {e}")
            }
            DisconnectReason::TransportError(e) => write!(f, "transport error: {e}"),
            DisconnectReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::MessageTooLarge(e) => write!(f, "message too large: {e}"),
            DisconnectReason::ClientTimeout => {
                f.write_str("client timeout: the client sent nothing in time")
            }
            DisconnectReason::TransportTimeout => {
                f.write_str("no transport reconnected within the disconnect timeout")
            }
            DisconnectReason::ServerClosed(None) => f.write_str("closed by the server"),
            DisconnectReason::ServerClosed(Some(e)) => write!(f, "closed by the server: {e}"),
        }
    }
}

/// Why a hub's authorization hook ([`crate::hub::HubBuilder::authorize`]) refused a request: the status and
/// one-line reason of the HTTP answer to negotiate or to the transport request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub(crate) status: axum::http::StatusCode,
    pub(crate) reason: String,
}

impl Refusal {
    /// 401: no credentials, or credentials that do not identify anyone (the official client reports
    /// `Unauthorized: Status code '401'`). The answer carries `WWW-Authenticate: Bearer`.
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Refusal {
            status: axum::http::StatusCode::UNAUTHORIZED,
            reason: reason.into(),
        }
    }

    /// 403: the caller is known but may not use this hub.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Refusal {
            status: axum::http::StatusCode::FORBIDDEN,
            reason: reason.into(),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> axum::http::StatusCode {
        self.status
    }

    /// The reason given in the answer's body.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for Refusal {}
