//! Fan-out: the [`HubLifetimeManager`] trait and its in-memory default.
//!
//! Every send to all, a group, a user or a connection by id goes through the hub's lifetime manager, and every
//! connection registers with it when its handshake completes and unregisters when it ends. A backplane for
//! several servers (Redis pub/sub, say) implements the trait by publishing [`EncodedInvocation`] bytes and
//! delivering what it receives to its local connections, without any change to hub code.
//!
//! Methods are synchronous and must not block: they run inside hub methods and connection tasks. A networked
//! implementation hands messages to its own publisher task.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;

use super::caller::{Caller, EncodedInvocation};
use super::error::SendError;

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
    /// The handle of a connection of this server, for client results through
    /// [`ClientProxy::invoke`](crate::hub::ClientProxy::invoke). `None` by default: a manager that cannot
    /// reach a connection's handle (one on another server) makes those calls fail with
    /// [`SendError::is_closed`].
    fn connection(&self, connection_id: &str) -> Option<Caller> {
        let _ = connection_id;
        None
    }
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
