//! Circuit options and their defaults (the same defaults as Blazor Server's circuit options).

use std::time::Duration;

/// Limits and timeouts of the circuit runtime. `CircuitOptions::default()` gives the documented defaults;
/// change them with the builder methods, e.g. `CircuitOptions::default().retention_period(d)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CircuitOptions {
    /// Disconnected circuits kept for reconnection; beyond this the oldest is evicted. Default 100.
    pub max_retained_disconnected: usize,
    /// How long a disconnected circuit waits for its browser before it is evicted. Default 3 minutes.
    pub retention_period: Duration,
    /// How long a server-to-browser call waits for its answer. Default 1 minute.
    pub browser_call_timeout: Duration,
    /// Render batches sent but not yet acknowledged before rendering pauses. Default 10.
    pub max_unacknowledged_batches: usize,
    /// Send error details (panic messages, handler errors) to the browser in `T.Error`. Default off: the
    /// browser gets a generic message and the details go to the log.
    pub detailed_errors: bool,
    /// The largest reassembled `Chunked` call, in bytes. Default 1 MiB.
    pub max_chunked_call_size: usize,
    /// Bytes all `Chunked` calls of one connection may hold together while they are reassembled. Default
    /// 2 MiB (two calls of the largest size).
    pub max_chunked_bytes_per_connection: usize,
    /// How long a prerender descriptor can be used to start a circuit. Default 5 minutes.
    pub descriptor_lifetime: Duration,
    /// How many used descriptors are remembered (until they expire) to refuse replays. Default 100,000.
    pub max_remembered_descriptors: usize,
    /// How long a persisted circuit's sealed state can be resumed (checked inside the blob, whatever the
    /// store keeps). Default 2 hours; use the store's own retention or less.
    pub persisted_retention: Duration,
}

impl Default for CircuitOptions {
    fn default() -> Self {
        Self {
            max_retained_disconnected: 100,
            retention_period: Duration::from_secs(180),
            browser_call_timeout: Duration::from_secs(60),
            max_unacknowledged_batches: 10,
            detailed_errors: false,
            max_chunked_call_size: 1024 * 1024,
            max_chunked_bytes_per_connection: 2 * 1024 * 1024,
            descriptor_lifetime: Duration::from_secs(300),
            max_remembered_descriptors: 100_000,
            persisted_retention: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl CircuitOptions {
    /// Sets `max_retained_disconnected`.
    pub fn max_retained_disconnected(mut self, count: usize) -> Self {
        self.max_retained_disconnected = count;
        self
    }
    /// Sets `retention_period`.
    pub fn retention_period(mut self, period: Duration) -> Self {
        self.retention_period = period;
        self
    }
    /// Sets `browser_call_timeout`.
    pub fn browser_call_timeout(mut self, timeout: Duration) -> Self {
        self.browser_call_timeout = timeout;
        self
    }
    /// Sets `max_unacknowledged_batches` (at least 1).
    pub fn max_unacknowledged_batches(mut self, count: usize) -> Self {
        self.max_unacknowledged_batches = count.max(1);
        self
    }
    /// Sets `detailed_errors`.
    pub fn detailed_errors(mut self, on: bool) -> Self {
        self.detailed_errors = on;
        self
    }
    /// Sets `max_chunked_call_size`.
    pub fn max_chunked_call_size(mut self, bytes: usize) -> Self {
        self.max_chunked_call_size = bytes;
        self
    }
    /// Sets `max_chunked_bytes_per_connection`.
    pub fn max_chunked_bytes_per_connection(mut self, bytes: usize) -> Self {
        self.max_chunked_bytes_per_connection = bytes;
        self
    }
    /// Sets `persisted_retention`.
    pub fn persisted_retention(mut self, retention: Duration) -> Self {
        self.persisted_retention = retention;
        self
    }
    /// Sets `descriptor_lifetime`.
    pub fn descriptor_lifetime(mut self, lifetime: Duration) -> Self {
        self.descriptor_lifetime = lifetime;
        self
    }
}
