//! [`RedisLifetimeManager`]: the hub's fan-out over Redis pub/sub.
//!
//! Every server keeps its own connections in an [`InMemoryLifetimeManager`] and delivers to them at once;
//! what may concern connections elsewhere is also published as one [`Frame`] on the hub's channel. Every
//! server subscribes to that one channel and applies what other servers published to its own connections
//! (frames from itself are skipped: they were delivered already).
//!
//! One channel per hub keeps the order of one server's frames: a group add for a connection on another
//! server, then a message to that group, arrive in that order everywhere, so the message reaches the new
//! member. The price is that every server reads every frame; see docs/scale-out.md for when that matters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::link::{self, BackplaneOptions, Counters, Outgoing};
use super::wire::{Frame, ReplyOutcome, ServerId};
use super::RedisError;
use crate::hub::{
    BackplaneStats, Caller, ClientResultError, EncodedInvocation, HubLifetimeManager,
    InMemoryLifetimeManager, SendError,
};

/// A remote client result gets this long beyond its own timeout for the answer to travel back.
const REPLY_GRACE: Duration = Duration::from_secs(1);

/// A [`HubLifetimeManager`] that reaches the connections of every server sharing one Redis.
///
/// Build it inside a Tokio runtime (it starts two tasks) with [`RedisLifetimeManager::new`], or enable it
/// with [`crate::hub::HubBuilder::redis_backplane`]. Redis being away never fails a send: local connections
/// are served as always, frames for other servers wait (then are dropped and counted, see
/// [`RedisLifetimeManager::stats`]), and everything is logged.
pub struct RedisLifetimeManager {
    shared: Arc<Shared>,
    tasks: [JoinHandle<()>; 2],
}

struct Shared {
    local: InMemoryLifetimeManager,
    server: ServerId,
    outbox: mpsc::Sender<Outgoing>,
    counters: Arc<Counters>,
    /// Client results this server waits for, by request number.
    replies: Mutex<HashMap<u64, oneshot::Sender<ReplyOutcome>>>,
    next_request: AtomicU64,
    /// When a full outbox was last reported (drops are counted always, logged at most every 10 s).
    full_logged: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisLifetimeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLifetimeManager")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RedisLifetimeManager {
    /// A backplane on the Redis at `url` (`redis://host:port/db`), for the hub named `hub`: servers that
    /// share a Redis and a hub name reach each other's connections; other names are not seen. Needs a Tokio
    /// runtime. Fails on a malformed URL or outside a runtime, never because Redis is down (it connects in
    /// the background and keeps trying).
    pub fn new(url: &str, hub: &str) -> Result<Self, RedisError> {
        Self::with_options(url, hub, BackplaneOptions::default())
    }

    /// [`new`](Self::new) with other limits: outbox size, publish delay and batch, timeout.
    pub fn with_options(
        url: &str,
        hub: &str,
        options: BackplaneOptions,
    ) -> Result<Self, RedisError> {
        let client = redis::Client::open(url).map_err(|e| RedisError::url(url, e))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RedisError::NoRuntime)?;
        let channel = format!("tether:hub:{hub}");
        let counters = Arc::new(Counters::default());
        let (outbox, rx) = mpsc::channel(options.outbox_capacity.max(1));
        let mut server = [0u8; 16];
        getrandom::fill(&mut server).expect("the OS random number generator is available");
        let shared = Arc::new(Shared {
            local: InMemoryLifetimeManager::new(),
            server,
            outbox,
            counters: counters.clone(),
            replies: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            full_logged: Mutex::new(None),
        });
        let publisher = runtime.spawn(link::publish_loop(
            client.clone(),
            channel.clone(),
            rx,
            counters.clone(),
            options.clone(),
        ));
        // The subscriber holds the manager weakly: dropping the manager aborts it anyway.
        let weak = Arc::downgrade(&shared);
        let subscriber = runtime.spawn(link::subscribe_loop(
            client,
            channel,
            counters,
            options,
            move |bytes| {
                if let Some(shared) = weak.upgrade() {
                    shared.receive(bytes);
                }
            },
        ));
        Ok(RedisLifetimeManager {
            shared,
            tasks: [publisher, subscriber],
        })
    }

    /// What the backplane did so far: frames published, dropped, received; whether it is subscribed.
    pub fn stats(&self) -> BackplaneStats {
        let c = &self.shared.counters;
        BackplaneStats {
            published: c.published.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            publish_failures: c.publish_failures.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            subscriber_reconnects: c.subscriber_reconnects.load(Ordering::Relaxed),
            subscribed: *c.subscribed.borrow(),
        }
    }
}

