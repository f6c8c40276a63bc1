//! Hub options with their defaults, and the cross-origin policy.

use std::time::Duration;

/// The transports a hub endpoint accepts. All three are enabled by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// WebSockets (`GET` with an upgrade), with or without negotiate.
    pub web_sockets: bool,
    /// Server-Sent Events (`GET` with `Accept: text/event-stream`, sends as `POST`).
    pub server_sent_events: bool,
    /// Long polling (`GET` polls, `POST` sends, `DELETE` ends).
    pub long_polling: bool,
}

impl Transports {
    /// Every transport.
    pub const ALL: Transports = Transports {
        web_sockets: true,
        server_sent_events: true,
        long_polling: true,
    };

    /// WebSockets only.
    pub const WEB_SOCKETS: Transports = Transports {
        web_sockets: true,
        server_sent_events: false,
        long_polling: false,
    };
}

impl Default for Transports {
    fn default() -> Self {
        Transports::ALL
    }
}

/// Which `Origin`s may call the hub from a browser: checked on negotiate and on every transport request, and
/// answered with CORS headers. Requests without an `Origin` header (non-browser clients) are always allowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// Only pages served from the same scheme, host and port as the hub: the `Host` header, and `http` unless
    /// the request says otherwise (an absolute URI, or `X-Forwarded-Proto` from a TLS-terminating proxy). The
    /// default: it is what stops cross-site WebSocket hijacking when the hub trusts cookies.
    #[default]
    SameOrigin,
    /// Any origin. Cannot be combined with [`HubOptions::allow_credentials`].
    Any,
    /// Exactly these origins (`scheme://host[:port]`, compared case-insensitively), plus the same origin.
    List(Vec<String>),
}

/// Options of one hub endpoint. Build with `HubOptions::default()` and change fields; every default below is
/// what a hub gets when the field is left alone.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Send a Ping when the server has sent nothing for this long. Default 15 s. Keep it equal to the client's
    /// keep-alive and at most half of the client's server timeout (30 s by default).
    pub keep_alive_interval: Duration,
    /// Close a connection that sent nothing for this long, counted from the handshake (the official clients
    /// ping on their own keep-alive). Long polling is exempt: its polls are its keep-alive, and a connection
    /// with no poll ends after `disconnect_timeout`. It is also the write timeout: a write the client does not
    /// take within it ends the connection. Default 30 s (twice the keep-alive).
    pub client_timeout: Duration,
    /// Close a connection that has not completed the handshake within this time. Default 15 s.
    pub handshake_timeout: Duration,
    /// Largest hub message accepted, in bytes. A bigger one closes the connection with a Close message that
    /// names this limit (messages received before it are still processed). Default 32 KiB.
    pub max_receive_message_size: usize,
    /// Largest WebSocket message or `POST` body, which may carry any number of hub messages (the official
    /// clients batch queued sends). It bounds the client input a connection holds before handling it; a
    /// bigger one closes the connection (WebSockets) or is answered 413 (`POST`). Default 1 MiB.
    pub max_receive_batch_size: usize,
    /// How many invocations of one connection run at once; further ones wait in arrival order. Default 1.
    /// Raise it when hub methods await client results or long work while the client keeps calling.
    pub max_parallel_invocations: usize,
    /// Invocations that may wait for a parallel-invocation slot. When this many wait, the connection stops
    /// reading from the client until one starts (backpressure). Default 32.
    pub max_waiting_invocations: usize,
    /// Items buffered per stream (each direction) before the producer waits. Default 10. For a
    /// client-to-server stream the producer is the client: when the buffer is full the connection stops
    /// reading from the client until the hub method takes an item (outbound messages still flow).
    pub stream_buffer_capacity: usize,
    /// Send the detail of internal hub method errors to clients. Default false (a generic message is sent and
    /// the detail is logged).
    pub detailed_errors: bool,
    /// Messages queued per connection for sending before [`crate::hub::Caller::send`] reports the queue full.
    /// Default 256.
    pub outbound_queue_capacity: usize,
    /// Enabled transports. Default: all three.
    pub transports: Transports,
    /// Allow stateful reconnect when a client asks for it in negotiate. Default false.
    pub allow_stateful_reconnect: bool,
    /// Bytes of sent-but-unacknowledged messages kept for replay; when full, sending waits for acks.
    /// Default 100,000.
    pub stateful_reconnect_buffer_size: usize,
    /// How long a connection without an active transport (between long polls, a dropped stateful-reconnect
    /// socket, or negotiated but never connected) is kept before it is disposed. Default 15 s.
    pub disconnect_timeout: Duration,
    /// How long a long poll waits for data before answering 200 with an empty body. Default 90 s.
    pub long_poll_timeout: Duration,
    /// Bytes a long-polling connection holds for its next poll; when full, sending waits for a poll (and a
    /// write that waits longer than `client_timeout` ends the connection). A single larger message still
    /// goes out whole. Default 1 MiB.
    pub long_poll_buffer_size: usize,
    /// Connections negotiated or opened but not yet past the hub handshake. Past it, negotiate and new
    /// transports are answered 503, so half-open connections cannot use up the server. Default 10,000.
    pub max_pending_handshakes: usize,
    /// Bytes of the starting request's headers kept for hub code ([`crate::hub::HubContext::headers`]);
    /// headers past it are dropped in arrival order. Default 32 KiB (Kestrel's default total header size).
    pub max_request_headers_kept: usize,
    /// Warnings a client can cause on its connection per minute (unknown methods, failed fire-and-forget
    /// calls, stray stream items); further ones are counted and summarised in one line. Default 10.
    pub max_client_warnings_per_minute: u32,
    /// Browser origins allowed to call the hub. Default [`AllowedOrigins::SameOrigin`].
    pub allowed_origins: AllowedOrigins,
    /// Answer CORS requests with `Access-Control-Allow-Credentials: true` (cookies, HTTP auth). Default false.
    /// Only valid with explicit origins: [`AllowedOrigins::Any`] plus credentials is refused at build time.
    pub allow_credentials: bool,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            keep_alive_interval: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            max_receive_message_size: 32 * 1024,
            max_receive_batch_size: 1024 * 1024,
            max_parallel_invocations: 1,
            max_waiting_invocations: 32,
            stream_buffer_capacity: 10,
            detailed_errors: false,
            outbound_queue_capacity: 256,
            transports: Transports::ALL,
            allow_stateful_reconnect: false,
            stateful_reconnect_buffer_size: 100_000,
            disconnect_timeout: Duration::from_secs(15),
            long_poll_timeout: Duration::from_secs(90),
            long_poll_buffer_size: 1024 * 1024,
            max_pending_handshakes: 10_000,
            max_request_headers_kept: 32 * 1024,
            max_client_warnings_per_minute: 10,
            allowed_origins: AllowedOrigins::SameOrigin,
            allow_credentials: false,
        }
    }
}

