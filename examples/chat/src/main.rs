//! Run with `cargo run -p chat`; serves a chat hub at `/chathub` on `$ADDR` (default 127.0.0.1:5000), and
//! the chat room page (src/room.rs) at `/`.
//!
//! Hub methods (client → server):
//! - `SendMessage(user, message)`: broadcasts `ReceiveMessage(user, message)` to every connection.
//! - `Echo(value)`: returns any JSON value unchanged.
//! - `NotifyMe(text)`: sends `Notify(text)` back to the caller (a server-to-client invocation), returns null.
//! - `AskClient(method, argument)`: invokes client method `method(argument)` as a client result and returns
//!   what the client answered (timeout `TETHER_CLIENT_RESULT_MS`, default 5000).
//! - `Counter(count, delayMs)`: a server-to-client stream of `0..count`, one item every `delayMs`.
//! - `CounterWithDrop(count, dropAt)`: streams `0..count`; right after item `dropAt` is queued it cuts the
//!   caller's socket without a Close (a simulated network failure, for stateful-reconnect tests).
//! - `Ticker(delayMs)`: an endless stream of `0, 1, 2, …`; when it ends (the client cancelled it) the hub
//!   sends `TickerStopped()` to the caller, so tests can see the cancellation reach the server.
//! - `Sum(stream)`: adds up the numbers of a client-to-server stream.
//! - `SumAfter(delayMs, stream)`: the same, but starts reading the stream only after `delayMs` (a consumer
//!   slower than the client, so items pile up beyond the stream buffer of 10).
//! - `JoinGroup(group)`, `SendToGroup(group, message)`: group membership and `GroupMessage(group, message)`.
//! - `AddToGroup(connectionId, group)`: puts any connection (on any server, with the backplane) in a group.
//! - `SendToUser(user, message)`: sends `UserMessage(message)` to every connection of `user`.
//! - `AskConnection(connectionId, method, argument)`: a client result from another connection (on any
//!   server, with the backplane).
//! - `Fail()`: always fails with an internal error (the client sees the generic message).
//!
//! Environment (all optional; short values make tests fast):
//! `ADDR`, `TETHER_KEEPALIVE_MS` (15000), `TETHER_CLIENT_TIMEOUT_MS` (30000), `TETHER_HANDSHAKE_TIMEOUT_MS`
//! (15000), `TETHER_MAX_MESSAGE_BYTES` (32768), `TETHER_DISCONNECT_TIMEOUT_MS` (15000),
//! `TETHER_PARALLEL_INVOCATIONS` (4, so `AskClient` can run while the client calls), `TETHER_CLIENT_RESULT_MS`.
//! `TETHER_ALLOWED_ORIGINS`: a comma-separated list of allowed browser origins (default: any origin).
//! Stateful reconnect is allowed. Credentials are not allowed cross-origin.
//! `TETHER_REDIS_URL` (e.g. `redis://127.0.0.1:6379`): when set, the hub fans out through the Redis
//! backplane, so several chat processes sharing that Redis are one chat; without it nothing changes.
//!
//! `TETHER_METRICS`: when set, metrics of the hub (connections, messages, backplane) and of the room page's
//! circuits are served in the Prometheus text format at `/metrics`.
//!
//! A connection's user is the `X-Chat-User` request header: a demo identity the client simply claims, so
//! user messages can be shown without a sign-in. A real app takes the user from its authentication.
//!
//! `/testhub` (src/testhub.rs) serves the methods of Microsoft's SignalR client functional tests, for the
//! compatibility tests in tests/node/parity.test.mjs (with `/testhub-nowebsockets`, `/uncreatable` and
//! `/generateJwtToken` as in that suite's server), `/authorizedhub` an `Echo` hub behind a bearer
//! token check (`let-me-in`), and `/echo` a raw connection handler (no hub protocol) that sends every
//! message back, for tests/node/connection_handler.test.mjs.

mod testhub;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tether::hub::{AllowedOrigins, Caller, ClientStream, Hub, HubContext, HubError, HubOptions};

/// Tells the caller its ticker stream ended, when the stream is dropped.
struct TickerGuard(Caller);

impl Drop for TickerGuard {
    fn drop(&mut self) {
        // The connection may be gone already; then nobody is waiting for the notice.
        let _ = self.0.send("TickerStopped", ());
    }
}