impl RedisLifetimeManager {
    /// Whether the subscription is up, as a watch that changes when it goes down or comes back (for a
    /// readiness probe, or to wait until this server hears the others).
    pub fn subscription(&self) -> watch::Receiver<bool> {
        self.shared.counters.subscribed.subscribe()
    }
}

impl Drop for RedisLifetimeManager {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Shared {
    fn publish(&self, frame: &Frame) {
        let outgoing = Outgoing {
            bytes: frame.encode(&self.server),
            queued_at: Instant::now(),
        };
        if self.outbox.try_send(outgoing).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let mut logged = self.full_logged.lock();
            if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                *logged = Some(Instant::now());
                tracing::warn!(
                    dropped_total = self.counters.dropped.load(Ordering::Relaxed),
                    "Redis backplane: the outbox is full (Redis slow or away); a message for other servers was dropped"
                );
            }
        }
    }

    /// Applies a frame another server published.
    fn receive(self: &Arc<Self>, bytes: &[u8]) {
        let (origin, frame) = match Frame::decode(bytes) {
            Ok(decoded) => decoded,
            Err(reason) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("Redis backplane: ignored a malformed frame: {reason}");
                return;
            }
        };
        if origin == self.server {
            return;
        }
        let local = &self.local;
        match frame {
            Frame::All { excluded, payload } => {
                local.send_all(&EncodedInvocation::from_bytes(payload), &arcs(excluded));
            }
            Frame::Connection { id, payload } => {
                // Only the server that owns the connection has it; for the others this is a no-op.
                let _ = local.send_connection(&id, &EncodedInvocation::from_bytes(payload));
            }
            Frame::Group {
                group,
                excluded,
                payload,
            } => {
                local.send_group(
                    &group,
                    &EncodedInvocation::from_bytes(payload),
                    &arcs(excluded),
                );
            }
            Frame::User { user, payload } => {
                local.send_user(&user, &EncodedInvocation::from_bytes(payload));
            }
            Frame::AddToGroup { connection, group } => local.add_to_group(&connection, &group),
            Frame::RemoveFromGroup { connection, group } => {
                local.remove_from_group(&connection, &group)
            }
            Frame::Invoke {
                request,
                connection,
                target,
                arguments,
                timeout_ms,
            } => {
                let Some(caller) = local.connection(&connection) else {
                    return;
                };
                let shared = self.clone();
                tokio::spawn(async move {
                    let outcome = run_client_result(&caller, &target, arguments, timeout_ms).await;
                    shared.publish(&Frame::Reply {
                        to: origin,
                        request,
                        outcome,
                    });
                });
            }
            Frame::Reply {
                to,
                request,
                outcome,
            } => {
                if to == self.server {
                    if let Some(waiter) = self.replies.lock().remove(&request) {
                        let _ = waiter.send(outcome);
                    }
                }
            }
        }
    }
}

async fn run_client_result(
    caller: &Caller,
    target: &str,
    arguments: String,
    timeout_ms: u64,
) -> ReplyOutcome {
    let Ok(arguments) = RawValue::from_string(arguments) else {
        return ReplyOutcome::Disconnected("the arguments are not JSON".to_owned());
    };
    match caller
        .invoke_raw(target, arguments, Duration::from_millis(timeout_ms))
        .await
    {
        Ok(raw) => ReplyOutcome::Result(raw.get().to_owned()),
        Err(ClientResultError::Client(e)) => ReplyOutcome::ClientError(e),
        Err(ClientResultError::Timeout) => ReplyOutcome::Timeout,
        Err(e) => ReplyOutcome::Disconnected(e.to_string()),
    }
}

fn arcs(ids: Vec<String>) -> Vec<Arc<str>> {
    ids.into_iter().map(Arc::from).collect()
}

