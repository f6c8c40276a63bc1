//! [`Services`]: a typed environment a host gives every component of one renderer.
//!
//! The host fills it ([`Renderer::provide`](crate::Renderer::provide), or a whole set with
//! [`Renderer::provide_all`](crate::Renderer::provide_all)) and components read it from their contexts
//! ([`Context::service`](crate::Context::service), [`RenderContext::service`](crate::RenderContext::service)).
//! The circuit runtime provides each circuit's handle and location this way, and applications add their own
//! (a database pool, a chat room) on the circuit hub builder.
//!
//! # Invariants
//!
//! - One value per type: providing a type again replaces the earlier value, for reads made afterwards.
//! - Values are cloned out on every read, so a service should be cheap to clone (an `Arc`, a handle, a
//!   small `Copy` value). A component that needs a service in its event handlers reads it in
//!   [`Component::init`](crate::Component::init) and keeps it, or captures a clone in the closure it binds.
//! - Nothing here depends on an executor: a service that does async work brings its own.
//! - The set lives in the state a renderer shares with its [`Handle`](crate::Handle)s, so a service must
//!   not own a `Handle` of the same renderer (that would be a reference cycle). Keep such handles in
//!   component state, or in something the component drops (a subscription guard), as
//!   `tether::circuit::Location` does.
//! - [`Component::create`](crate::Component::create) has no context: the first place to read services is
//!   `init`, which runs right after `create` and before the first render.

use std::any::{Any, TypeId};
use std::sync::Arc;

/// One provided value with its type. The type's name (for `Debug`) comes from the value itself rather
/// than a field: every circuit's renderer holds a set, and 16 bytes an entry add up.
#[derive(Clone)]
struct Entry {
    type_id: TypeId,
    value: Arc<dyn Service>,
}

/// A provided value: `Any`, plus its type's name. Call these on the value (`(*entry.value)`), not on
/// the `Arc`, which is itself `Any` and would answer for itself.
trait Service: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn type_name(&self) -> &'static str;
}

impl<T: Any + Send + Sync> Service for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// A set of values keyed by their type. Cloning it is cheap (the set is shared until one copy changes).
///
/// ```
/// use maud::{html, Markup};
/// use tether_components::{testing::Harness, Component, Context, RenderContext, Services};
///
/// #[derive(Clone)]
/// struct Greeting(&'static str);
///
/// struct Hello { greeting: &'static str }
///
/// impl Component for Hello {
///     type Props = ();
///     fn create(_: &()) -> Self { Hello { greeting: "?" } }
///     fn init(&mut self, cx: &mut Context<'_, Self>) {
///         if let Some(Greeting(text)) = cx.service::<Greeting>() {
///             self.greeting = text;
///         }
///     }
///     fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
///         html! { p { (self.greeting) } }
///     }
/// }
///
/// let h = Harness::mount_with::<Hello>((), &Services::new().with(Greeting("hello")));
/// assert_eq!(h.html(), "<p>hello</p>");
/// ```
#[derive(Clone, Default)]
pub struct Services {
    /// A handful of entries, searched in order: smaller than a hash map for the few services a host
    /// provides (every circuit holds a set), and as fast to search at that size. A shared slice rather
    /// than a shared `Vec`: one allocation of exactly the entries; a change copies them (sets are built
    /// once, when a renderer starts).
    values: Arc<[Entry]>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.values.iter().map(|entry| (*entry.value).type_name()))
            .finish()
    }
}

impl Services {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value`, replacing any earlier value of the same type.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.put(Entry {
            type_id: TypeId::of::<T>(),
            value: Arc::new(value),
        });
    }

    fn put(&mut self, entry: Entry) {
        let mut values = Vec::with_capacity(self.values.len() + 1);
        values.extend(
            self.values
                .iter()
                .filter(|e| e.type_id != entry.type_id)
                .cloned(),
        );
        match self.values.iter().position(|e| e.type_id == entry.type_id) {
            // Replaced in place: the set keeps its order.
            Some(at) => values.insert(at, entry),
            None => values.push(entry),
        }
        self.values = values.into();
    }

    /// [`insert`](Self::insert), by value (for building a set in one expression).
    pub fn with<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.insert(value);
        self
    }

    /// Adds every value of `other`; on a type present in both, `other`'s value wins.
    pub fn extend(&mut self, other: &Services) {
        if other.values.is_empty() {
            return;
        }
        if self.values.is_empty() {
            self.values = other.values.clone();
            return;
        }
        for entry in other.values.iter() {
            self.put(entry.clone());
        }
    }

    /// A clone of the value of type `T`, if one was provided.
    pub fn get<T: Clone + 'static>(&self) -> Option<T> {
        let type_id = TypeId::of::<T>();
        self.values
            .iter()
            .find(|entry| entry.type_id == type_id)
            .and_then(|entry| (*entry.value).as_any().downcast_ref::<T>())
            .cloned()
    }

    /// Whether a value of type `T` was provided.
    pub fn contains<T: 'static>(&self) -> bool {
        let type_id = TypeId::of::<T>();
        self.values.iter().any(|entry| entry.type_id == type_id)
    }

    /// How many values the set holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Services;

    #[test]
    fn values_are_found_by_type_and_replaced() {
        let mut services = Services::new().with(5u32).with(String::from("a"));
        assert_eq!(services.get::<u32>(), Some(5));
        assert_eq!(services.get::<String>().as_deref(), Some("a"));
        assert_eq!(services.get::<i64>(), None);
        let snapshot = services.clone();
        services.insert(6u32);
        assert_eq!(
            (services.get::<u32>(), snapshot.get::<u32>()),
            (Some(6), Some(5))
        );
        let mut base = Services::new().with(1u32).with(2i64);
        base.extend(&services);
        assert_eq!(
            (base.get::<u32>(), base.get::<i64>(), base.len()),
            (Some(6), Some(2), 3)
        );
        assert!(base.contains::<String>() && !base.contains::<u8>());
        assert_eq!(
            format!("{base:?}"),
            r#"{"u32", "i64", "alloc::string::String"}"#
        );
    }

    #[test]
    fn an_entry_is_a_type_id_and_a_pointer() {
        assert_eq!(std::mem::size_of::<super::Entry>(), 32);
    }
}
