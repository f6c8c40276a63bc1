//! [`Location`]: the browser's current URI as a circuit service, with change notification.
//!
//! Ownership: the circuit's renderer app owns the one `Location` of a circuit and gives clones to
//! components through [`Services`](tether_components::Services). `StartCircuit`'s `uri` is the first
//! value; every `LocationChanged(uri, intercepted)` replaces it and then calls the listeners, in
//! subscription order, on the circuit's task while it processes that message (after the inbound
//! middleware let it through). Updates a listener queues through a component
//! [`Handle`] are rendered right after the message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tether_components::{Component, Handle};

use super::handle::CircuitHandle;

/// One navigation the browser reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationChange {
    /// The new absolute URI.
    pub uri: String,
    /// Whether the boot script intercepted a link click or form (in-page navigation) rather than the
    /// user moving through history.
    pub intercepted: bool,
}

impl LocationChange {
    /// The path, query (and fragment) of [`uri`](Self::uri), without scheme and authority.
    pub fn path(&self) -> &str {
        path_of(&self.uri)
    }
}

type Listener = Arc<dyn Fn(&LocationChange) + Send + Sync>;

struct LocationState {
    circuit: Option<CircuitHandle>,
    /// Boxed: every circuit keeps one, and it never changes.
    base_uri: Box<str>,
    uri: Mutex<String>,
    listeners: Mutex<Vec<(u64, Listener)>>,
    next_listener: AtomicU64,
}

/// The browser location of one circuit (a service: `cx.service::<Location>()`). Cheap to clone; all
/// clones see the same value.
#[derive(Clone)]
pub struct Location {
    state: Arc<LocationState>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("uri", &*self.state.uri.lock())
            .field("base_uri", &self.state.base_uri)
            .finish_non_exhaustive()
    }
}

impl Location {
    pub(crate) fn for_circuit(circuit: CircuitHandle, base_uri: String, uri: String) -> Self {
        Self::build(Some(circuit), base_uri, uri)
    }

    /// A location with no circuit behind it, for prerendering a page: provide it with
    /// [`PageRender::provide`](super::PageRender::provide) (built from the request's URI) so that
    /// components render the same markup before and after the circuit starts. It never changes and
    /// [`navigate`](Self::navigate) does nothing.
    pub fn detached(uri: impl Into<String>) -> Self {
        Self::build(None, String::new(), uri.into())
    }

    fn build(circuit: Option<CircuitHandle>, base_uri: String, uri: String) -> Self {
        Location {
            state: Arc::new(LocationState {
                circuit,
                base_uri: base_uri.into_boxed_str(),
                uri: Mutex::new(uri),
                listeners: Mutex::new(Vec::new()),
                next_listener: AtomicU64::new(0),
            }),
        }
    }

    /// The current URI as the browser reported it (absolute; for a detached location, what it was
    /// given).
    pub fn uri(&self) -> String {
        self.state.uri.lock().clone()
    }

    /// The path, query and fragment of the current URI, without scheme and authority (`/todo?filter=done`):
    /// the same for a circuit's absolute URI and a prerendering request's relative one.
    pub fn path(&self) -> String {
        path_of(&self.state.uri.lock()).to_owned()
    }

    /// The document's base URI from `StartCircuit` (empty for a detached location).
    pub fn base_uri(&self) -> &str {
        &self.state.base_uri
    }

    /// Asks the browser to navigate (see [`CircuitHandle::navigate`]); the resulting `LocationChanged`
    /// updates this location. Returns whether a browser was connected to receive it.
    pub fn navigate(&self, uri: &str, replace: bool) -> bool {
        self.state
            .circuit
            .as_ref()
            .is_some_and(|circuit| circuit.navigate(uri, replace))
    }

    /// Calls `listener` after every location change, until the returned subscription is dropped. Keep
    /// the subscription in the component's state: it then lives exactly as long as the component.
    pub fn subscribe(
        &self,
        listener: impl Fn(&LocationChange) + Send + Sync + 'static,
    ) -> LocationSubscription {
        let id = self.state.next_listener.fetch_add(1, Ordering::Relaxed);
        self.state.listeners.lock().push((id, Arc::new(listener)));
        LocationSubscription {
            state: Arc::downgrade(&self.state),
            id,
        }
    }

    /// [`subscribe`](Self::subscribe) for the common case: after every change, `apply` runs on the
    /// component behind `handle` (queued as [`Handle::update`], then rendered).
    pub fn watch<C: Component>(
        &self,
        handle: Handle<C>,
        apply: impl Fn(&mut C, &LocationChange) + Send + Sync + 'static,
    ) -> LocationSubscription {
        let apply = Arc::new(apply);
        self.subscribe(move |change| {
            let (apply, change) = (apply.clone(), change.clone());
            handle.update(move |component| apply(component, &change));
        })
    }

    /// Records a change reported by the browser and tells the listeners.
    pub(crate) fn changed(&self, uri: &str, intercepted: bool) {
        *self.state.uri.lock() = uri.to_owned();
        let change = LocationChange {
            uri: uri.to_owned(),
            intercepted,
        };
        // Called outside the lock, so a listener may subscribe or unsubscribe.
        let listeners: Vec<Listener> = self
            .state
            .listeners
            .lock()
            .iter()
            .map(|(_, listener)| listener.clone())
            .collect();
        for listener in listeners {
            listener(&change);
        }
    }
}

/// Keeps a [`Location::subscribe`] listener registered; dropping it unsubscribes.
#[must_use = "dropping the subscription unsubscribes at once: keep it in the component"]
pub struct LocationSubscription {
    state: Weak<LocationState>,
    id: u64,
}

impl std::fmt::Debug for LocationSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocationSubscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for LocationSubscription {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            state.listeners.lock().retain(|(id, _)| *id != self.id);
        }
    }
}

/// `uri` without `scheme://authority` (a relative URI is returned as is; an empty path is `/`).
fn path_of(uri: &str) -> &str {
    let Some(scheme_end) = uri.find("://") else {
        return uri;
    };
    let rest = &uri[scheme_end + 3..];
    match rest.find(['/', '?', '#']) {
        Some(at) => &rest[at..],
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn paths_drop_scheme_and_authority() {
        assert_eq!(path_of("http://h:5/a/b?c=1#d"), "/a/b?c=1#d");
        assert_eq!(path_of("https://h"), "/");
        assert_eq!(path_of("/x?y"), "/x?y");
        assert_eq!(path_of("http://h?q"), "?q");
    }

    #[test]
    fn listeners_hear_changes_until_unsubscribed() {
        let location = Location::detached("/start");
        let heard = Arc::new(AtomicUsize::new(0));
        let counter = heard.clone();
        let subscription = location.subscribe(move |change| {
            assert_eq!(change.path(), "/next");
            counter.fetch_add(1, Ordering::SeqCst);
        });
        location.changed("http://h/next", true);
        assert_eq!(
            (heard.load(Ordering::SeqCst), location.path()),
            (1, "/next".to_owned())
        );
        drop(subscription);
        location.changed("http://h/next", false);
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        assert!(!location.navigate("/elsewhere", false));
    }
}
