//! Run with `cargo run -p counter`; serves a prerendered counter at `/` on `$ADDR` (default 127.0.0.1:5000).
//!
//! The page shows the count in `#count`; the button `#increment` adds one. `/?start=N` starts at N.
//!
//! Environment (all optional; short values make tests fast): `ADDR`; `TETHER_HUB_PATH` (`/_tether`);
//! `TETHER_RETENTION_MS` (180000), `TETHER_MAX_RETAINED` (100), `TETHER_MAX_UNACKED` (10),
//! `TETHER_DESCRIPTOR_LIFETIME_MS` (300000), `TETHER_DETAILED_ERRORS` (`1` turns them on);
//! `TETHER_IDLE_MS` (idle circuits are logged after this long; off when unset).
//!
//! Persistence (docs/persistence.md, docs/scale-out.md): `TETHER_REDIS_URL` puts persisted circuits in
//! Redis (else in memory); `TETHER_PERSISTENCE_KEY` (`ID:HEX`, a key id and 64 hex digits, e.g.
//! `1:$(openssl rand -hex 32)`, or the 64 hex digits alone for id 1) seals them, the same on every server sharing the store (else a random
//! key: only this process can resume them); `TETHER_RETIRED_PERSISTENCE_KEYS` (comma-separated `ID:HEX`)
//! still open circuits sealed before a rotation; `TETHER_WRITE_BEHIND_MS` (1000, Redis only; `0` turns
//! write-behind off). `TETHER_METRICS=1` serves Prometheus metrics at `/metrics`.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use counter::page;
use tether::circuit::{
    CircuitHandlers, CircuitHub, CircuitOptions, CircuitTracker, IdleCircuitHandler, IdleOptions,
    InMemoryCircuitStore, PersistenceKey,
};
use tether::metrics::Metrics;
use tether::redis::{RedisCircuitStore, StoreOptions};
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
    let mut builder = match std::env::var("TETHER_REDIS_URL") {
        Ok(url) => {
            let mut store = StoreOptions::default();
            if let Some(interval) = env_ms("TETHER_WRITE_BEHIND_MS") {
                store.write_behind = (!interval.is_zero()).then_some(interval);
            }
            builder.persistence(
                RedisCircuitStore::with_options(&url, store).map_err(std::io::Error::other)?,
            )
        }
        Err(_) => builder.persistence(InMemoryCircuitStore::default()),
    };
    if let Ok(key) = std::env::var("TETHER_PERSISTENCE_KEY") {
        let key: PersistenceKey = key.parse().map_err(std::io::Error::other)?;
        builder = builder.persistence_key(key);
    }
    if let Ok(keys) = std::env::var("TETHER_RETIRED_PERSISTENCE_KEYS") {
        for key in keys.split(',').filter(|k| !k.trim().is_empty()) {
            let key: PersistenceKey = key.parse().map_err(std::io::Error::other)?;
            builder = builder.retired_persistence_key(key);
        }
    }
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
    let app = if std::env::var("TETHER_METRICS").as_deref() == Ok("1") {
        let metrics = Metrics::new();
        metrics.circuits(&hub);
        app.merge(metrics.router("/metrics"))
    } else {
        app
    };
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:5000".to_owned());
    let listener = tether::hub::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // SIGTERM / Ctrl-C: every live circuit is persisted and its tab told to resume.
    tether::circuit::serve_until_signal(listener, app, hub).await
}