fn env_ms(name: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Adds up the numbers of client-to-server streams.
async fn sum_streams(streams: Vec<ClientStream>) -> Result<f64, HubError> {
    let mut total = 0.0;
    for mut stream in streams {
        while let Some(item) = stream.next().await {
            total += item?
                .as_f64()
                .ok_or_else(|| HubError::new("Sum takes numbers"))?;
        }
    }
    Ok(total)
}

/// The hub options both hubs of this example share, from the environment.
fn hub_options() -> HubOptions {
    HubOptions {
        keep_alive_interval: env_ms("TETHER_KEEPALIVE_MS", 15_000),
        client_timeout: env_ms("TETHER_CLIENT_TIMEOUT_MS", 30_000),
        handshake_timeout: env_ms("TETHER_HANDSHAKE_TIMEOUT_MS", 15_000),
        disconnect_timeout: env_ms("TETHER_DISCONNECT_TIMEOUT_MS", 15_000),
        max_receive_message_size: env_usize("TETHER_MAX_MESSAGE_BYTES", 32 * 1024),
        max_parallel_invocations: env_usize("TETHER_PARALLEL_INVOCATIONS", 4),
        allow_stateful_reconnect: true,
        allowed_origins: match std::env::var("TETHER_ALLOWED_ORIGINS") {
            Ok(list) => {
                AllowedOrigins::List(list.split(',').map(|o| o.trim().to_owned()).collect())
            }
            Err(_) => AllowedOrigins::Any,
        },
        ..HubOptions::default()
    }
}

fn chat_hub() -> Hub {
    let options = hub_options();
    let client_result_timeout = env_ms("TETHER_CLIENT_RESULT_MS", 5_000);
    let mut builder = Hub::builder().options(options);
    if let Ok(url) = std::env::var("TETHER_REDIS_URL") {
        tracing::info!("chat hub: fan-out through the Redis backplane");
        builder = builder.redis_backplane(&url, "chat");
    }
    builder
        .user_id(|headers| {
            headers
                .get("x-chat-user")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .method(
            "SendMessage",
            |ctx: HubContext, (user, message): (String, String)| async move {
                chat::post(&user, &message, chat::Origin::Hub);
                ctx.clients()
                    .all()
                    .send("ReceiveMessage", (user, message))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method("Echo", |_ctx: HubContext, (value,): (Value,)| async move {
            Ok::<_, HubError>(value)
        })
        .method(
            "NotifyMe",
            |ctx: HubContext, (text,): (String,)| async move {
                ctx.caller()
                    .send("Notify", (text,))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method(
            "AskClient",
            move |ctx: HubContext, (method, argument): (String, Value)| async move {
                let answer: Value = ctx
                    .caller()
                    .invoke(&method, (argument,), client_result_timeout)
                    .await
                    .map_err(|e| HubError::new(e.to_string()))?;
                Ok::<_, HubError>(answer)
            },
        )
        .stream_method(
            "Counter",
            |_ctx: HubContext, (count, delay_ms): (u64, u64)| {
                futures_util::stream::iter(0..count).then(move |i| async move {
                    if delay_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    }
                    Ok::<_, HubError>(i)
                })
            },
        )
        .stream_method(
            "CounterWithDrop",
            |ctx: HubContext, (count, drop_at): (u64, u64)| {
                let caller = ctx.caller();
                futures_util::stream::iter(0..count).map(move |i| {
                    if i == drop_at + 1 {
                        caller.abort();
                    }
                    Ok::<_, HubError>(i)
                })
            },
        )
        .stream_method("Ticker", |ctx: HubContext, (delay_ms,): (u64,)| {
            let guard = TickerGuard(ctx.caller());
            futures_util::stream::unfold((guard, 0u64), move |(guard, i)| async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                Some((Ok::<_, HubError>(i), (guard, i + 1)))
            })
        })
        .upload_method(
            "Sum",
            |_ctx: HubContext, (): (), streams: Vec<ClientStream>| sum_streams(streams),
        )
        .upload_method(
            "SumAfter",
            |_ctx: HubContext, (delay_ms,): (u64,), streams: Vec<ClientStream>| async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                sum_streams(streams).await
            },
        )
        .method(
            "JoinGroup",
            |ctx: HubContext, (group,): (String,)| async move {
                ctx.add_to_group(&group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToGroup",
            |ctx: HubContext, (group, message): (String, String)| async move {
                ctx.clients()
                    .group(&group)
                    .send("GroupMessage", (group.as_str(), message))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method(
            "AddToGroup",
            |ctx: HubContext, (connection_id, group): (String, String)| async move {
                ctx.clients().add_to_group(&connection_id, &group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToUser",
            |ctx: HubContext, (user, message): (String, String)| async move {
                ctx.clients()
                    .user(&user)
                    .send("UserMessage", (message,))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method(
            "AskConnection",
            move |ctx: HubContext, (connection_id, method, argument): (String, String, Value)| async move {
                let answer: Value = ctx
                    .clients()
                    .client(&connection_id)
                    .invoke(&method, (argument,), client_result_timeout)
                    .await
                    .map_err(|e| HubError::new(e.to_string()))?;
                Ok::<_, HubError>(answer)
            },
        )
        .method("Fail", |_ctx: HubContext, (): ()| async move {
            Err::<(), _>(HubError::internal("the Fail method always fails"))
        })
        .on_disconnected(|ctx: HubContext, reason| async move {
            tracing::info!(connection_id = ctx.connection_id(), %reason, "chat client left");
        })
        .build()
        .expect("the chat hub configuration is valid (TETHER_REDIS_URL, if set, is a redis:// URL)")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let hub = chat_hub();
    // The chat room page at `/` (src/room.rs); what its pages say reaches the hub's clients too.
    let mut room = showcase_kit::Server::new();
    let routes = chat::install(&mut room);
    room.mount("/", routes);
    let (circuits, pages) = room.build().map_err(std::io::Error::other)?;
    let (clients, mut said) = (hub.clients(), chat::subscribe());
    tokio::spawn(async move {
        while let Ok(m) = said.recv().await {
            if m.origin == chat::Origin::Page {
                let _ = clients.all().send("ReceiveMessage", (m.user, m.text));
            }
        }
    });
    let mut app = axum::Router::new()
        .merge(hub.router("/chathub"))
        .merge(testhub::test_routes(hub_options()))
        .merge(testhub::uncreatable_hub(hub_options()).router("/uncreatable"))
        .merge(testhub::authorized_hub(hub_options()).router("/authorizedhub"))
        .merge(testhub::echo(hub_options()).router("/echo"))
        .merge(pages);
    if std::env::var_os("TETHER_METRICS").is_some() {
        let metrics = tether::metrics::Metrics::new();
        metrics.hub("chat", &hub);
        metrics.circuits(&circuits);
        app = app.merge(metrics.router("/metrics"));
    }
    // Hub paths match in any letter case, as ASP.NET Core routes them (`/ChatHub` is `/chathub`).
    let app =
        tether::hub::ignore_path_case(app, ["/chathub", "/testhub", "/authorizedhub", "/echo"]);
    let listener = tether::hub::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    tether::hub::serve(listener, app).await
}
