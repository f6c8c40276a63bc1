//! Operational metrics in the Prometheus text format (version 0.0.4), served at an endpoint the app opts
//! into with [`Metrics::router`].
//!
//! [`Metrics`] is a small registry: counters, gauges and histograms the runtime (or the app) updates as
//! things happen, plus collectors that read values kept elsewhere (a circuit hub's counts, a hub's
//! connections, the Redis backplane's counters) when the endpoint is scraped. Updates are single atomic
//! operations, so instrumenting a hot path costs next to nothing; rendering takes one short lock.
//!
//! The format is written by hand: it is a few lines of text per metric, and a crate for it would bring
//! its own registry types into every build for what is here about 250 lines.
//!
//! ```no_run
//! # fn demo(hub: &tether::hub::Hub) -> axum::Router {
//! let metrics = tether::metrics::Metrics::new();
//! metrics.hub("chat", hub);
//! axum::Router::new().merge(metrics.router("/metrics"))
//! # }
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use parking_lot::Mutex;

/// Names of the circuit metrics the runtime keeps (`tether_circuit_*`), for code that updates them.
pub mod names {
    /// Circuits persisted to the store (eviction, shutdown, pause, write-behind).
    pub const CIRCUITS_PERSISTED: &str = "tether_circuits_persisted_total";
    /// Circuits resumed from the store.
    pub const CIRCUITS_RESUMED: &str = "tether_circuits_resumed_total";
    /// Resume attempts refused or failed (no entry, wrong claim, blob refused, store error).
    pub const CIRCUIT_RESUME_FAILURES: &str = "tether_circuit_resume_failures_total";
    /// Seconds a circuit store call took.
    pub const CIRCUIT_STORE_SECONDS: &str = "tether_circuit_store_seconds";
}

/// Bucket bounds (seconds) for store latencies: from a loopback Redis to a struggling one.
pub const STORE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A counter: only goes up. Cheap to clone; clones update the same value.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge: a value that goes up and down. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// The value now.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct HistogramState {
    bounds: Vec<f64>,
    /// One count per bound (not cumulative), then the overflow.
    counts: Vec<AtomicU64>,
    /// The sum of observations in nanoseconds.
    sum_nanos: AtomicU64,
}

/// A histogram of durations, with fixed bucket bounds in seconds. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramState>);

impl Histogram {
    fn new(bounds: &[f64]) -> Self {
        let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramState {
            bounds,
            counts,
            sum_nanos: AtomicU64::new(0),
        }))
    }

    /// Records one duration.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let s = &self.0;
        let slot = s
            .bounds
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(s.bounds.len());
        s.counts[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        s.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// What a collector writes into when the endpoint is scraped.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    fn head(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// Writes one counter sample (with its `# HELP`/`# TYPE` lines).
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.head(name, help, "counter");
        self.sample(name, labels, value);
    }

    /// Writes one gauge sample (with its `# HELP`/`# TYPE` lines).
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: i64) {
        self.head(name, help, "gauge");
        self.sample(name, labels, value);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramState) {
        self.head(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in h.bounds.iter().zip(&h.counts) {
            cumulative += count.load(Ordering::Relaxed);
            self.sample(&bucket, &[("le", &bound.to_string())], cumulative);
        }
        cumulative += h.counts[h.bounds.len()].load(Ordering::Relaxed);
        self.sample(&bucket, &[("le", "+Inf")], cumulative);
        let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], cumulative);
    }
}

enum Family {
    Counter(String, String, Counter),
    Gauge(String, String, Gauge),
    Histogram(String, String, Histogram),
}

type Collector = Box<dyn Fn(&mut Exposition) + Send + Sync>;

#[derive(Default)]
struct Registry {
    families: Mutex<Vec<Family>>,
    collectors: Mutex<Vec<Collector>>,
}

