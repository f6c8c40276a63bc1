//! The two connections a backplane keeps to Redis, each owned by one task: the publisher (a
//! `ConnectionManager`, pipelining whatever is queued) and the subscriber (a dedicated pub/sub connection,
//! re-established in a loop).
//!
//! Invariants: neither task ever panics or spins on a dead Redis. Every failure is logged (the first of a
//! streak at once, then at most every [`LOG_EVERY`]) and counted in [`Counters`], and every retry waits an
//! exponential backoff capped at [`MAX_BACKOFF`]. Frames queued while Redis is away wait up to
//! [`BackplaneOptions::max_publish_delay`], then are dropped and counted; the outbox is bounded
//! ([`BackplaneOptions::outbox_capacity`]), and a full one drops (and counts) instead of blocking hub code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Retries back off up to this long.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A failing link logs at most this often (besides the first failure and the recovery).
const LOG_EVERY: Duration = Duration::from_secs(10);
/// The subscriber pings this often, so a silent network (no FIN, no RST) is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Limits of the Redis hub backplane, given to
/// [`RedisLifetimeManager::with_options`](super::RedisLifetimeManager::with_options) or
/// [`HubBuilder::redis_backplane_with_options`](crate::hub::HubBuilder::redis_backplane_with_options).
///
/// The defaults suit a Redis on the local network; docs/configuration.md says when to change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackplaneOptions {
    /// Frames waiting to be published, at most (default 10,000). A frame sent while the outbox is full is
    /// dropped and counted ([`super::BackplaneStats::dropped`]) rather than blocking the hub. Zero is
    /// treated as one.
    pub outbox_capacity: usize,
    /// How long a frame may wait while Redis is away (default 5 s); an older one is dropped and counted.
    pub max_publish_delay: Duration,
    /// At most this many frames go to Redis in one pipeline (default 512). Zero is treated as one.
    pub max_batch: usize,
    /// Connecting, and each command (publish, subscribe, ping), give up after this long (default 2 s).
    pub timeout: Duration,
}

impl Default for BackplaneOptions {
    fn default() -> Self {
        BackplaneOptions {
            outbox_capacity: 10_000,
            max_publish_delay: Duration::from_secs(5),
            max_batch: 512,
            timeout: Duration::from_secs(2),
        }
    }
}

/// What the backplane counts; read through [`super::BackplaneStats`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) subscriber_reconnects: AtomicU64,
    /// Whether the subscription is up; watchable, so readiness can be awaited.
    pub(crate) subscribed: watch::Sender<bool>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            received: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            subscriber_reconnects: AtomicU64::new(0),
            subscribed: watch::Sender::new(false),
        }
    }
}

/// A frame waiting for the publisher.
pub(crate) struct Outgoing {
    pub(crate) bytes: Vec<u8>,
    pub(crate) queued_at: Instant,
}

/// Logs the first failure of a streak, then at most every [`LOG_EVERY`], with how many were not logged.
#[derive(Default)]
struct Streak {
    failing_since: Option<Instant>,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl Streak {
    fn failed(&mut self, what: &str, error: &dyn std::fmt::Display) {
        let now = Instant::now();
        self.failing_since.get_or_insert(now);
        if self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
        {
            let unlogged = std::mem::take(&mut self.unlogged);
            tracing::warn!(
                "Redis backplane: {what} failed ({error}); retrying with backoff ({unlogged} more failures since the last warning)"
            );
            self.last_log = Some(now);
        } else {
            self.unlogged += 1;
        }
    }

    fn recovered(&mut self, what: &str) {
        if let Some(since) = self.failing_since.take() {
            tracing::info!(
                "Redis backplane: {what} works again after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        *self = Streak::default();
    }
}

fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

/// Publishes queued frames on `channel`, a pipeline of up to [`BackplaneOptions::max_batch`] at a time,
/// until the outbox
/// closes (the manager was dropped).
pub(crate) async fn publish_loop(
    client: redis::Client,
    channel: String,
    mut outbox: mpsc::Receiver<Outgoing>,
    counters: Arc<Counters>,
    options: BackplaneOptions,
) {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.timeout))
        .set_response_timeout(Some(options.timeout))
        .set_number_of_retries(1)
        .set_max_delay(MAX_BACKOFF);
    let mut conn = match ConnectionManager::new_lazy_with_config(client, config) {
        Ok(conn) => conn,
        Err(e) => {
            // Only a contradictory configuration fails here; ours is fixed, but never panic on it.
            tracing::error!(
                "Redis backplane: cannot create the publisher ({e}); nothing will be published"
            );
            while outbox.recv().await.is_some() {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
    };
    let max_batch = options.max_batch.max(1);
    let mut batch: Vec<Outgoing> = Vec::new();
    let mut backoff = Duration::from_millis(50);
    let mut streak = Streak::default();
    loop {
        if batch.is_empty() {
            match outbox.recv().await {
                Some(frame) => batch.push(frame),
                None => return,
            }
        }
        while batch.len() < max_batch {
            match outbox.try_recv() {
                Ok(frame) => batch.push(frame),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        for frame in &batch {
            pipe.publish(&channel, &frame.bytes).ignore();
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => {
                counters
                    .published
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
                backoff = Duration::from_millis(50);
                streak.recovered("publishing");
            }
            Err(e) => {
                // A pipeline that failed half-way may be re-sent in part: delivery is at least once while
                // Redis fails, and at most once otherwise.
                counters.publish_failures.fetch_add(1, Ordering::Relaxed);
                streak.failed("publishing", &e);
                let before = batch.len();
                batch.retain(|f| f.queued_at.elapsed() < options.max_publish_delay);
                let expired = (before - batch.len()) as u64;
                if expired > 0 {
                    counters.dropped.fetch_add(expired, Ordering::Relaxed);
                }
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
    }
}

/// Subscribes to `channel` and hands every payload to `deliver`, reconnecting with backoff whenever the
/// subscription is lost. Runs until aborted.
pub(crate) async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    counters: Arc<Counters>,
    options: BackplaneOptions,
    deliver: impl Fn(&[u8]) + Send + 'static,
) {
    let mut backoff = Duration::from_millis(50);
    let mut streak = Streak::default();
    let mut ever_subscribed = false;
    loop {
        let attempt = tokio::time::timeout(options.timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        let pubsub = match attempt {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(e)) => {
                streak.failed("subscribing", &e);
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
                continue;
            }
            Err(_) => {
                streak.failed("subscribing", &"timed out");
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
                continue;
            }
        };
        if ever_subscribed {
            counters
                .subscriber_reconnects
                .fetch_add(1, Ordering::Relaxed);
        }
        ever_subscribed = true;
        counters.subscribed.send_replace(true);
        streak.recovered("subscribing");
        tracing::info!("Redis backplane: subscribed to {channel}");
        backoff = Duration::from_millis(50);
        let (mut sink, mut stream) = pubsub.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        let lost = loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => {
                        counters.received.fetch_add(1, Ordering::Relaxed);
                        deliver(message.get_payload_bytes());
                    }
                    None => break "the connection closed".to_owned(),
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(options.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => break format!("ping failed: {e}"),
                        Err(_) => break "ping timed out".to_owned(),
                    }
                }
            }
        };
        counters.subscribed.send_replace(false);
        tracing::warn!(
            "Redis backplane: subscription lost ({lost}); reconnecting. Messages other servers publish until it is back are lost"
        );
    }
}