impl HubOptions {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.allow_credentials && self.allowed_origins == AllowedOrigins::Any {
            return Err("allow_credentials cannot be combined with AllowedOrigins::Any: any site could then \
                        call the hub with the user's cookies; list the allowed origins explicitly"
                .into());
        }
        if let AllowedOrigins::List(list) = &self.allowed_origins {
            if let Some(bad) = list.iter().find(|o| o.as_str() == "*") {
                if self.allow_credentials {
                    return Err(format!(
                        "allowed origin {bad:?} with allow_credentials is any-origin with credentials; list \
                         the allowed origins explicitly"
                    ));
                }
            }
        }
        if self.max_parallel_invocations == 0 {
            return Err("max_parallel_invocations must be at least 1".into());
        }
        if self.max_receive_batch_size < self.max_receive_message_size {
            return Err(
                "max_receive_batch_size must be at least max_receive_message_size: a batch carries whole messages"
                    .into(),
            );
        }
        if self.max_waiting_invocations == 0 || self.max_pending_handshakes == 0 {
            return Err(
                "max_waiting_invocations and max_pending_handshakes must be at least 1".into(),
            );
        }
        if self.outbound_queue_capacity == 0 || self.stream_buffer_capacity == 0 {
            return Err(
                "outbound_queue_capacity and stream_buffer_capacity must be at least 1".into(),
            );
        }
        if !(self.transports.web_sockets
            || self.transports.server_sent_events
            || self.transports.long_polling)
        {
            return Err("at least one transport must be enabled".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_origin_with_credentials_is_refused() {
        let options = HubOptions {
            allowed_origins: AllowedOrigins::Any,
            allow_credentials: true,
            ..HubOptions::default()
        };
        assert!(options
            .validate()
            .unwrap_err()
            .contains("AllowedOrigins::Any"));
        assert!(HubOptions::default().validate().is_ok());
    }
}