/// A metrics registry and its Prometheus endpoint. Cheap to clone; clones share the registry.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Keeps only what a Prometheus metric name allows (`[a-zA-Z_:][a-zA-Z0-9_:]*`), replacing the rest.
fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter `name`, created on first use (later calls return the same counter).
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let name = metric_name(name);
        let mut families = self.registry.families.lock();
        for f in families.iter() {
            if let Family::Counter(n, _, c) = f {
                if *n == name {
                    return c.clone();
                }
            }
        }
        let counter = Counter::default();
        families.push(Family::Counter(name, help.to_owned(), counter.clone()));
        counter
    }

    /// The gauge `name`, created on first use.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        let name = metric_name(name);
        let mut families = self.registry.families.lock();
        for f in families.iter() {
            if let Family::Gauge(n, _, g) = f {
                if *n == name {
                    return g.clone();
                }
            }
        }
        let gauge = Gauge::default();
        families.push(Family::Gauge(name, help.to_owned(), gauge.clone()));
        gauge
    }

    /// The duration histogram `name` with bucket bounds in seconds, created on first use (the bounds of
    /// the first call stay).
    pub fn histogram(&self, name: &str, help: &str, bounds: &[f64]) -> Histogram {
        let name = metric_name(name);
        let mut families = self.registry.families.lock();
        for f in families.iter() {
            if let Family::Histogram(n, _, h) = f {
                if *n == name {
                    return h.clone();
                }
            }
        }
        let histogram = Histogram::new(bounds);
        families.push(Family::Histogram(name, help.to_owned(), histogram.clone()));
        histogram
    }

    /// Adds a collector: it writes values kept elsewhere each time the endpoint is scraped.
    pub fn collect(&self, collector: impl Fn(&mut Exposition) + Send + Sync + 'static) {
        self.registry.collectors.lock().push(Box::new(collector));
    }

    /// A fresh set of the counters and latency histogram a circuit hub's persistence updates (see
    /// [`names`]); each hub keeps its own, exported by [`circuits`](Self::circuits).
    pub(crate) fn circuit_store(&self) -> CircuitStoreMetrics {
        CircuitStoreMetrics {
            persisted: self.counter(
                names::CIRCUITS_PERSISTED,
                "Circuits persisted to the store.",
            ),
            resumed: self.counter(names::CIRCUITS_RESUMED, "Circuits resumed from the store."),
            resume_failures: self.counter(
                names::CIRCUIT_RESUME_FAILURES,
                "Resume attempts that were refused or failed.",
            ),
            store_latency: self.histogram(
                names::CIRCUIT_STORE_SECONDS,
                "Seconds a circuit store call took.",
                STORE_BUCKETS,
            ),
        }
    }

    /// Exports a circuit hub's counts: active, connected and disconnected circuits; evicted, ended and
    /// rejected reconnects since start; and, when the hub persists circuits, the persisted, resumed and
    /// failed-resume counts and the store call latency ([`names`]).
    pub fn circuits(&self, circuits: &crate::circuit::CircuitHub) {
        let circuits = circuits.clone();
        self.collect(move |out| {
            if let Some(store) = circuits.store_metrics() {
                out.counter(
                    names::CIRCUITS_PERSISTED,
                    "Circuits persisted to the store.",
                    &[],
                    store.persisted.get(),
                );
                out.counter(
                    names::CIRCUITS_RESUMED,
                    "Circuits resumed from the store.",
                    &[],
                    store.resumed.get(),
                );
                out.counter(
                    names::CIRCUIT_RESUME_FAILURES,
                    "Resume attempts that were refused or failed.",
                    &[],
                    store.resume_failures.get(),
                );
                out.histogram(
                    names::CIRCUIT_STORE_SECONDS,
                    "Seconds a circuit store call took.",
                    &store.store_latency.0,
                );
            }
            let m = circuits.metrics();
            let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            out.gauge(
                "tether_circuits_active",
                "Circuits that exist now.",
                &[],
                gauge(m.active),
            );
            out.gauge(
                "tether_circuits_connected",
                "Circuits with a browser connected now.",
                &[],
                gauge(m.connected),
            );
            out.gauge(
                "tether_circuits_disconnected",
                "Circuits retained without a browser now.",
                &[],
                gauge(m.disconnected),
            );
            out.counter(
                "tether_circuits_evicted_total",
                "Circuits evicted since start.",
                &[],
                m.evicted,
            );
            out.counter(
                "tether_circuits_ended_total",
                "Circuits ended since start.",
                &[],
                m.ended,
            );
            out.counter(
                "tether_circuit_reconnects_rejected_total",
                "Reconnects answered false since start.",
                &[],
                m.rejected_reconnects,
            );
        });
    }

    /// Exports a hub's connections and messages, and its backplane's counters when it has one, labelled
    /// `hub="{name}"`.
    pub fn hub(&self, name: &str, hub: &crate::hub::Hub) {
        let (hub, name) = (hub.clone(), name.to_owned());
        self.collect(move |out| {
            let s = hub.stats();
            let labels = [("hub", name.as_str())];
            out.gauge(
                "tether_hub_connections",
                "Hub connections open on this server now.",
                &labels,
                i64::try_from(s.connections).unwrap_or(i64::MAX),
            );
            out.counter(
                "tether_hub_connections_total",
                "Hub connections opened since start.",
                &labels,
                s.connections_total,
            );
            out.counter(
                "tether_hub_messages_received_total",
                "Hub messages received from clients.",
                &labels,
                s.messages_received,
            );
            out.counter(
                "tether_hub_messages_sent_total",
                "Hub messages written to clients.",
                &labels,
                s.messages_sent,
            );
            if let Some(b) = s.backplane {
                backplane(out, &labels, &b);
            }
        });
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        for family in self.registry.families.lock().iter() {
            match family {
                Family::Counter(name, help, c) => out.counter(name, help, &[], c.get()),
                Family::Gauge(name, help, g) => out.gauge(name, help, &[], g.get()),
                Family::Histogram(name, help, h) => out.histogram(name, help, &h.0),
            }
        }
        for collector in self.registry.collectors.lock().iter() {
            collector(&mut out);
        }
        out.out
    }

    /// A router answering `GET path` with [`Metrics::render`]. Merge it into the app only where it
    /// should be reachable (an internal listener, or behind the proxy's access rules).
    pub fn router(&self, path: &str) -> Router {
        let metrics = self.clone();
        Router::new().route(
            path,
            get(move || {
                let body = metrics.render();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
    }
}

fn backplane(out: &mut Exposition, labels: &[(&str, &str)], b: &crate::hub::BackplaneStats) {
    let counters = [
        (
            "tether_backplane_published_total",
            "Frames published to the backplane.",
            b.published,
        ),
        (
            "tether_backplane_dropped_total",
            "Frames for other servers given up (backplane away too long, or the outbox full).",
            b.dropped,
        ),
        (
            "tether_backplane_publish_failures_total",
            "Publish attempts that failed and were retried.",
            b.publish_failures,
        ),
        (
            "tether_backplane_received_total",
            "Frames received from the backplane.",
            b.received,
        ),
        (
            "tether_backplane_malformed_total",
            "Received frames that did not decode.",
            b.malformed,
        ),
        (
            "tether_backplane_subscriber_reconnects_total",
            "Times the subscription was re-established.",
            b.subscriber_reconnects,
        ),
    ];
    for (name, help, value) in counters {
        out.counter(name, help, labels, value);
    }
    out.gauge(
        "tether_backplane_subscribed",
        "1 while the subscription is up.",
        labels,
        i64::from(b.subscribed),
    );
}

/// A circuit hub's persistence counters and store latency histogram
/// ([`CircuitHub::store_metrics`](crate::circuit::CircuitHub::store_metrics)).
#[derive(Debug, Clone)]
pub struct CircuitStoreMetrics {
    /// [`names::CIRCUITS_PERSISTED`].
    pub persisted: Counter,
    /// [`names::CIRCUITS_RESUMED`].
    pub resumed: Counter,
    /// [`names::CIRCUIT_RESUME_FAILURES`].
    pub resume_failures: Counter,
    /// [`names::CIRCUIT_STORE_SECONDS`].
    pub store_latency: Histogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_histograms() {
        let m = Metrics::new();
        m.counter("jobs_total", "Jobs done.").add(3);
        m.counter("jobs_total", "ignored: same counter").inc();
        m.gauge("queue depth", "Queued now.").set(-2);
        let h = m.histogram("took_seconds", "Time.", &[0.01, 0.001]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        m.collect(|out| out.gauge("x", "a \"quoted\" label", &[("hub", "a\"b")], 1));
        let text = m.render();
        let expected = "\
# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total 4
# HELP queue_depth Queued now.
# TYPE queue_depth gauge
queue_depth -2
# HELP took_seconds Time.
# TYPE took_seconds histogram
took_seconds_bucket{le=\"0.001\"} 1
took_seconds_bucket{le=\"0.01\"} 2
took_seconds_bucket{le=\"+Inf\"} 3
took_seconds_sum 1.0055
took_seconds_count 3
# HELP x a \"quoted\" label
# TYPE x gauge
x{hub=\"a\\\"b\"} 1
";
        assert_eq!(text, expected);
        assert_eq!(h.count(), 3);
    }
}
