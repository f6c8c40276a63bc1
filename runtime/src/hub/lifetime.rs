//! Fan-out: the [`HubLifetimeManager`] trait and its in-memory default.
//!
//! Every send to all, a group, a user or a connection by id goes through the hub's lifetime manager, and every
//! connection registers with it when its handshake completes and unregisters when it ends. A backplane for
//! several servers (Redis pub/sub, say) implements the trait by publishing [`EncodedInvocation`] bytes and
//! delivering what it receives to its local connections, without any change to hub code.
//!
//! Methods are synchronous and must not block: they run inside hub methods and connection tasks. A networked
//! implementation hands messages to its own publisher task. The one exception is
//! [`HubLifetimeManager::invoke_connection`] (a client result), which returns a future to await.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parking_lot::RwLock;
use serde_json::value::RawValue;

use super::caller::{Caller, EncodedInvocation};
use super::error::{ClientResultError, SendError};

/// Tracks the connections of one hub and delivers fan-out messages to them.
pub trait HubLifetimeManager: Send + Sync + 'static {
    /// A connection completed its handshake.
    fn on_connected(&self, connection: &Caller);
    /// A connection ended; forget it and its group memberships.
    fn on_disconnected(&self, connection_id: &str);
    /// Queues `message` on every connection except those in `excluded`.
    fn send_all(&self, message: &EncodedInvocation, excluded: &[Arc<str>]);
    /// Queues `message` on one connection.
    fn send_connection(
        &self,
        connection_id: &str,
        message: &EncodedInvocation,
    ) -> Result<(), SendError>;
    /// Queues `message` on every member of `group` except those in `excluded`.
    fn send_group(&self, group: &str, message: &EncodedInvocation, excluded: &[Arc<str>]);
    /// Queues `message` on every connection of `user_id`.
    fn send_user(&self, user_id: &str, message: &EncodedInvocation);
    /// Adds a connection to a group (creating the group).
    fn add_to_group(&self, connection_id: &str, group: &str);
    /// Removes a connection from a group (dropping the group when empty).
    fn remove_from_group(&self, connection_id: &str, group: &str);
    /// Invokes client method `target` on one connection, wherever it is, and resolves to the client's
    /// result (`null` for a void answer). `arguments` is a JSON array. The default serves only
    /// connections this manager reaches through [`HubLifetimeManager::connection`].
    fn invoke_connection(
        &self,
        connection_id: &str,
        target: &str,
        arguments: Box<RawValue>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<RawValue>, ClientResultError>> {
        match self.connection(connection_id) {
            Some(caller) => {
                let target = target.to_owned();
                async move { caller.invoke_raw(&target, arguments, timeout).await }.boxed()
            }
            None => {
                let e = ClientResultError::Send(SendError::closed(connection_id));
                futures_util::future::ready(Err(e)).boxed()
            }
        }
    }
    /// The handle of a connection of this server, if it is one (what the default
    /// [`HubLifetimeManager::invoke_connection`] uses). `None` by default: a manager that cannot reach a
    /// connection's handle and does not override `invoke_connection` makes client results fail with
    /// [`SendError::is_closed`].
    fn connection(&self, connection_id: &str) -> Option<Caller> {
        let _ = connection_id;
        None
    }
    /// A backplane's counters; `None` for a manager that links no servers.
    fn backplane_stats(&self) -> Option<BackplaneStats> {
        None
    }
    /// How many connections of this process the manager holds (for metrics); 0 when it does not know.
    fn local_connection_count(&self) -> usize {
        0
    }
}

/// Counters of a backplane (a lifetime manager that links servers, such as the Redis one) since it
/// started; see [`HubLifetimeManager::backplane_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackplaneStats {
    /// Frames published to Redis.
    pub published: u64,
    /// Frames for other servers that were given up (the outbox was full, or Redis stayed away longer than
    /// the publish deadline).
    pub dropped: u64,
    /// Publish attempts that failed and were retried.
    pub publish_failures: u64,
    /// Frames received from Redis (this server's own included).
    pub received: u64,
    /// Received frames that did not decode (another version, or not ours).
    pub malformed: u64,
    /// How often the subscription was re-established after being lost.
    pub subscriber_reconnects: u64,
    /// Whether the subscription is up now.
    pub subscribed: bool,
}