fn strings(ids: &[Arc<str>]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

impl HubLifetimeManager for RedisLifetimeManager {
    fn on_connected(&self, connection: &Caller) {
        self.shared.local.on_connected(connection);
    }

    fn on_disconnected(&self, connection_id: &str) {
        self.shared.local.on_disconnected(connection_id);
    }

    fn send_all(&self, message: &EncodedInvocation, excluded: &[Arc<str>]) {
        self.shared.local.send_all(message, excluded);
        self.shared.publish(&Frame::All {
            excluded: strings(excluded),
            payload: message.as_bytes().clone(),
        });
    }

    fn send_connection(
        &self,
        connection_id: &str,
        message: &EncodedInvocation,
    ) -> Result<(), SendError> {
        if self.shared.local.connection(connection_id).is_some() {
            return self.shared.local.send_connection(connection_id, message);
        }
        // Elsewhere, or nowhere: like SignalR's backplanes, a send to an unknown id is not an error.
        self.shared.publish(&Frame::Connection {
            id: connection_id.to_owned(),
            payload: message.as_bytes().clone(),
        });
        Ok(())
    }

    fn send_group(&self, group: &str, message: &EncodedInvocation, excluded: &[Arc<str>]) {
        self.shared.local.send_group(group, message, excluded);
        self.shared.publish(&Frame::Group {
            group: group.to_owned(),
            excluded: strings(excluded),
            payload: message.as_bytes().clone(),
        });
    }

    fn send_user(&self, user_id: &str, message: &EncodedInvocation) {
        self.shared.local.send_user(user_id, message);
        self.shared.publish(&Frame::User {
            user: user_id.to_owned(),
            payload: message.as_bytes().clone(),
        });
    }

    fn add_to_group(&self, connection_id: &str, group: &str) {
        if self.shared.local.connection(connection_id).is_some() {
            self.shared.local.add_to_group(connection_id, group);
        } else {
            self.shared.publish(&Frame::AddToGroup {
                connection: connection_id.to_owned(),
                group: group.to_owned(),
            });
        }
    }

    fn remove_from_group(&self, connection_id: &str, group: &str) {
        if self.shared.local.connection(connection_id).is_some() {
            self.shared.local.remove_from_group(connection_id, group);
        } else {
            self.shared.publish(&Frame::RemoveFromGroup {
                connection: connection_id.to_owned(),
                group: group.to_owned(),
            });
        }
    }

    fn connection(&self, connection_id: &str) -> Option<Caller> {
        self.shared.local.connection(connection_id)
    }

    fn local_connection_count(&self) -> usize {
        self.shared.local.local_connection_count()
    }

    fn backplane_stats(&self) -> Option<BackplaneStats> {
        Some(self.stats())
    }

    fn invoke_connection(
        &self,
        connection_id: &str,
        target: &str,
        arguments: Box<RawValue>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<RawValue>, ClientResultError>> {
        if let Some(caller) = self.shared.local.connection(connection_id) {
            let target = target.to_owned();
            return async move { caller.invoke_raw(&target, arguments, timeout).await }.boxed();
        }
        let request = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shared.replies.lock().insert(request, tx);
        self.shared.publish(&Frame::Invoke {
            request,
            connection: connection_id.to_owned(),
            target: target.to_owned(),
            arguments: arguments.get().to_owned(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        });
        let shared = self.shared.clone();
        async move {
            let outcome = tokio::time::timeout(timeout + REPLY_GRACE, rx).await;
            // Nobody answered (no server owns the connection, or Redis is away): forget the waiter.
            shared.replies.lock().remove(&request);
            match outcome {
                Ok(Ok(ReplyOutcome::Result(raw))) => RawValue::from_string(raw)
                    .map_err(|e| ClientResultError::InvalidResult(e.to_string())),
                Ok(Ok(ReplyOutcome::ClientError(e))) => Err(ClientResultError::Client(e)),
                Ok(Ok(ReplyOutcome::Disconnected(_))) | Ok(Err(_)) => {
                    Err(ClientResultError::Disconnected)
                }
                Ok(Ok(ReplyOutcome::Timeout)) | Err(_) => Err(ClientResultError::Timeout),
            }
        }
        .boxed()
    }
}
