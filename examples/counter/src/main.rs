//! Run with `cargo run -p counter`; serves a prerendered counter at `/` on `$ADDR` (default 127.0.0.1:5000).
//!
//! The page shows the count in `#count`; the button `#increment` adds one. `/?start=N` starts at N.
//!
//! Environment (all optional; short values make tests fast): `ADDR`; `TETHER_HUB_PATH` (`/_tether`);
//! `TETHER_RETENTION_MS` (180000), `TETHER_MAX_RETAINED` (100), `TETHER_MAX_UNACKED` (10),
//! `TETHER_DESCRIPTOR_LIFETIME_MS` (300000), `TETHER_DETAILED_ERRORS` (`1` turns them on);
//! `TETHER_IDLE_MS` (idle circuits are logged after this long; off when unset);
//! `TETHER_REDIS_URL` (persisted circuits in Redis instead of in memory), `TETHER_WRITE_BEHIND_MS` (Redis
//! write-behind interval, 1000; `0` turns it off), `TETHER_PERSISTENCE_KEY` (64 hex digits: the key that
//! seals persisted circuits, the same on every server sharing the store; random per process when unset).

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use counter::page;
use tether::circuit::{
    CircuitHandlers, CircuitHub, CircuitOptions, CircuitTracker, IdleCircuitHandler, IdleOptions,
    InMemoryCircuitStore, PersistenceKey,
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

/// A persistence key from 64 hex digits (key id 1).
fn persistence_key(hex: &str) -> std::io::Result<PersistenceKey> {
    let invalid = || std::io::Error::other("TETHER_PERSISTENCE_KEY must be 64 hex digits");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(invalid());
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
    }
    Ok(PersistenceKey::from_bytes(1, key))
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
        Ok(url) => {
            let mut store = tether::redis::StoreOptions::default();
            if let Some(interval) = env_ms("TETHER_WRITE_BEHIND_MS") {
                store.write_behind = (!interval.is_zero()).then_some(interval);
            }
            builder.persistence(
                tether::redis::RedisCircuitStore::with_options(&url, store)
                    .map_err(std::io::Error::other)?,
            )
        }
        Err(_) => builder.persistence(InMemoryCircuitStore::default()),
    };
    let builder = match std::env::var("TETHER_PERSISTENCE_KEY") {
        Ok(hex) => builder.persistence_key(persistence_key(&hex)?),
        Err(_) => builder,
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
    let listener = tether::hub::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // SIGTERM / Ctrl-C: every live circuit is persisted and its tab told to resume.
    tether::circuit::serve_until_signal(listener, app, hub).await
}