#[derive(Default)]
struct Registry {
    connections: HashMap<Arc<str>, Caller>,
    groups: HashMap<String, HashSet<Arc<str>>>,
    memberships: HashMap<Arc<str>, Vec<String>>,
    users: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

/// The default lifetime manager: every connection of this process, in memory.
#[derive(Default)]
pub struct InMemoryLifetimeManager {
    registry: RwLock<Registry>,
}

impl InMemoryLifetimeManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }
}

fn deliver(caller: &Caller, message: &EncodedInvocation) {
    if let Err(e) = caller.send_encoded(message) {
        if e.is_full() {
            tracing::warn!(connection_id = %caller.connection_id(), "fan-out message dropped: {e}");
        }
    }
}

impl HubLifetimeManager for InMemoryLifetimeManager {
    fn on_connected(&self, connection: &Caller) {
        let id: Arc<str> = connection.shared.id.clone();
        let mut r = self.registry.write();
        if let Some(user) = connection.user_id() {
            r.users.entry(user).or_default().insert(id.clone());
        }
        r.connections.insert(id, connection.clone());
    }

    fn on_disconnected(&self, connection_id: &str) {
        let mut r = self.registry.write();
        let Some(caller) = r.connections.remove(connection_id) else {
            return;
        };
        if let Some(user) = caller.user_id() {
            if let Some(set) = r.users.get_mut(&user) {
                set.remove(connection_id);
                if set.is_empty() {
                    r.users.remove(&user);
                }
            }
        }
        if let Some(groups) = r.memberships.remove(connection_id) {
            for g in groups {
                if let Some(set) = r.groups.get_mut(&g) {
                    set.remove(connection_id);
                    if set.is_empty() {
                        r.groups.remove(&g);
                    }
                }
            }
        }
    }

    fn send_all(&self, message: &EncodedInvocation, excluded: &[Arc<str>]) {
        let r = self.registry.read();
        for (id, caller) in &r.connections {
            if !excluded.iter().any(|e| e == id) {
                deliver(caller, message);
            }
        }
    }

    fn send_connection(
        &self,
        connection_id: &str,
        message: &EncodedInvocation,
    ) -> Result<(), SendError> {
        let r = self.registry.read();
        match r.connections.get(connection_id) {
            Some(caller) => caller.send_encoded(message),
            None => Err(SendError::closed(connection_id)),
        }
    }

    fn send_group(&self, group: &str, message: &EncodedInvocation, excluded: &[Arc<str>]) {
        let r = self.registry.read();
        if let Some(members) = r.groups.get(group) {
            for id in members {
                if excluded.iter().any(|e| e == id) {
                    continue;
                }
                if let Some(caller) = r.connections.get(id) {
                    deliver(caller, message);
                }
            }
        }
    }

    fn send_user(&self, user_id: &str, message: &EncodedInvocation) {
        let r = self.registry.read();
        if let Some(ids) = r.users.get(user_id) {
            for id in ids {
                if let Some(caller) = r.connections.get(id) {
                    deliver(caller, message);
                }
            }
        }
    }

    fn add_to_group(&self, connection_id: &str, group: &str) {
        let mut r = self.registry.write();
        let Some((id, _)) = r.connections.get_key_value(connection_id) else {
            return;
        };
        let id = id.clone();
        if r.groups
            .entry(group.to_owned())
            .or_default()
            .insert(id.clone())
        {
            r.memberships.entry(id).or_default().push(group.to_owned());
        }
    }

    fn connection(&self, connection_id: &str) -> Option<Caller> {
        self.registry.read().connections.get(connection_id).cloned()
    }

    fn local_connection_count(&self) -> usize {
        self.registry.read().connections.len()
    }

    fn remove_from_group(&self, connection_id: &str, group: &str) {
        let mut r = self.registry.write();
        if let Some(set) = r.groups.get_mut(group) {
            set.remove(connection_id);
            if set.is_empty() {
                r.groups.remove(group);
            }
        }
        if let Some(list) = r.memberships.get_mut(connection_id) {
            list.retain(|g| g != group);
        }
    }
}
