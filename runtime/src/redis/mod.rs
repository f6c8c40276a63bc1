//! Redis integrations (cargo feature `redis`): [`RedisLifetimeManager`], a hub backplane over Redis
//! pub/sub, so `Clients::all`, groups, users, single connections and client results reach the connections
//! of every server that shares the Redis; and [`RedisCircuitStore`], persisted circuits any of those
//! servers can resume.
//!
//! Delivery is best effort, as with every pub/sub backplane: a message published while a server's
//! subscription is down (Redis restarting, a network cut) never reaches that server's connections. Such
//! losses are counted ([`BackplaneStats`]) and logged; the in-process path keeps working throughout. See
//! docs/scale-out.md.
//!
//! Layout: `wire.rs` (the frames on the channel, encoded and decoded once), `link.rs` (the publisher and
//! subscriber connections, their backoff and counters), `backplane.rs` (the lifetime manager), `store.rs`
//! (the circuit store).

mod backplane;
mod link;
mod store;
mod wire;

use std::fmt;

pub use crate::hub::BackplaneStats;
pub use backplane::RedisLifetimeManager;
pub use link::BackplaneOptions;
pub use store::{RedisCircuitStore, StoreOptions};

/// A Redis integration could not be set up.
#[derive(Debug)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    Url {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Created outside a Tokio runtime (it starts background tasks).
    NoRuntime,
}

impl RedisError {
    fn url(url: &str, e: redis::RedisError) -> Self {
        // A URL may carry a password: show only its scheme and host part.
        let shown = url.rsplit('@').next().unwrap_or(url).to_owned();
        RedisError::Url {
            url: shown,
            reason: e.to_string(),
        }
    }
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::Url { url, reason } => write!(f, "invalid Redis URL '{url}': {reason}"),
            RedisError::NoRuntime => {
                f.write_str("the Redis backplane must be created inside a Tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisError {}
