//! The HTTP/1.1 server under [`serve`]: an accept loop that bounds what a client can hold before it sends a
//! request (Kestrel's defaults: 30 s for a request head, 32 KiB of headers), and backs off when accepting
//! fails (out of file descriptors) instead of logging in a loop.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower_service::Service;

/// Limits of the HTTP server run by [`serve_with`]. `ServeOptions::default()` gives the documented defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// A client must send each request head (request line and headers) within this time, or its connection
    /// is closed; an idle keep-alive connection is closed after it too. Stops slow-header (slowloris)
    /// clients from holding sockets. Default 30 s, as Kestrel.
    pub header_read_timeout: Duration,
    /// The largest request head in bytes; a bigger one is answered 431. Default 64 KiB.
    pub max_header_size: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
            max_header_size: 64 * 1024,
        }
    }
}

impl ServeOptions {
    /// Sets `header_read_timeout`.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets `max_header_size` (at least 8 KiB is used).
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = bytes;
        self
    }
}

/// The listen backlog [`bind`] asks for; Linux caps it at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener for [`serve`] on the first address `addr` resolves to, with a listen backlog of 4096
/// (capped by the system) instead of the 128 of `tokio::net::TcpListener::bind`: when a server shuts down
/// and its tabs resume on this one, or a proxy sends a burst, a thousand connections arrive within
/// milliseconds, and a full backlog drops their SYNs, which the clients resend only after a second.
pub async fn bind(
    addr: impl tokio::net::ToSocketAddrs,
) -> std::io::Result<tokio::net::TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std and tokio do on Unix: a restarted server can bind its port while old connections linger.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(addr) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// Serves `router` on `listener` with the default [`ServeOptions`], `TCP_NODELAY` on every accepted socket
/// (hub frames are small and latency-bound) and the peer address available to hubs
/// ([`crate::hub::HubContext::remote_addr`]). Runs until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    serve_with(listener, router, ServeOptions::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    options: ServeOptions,
) -> std::io::Result<()> {
    let head_limit = options.max_header_size.max(8 * 1024);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_header_size(head_limit)
        .max_buf_size(head_limit);
    let mut backoff = AcceptBackoff::default();
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY: {e}");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let mut router = router.clone();
            async move { Ok::<_, Infallible>(router.call(request).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = http
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(%remote, "HTTP connection ended: {e}");
            }
        });
    }
}

/// Paces a failing accept loop: waits 5 ms after the first failure, doubling up to 1 s, and logs one line per
/// run of failures (plus one when accepting works again) instead of one per attempt.
#[derive(Default)]
struct AcceptBackoff {
    failures: u64,
    delay: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    async fn failed(&mut self, error: &std::io::Error) {
        use std::io::ErrorKind;
        // Errors about one connection (reset before it was accepted) say nothing about the listener.
        if matches!(
            error.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            return;
        }
        if self.failures == 0 {
            tracing::error!(
                "accepting a connection failed: {error}; retrying with backoff up to {:?} (logged once until \
                 accepting works again)",
                Self::MAX
            );
        }
        self.failures += 1;
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MAX);
        tokio::time::sleep(self.delay).await;
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::warn!(
                "accepting connections again after {} failed attempts",
                self.failures
            );
        }
        self.failures = 0;
        self.delay = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn accept_failures_back_off_up_to_a_second() {
        let mut backoff = AcceptBackoff::default();
        let emfile = std::io::Error::from_raw_os_error(24);
        let start = tokio::time::Instant::now();
        for _ in 0..12 {
            backoff.failed(&emfile).await;
        }
        // 5 + 10 + ... + 640 ms, then 1 s each: far from a tight loop, never more than a second apart.
        assert_eq!(backoff.delay, AcceptBackoff::MAX);
        assert!(start.elapsed() > Duration::from_secs(5));
        backoff.succeeded();
        assert_eq!(backoff.failures, 0);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        backoff.failed(&reset).await;
        assert_eq!(backoff.failures, 0);
    }
}
