//! Run with `cargo run -p counter`; serves a prerendered counter at `/` on `$ADDR` (default 127.0.0.1:5000).
//!
//! The page shows the count in `#count`; the button `#increment` adds one. `/?start=N` starts at N.
//!
//! Environment (all optional; short values make tests fast): `ADDR`; `TETHER_HUB_PATH` (`/_tether`);
//! `TETHER_RETENTION_MS` (180000), `TETHER_MAX_RETAINED` (100), `TETHER_MAX_UNACKED` (10),
//! `TETHER_DESCRIPTOR_LIFETIME_MS` (300000), `TETHER_DETAILED_ERRORS` (`1` turns them on);
//! `TETHER_IDLE_MS` (idle circuits are logged after this long; off when unset).

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use counter::page;
use tether::circuit::{
    CircuitHandlers, CircuitHub, CircuitOptions, CircuitTracker, IdleCircuitHandler, IdleOptions,
    InMemoryCircuitStore,
};
use tether_components::ComponentRegistry;

fn env_ms(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Logs go to stderr: stdout carries only the `listening on` line that test harnesses wait for.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut components = ComponentRegistry::new();
    counter::register(&mut components);

    let mut options = CircuitOptions::default();
    if let Some(retention) = env_ms("TETHER_RETENTION_MS") {
        options = options.retention_period(retention);
    }
    if let Some(count) = env_usize("TETHER_MAX_RETAINED") {
        options = options.max_retained_disconnected(count);
    }
    if let Some(count) = env_usize("TETHER_MAX_UNACKED") {
        options = options.max_unacknowledged_batches(count);
    }
    if let Some(lifetime) = env_ms("TETHER_DESCRIPTOR_LIFETIME_MS") {
        options = options.descriptor_lifetime(lifetime);
    }
    options =
        options.detailed_errors(std::env::var("TETHER_DETAILED_ERRORS").as_deref() == Ok("1"));

    let tracker = std::sync::Arc::new(CircuitTracker::new());
    let mut handlers = CircuitHandlers::new().shared_arc(tracker.clone());
    if let Some(timeout) = env_ms("TETHER_IDLE_MS") {
        handlers = handlers.shared(IdleCircuitHandler::new(
            IdleOptions::default().timeout(timeout),
            |_| {},
        ));
    }
    let path = std::env::var("TETHER_HUB_PATH")
        .unwrap_or_else(|_| tether::circuit::DEFAULT_HUB_PATH.to_owned());
    let builder = CircuitHub::builder(components)
        .path(&path)
        .options(options)
        .handlers(handlers);
    // Evicted, paused and shut-down circuits wait in the store to be resumed (docs/persistence.md): in
    // Redis when TETHER_REDIS_URL is set (shared by every server using it, docs/scale-out.md), else here.
    let builder = match std::env::var("TETHER_REDIS_URL") {
        Ok(url) => builder.persistence(
            tether::redis::RedisCircuitStore::new(&url).map_err(std::io::Error::other)?,
        ),
        Err(_) => builder.persistence(InMemoryCircuitStore::default()),
    };
    let hub = builder.build().map_err(std::io::Error::other)?;

    let app = Router::new()
        .route("/", get(page))
        // No icon: answer without an error so browsers log nothing.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .with_state(hub.clone())
        .merge(hub.router());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:5000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // SIGTERM / Ctrl-C: every live circuit is persisted and its tab told to resume.
    tether::circuit::serve_until_signal(listener, app, hub).await
}
