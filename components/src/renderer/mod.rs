//! The [`Renderer`]: one per circuit. It owns every component, the tree each last rendered, the handler
//! table and the dirty queue, and turns render passes into [`RenderBatch`]es.
//!
//! # Invariants
//!
//! - **Ownership.** The renderer owns all component state and trees. It is `Send` but not `Sync`: the host
//!   drives it from one task at a time. Other tasks reach components only through [`Handle`]s, whose updates
//!   wait in a queue until the host calls [`Renderer::process_messages`].
//! - **The tree** of each component is what the browser shows for it after every batch returned so far has
//!   been applied. Node ids are assigned in pre-order when HTML is sent (op 1, 2, 11), are unique within
//!   the renderer and never reused; a matched node keeps its id across renders.
//! - **Handler ids** are circuit-unique and never reused. A binding on a matched element for the same event
//!   keeps its id; new bindings get fresh ids in pre-order. An id dies when its binding is absent from its
//!   component's latest render or the component is disposed; it then leaves the handler table, and
//!   events naming it are rejected ([`EventError::UnknownHandler`]) without running anything.
//! - **Batches.** One render pass makes at most one batch; ids count 1, 2, 3… (this is the circuit's one
//!   batch counter) and a pass without edits makes none, even if it retired handler ids or disposed
//!   components. Inside a batch, root attachments (op 11) come first, then components' edits in render order:
//!   components render parents before children (by depth), so a parent's edits precede the edits of the
//!   children it re-rendered.
//! - **Prerendering** is deterministic: a fresh renderer that mounts the same roots with the same props in
//!   the same order assigns the same handler ids, so [`Renderer::root_html`] from one renderer matches the
//!   op 11 HTML of another (the client then keeps the prerendered DOM).
//! - **Re-rendering** a dirty component takes one of three paths, each producing the same tree a full
//!   parse would (`tree/reparse.rs` unit tests and the property tests check this): markup identical to
//!   the last render keeps the tree and only passes props to children; otherwise, without child
//!   component slots, only the deepest element holding every changed byte is re-parsed and diffed; else
//!   the whole markup is parsed and diffed. While a component with children renders, it is out of the
//!   component map, so `cx.child…` can compare new props with the child the last render placed at the
//!   same render-order index (same type and key); equal props become a reference to that child
//!   ([`SpecProps::Same`](crate::component::SpecProps)), which is turned back into a boxed copy before
//!   any diff that might match the slot differently.
//! - **Render indices** (the closure index a `t-<event>` attribute carries in maud's output) are not
//!   part of a node's identity: a subtree whose markup differs only in them is matched as identical, its
//!   handlers keep their ids, and the handler table learns the new indices.
//! - **Services.** The host's [`Services`] live in the state shared with handles; every context reads
//!   the current set, so a value provided before mounting is seen from the first `init` on.
//! - **Failures.** A panic in `create` (a root's: [`MountError::Failed`], never an unwinding
//!   [`Renderer::mount_root`]; a child's: its slot stays empty), or a panic or unrenderable markup in
//!   any other hook, of a component goes to its nearest ancestor whose
//!   [`Component::catch_error`] accepts it (an error boundary), which re-renders. Without one the renderer
//!   is failed: every later call returns the [`RenderError`].

mod diff;
mod events;
mod handlers;
mod lifecycle;
mod pass;
mod persisted;
mod registry;
mod serialize;
mod validate;

use std::any::TypeId;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde_json::Value;

use crate::batch::{ComponentId, RenderBatch};
use crate::component::{create_root, AnyComponent, Component, Handle, Inbox, Shared, Task};
use crate::error::{MountError, RenderError};
use crate::services::Services;
use crate::small_map::SmallMap;
use crate::tree::Tree;

use handlers::HandlerTable;
pub use registry::ComponentRegistry;

struct Entry {
    component: Box<dyn AnyComponent>,
    tree: Tree,
    parent: Option<ComponentId>,
    depth: u32,
    /// Id of the marker that ends this component's range (slot end or root region end).
    end_anchor: u32,
}

impl Entry {
    /// The component's type (asked of the component rather than kept beside it: a counter circuit's
    /// entry then fits a smaller allocation).
    fn component_type(&self) -> TypeId {
        AnyComponent::type_id(&*self.component)
    }
}

struct Root {
    component: ComponentId,
    attached: bool,
}

struct PendingError {
    parent: Option<ComponentId>,
    message: String,
}

#[derive(Default)]
struct Pass {
    batch: RenderBatch,
    /// Components rendered in this pass, with whether it was their first render.
    rendered: Vec<(ComponentId, bool)>,
    errors: Vec<PendingError>,
}

/// One circuit's components, their last rendered trees and handler table. See the module docs.
pub struct Renderer {
    registry: Arc<ComponentRegistry>,
    shared: Arc<Shared>,
    /// Boxed, so the map moves pointers when it grows (a counter circuit has one entry).
    components: SmallMap<ComponentId, Box<Entry>>,
    roots: Vec<Root>,
    handlers: HandlerTable,
    next_node_id: u32,
    next_component_id: u32,
    next_batch_id: u64,
    dirty: BTreeSet<(u32, ComponentId)>,
    pass: Pass,
    failure: Option<RenderError>,
    /// Saved states waiting for the components created at their positions (a resume); `None` otherwise.
    restore: Option<Box<persisted::Restore>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("components", &self.components.len())
            .field("roots", &self.roots.len())
            .field("handlers", &self.handlers.len())
            .field("failed", &self.failure.is_some())
            .finish()
    }
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            format!("panicked: {s}")
        } else if let Some(s) = payload.downcast_ref::<String>() {
            format!("panicked: {s}")
        } else {
            "panicked".to_owned()
        }
    })
}

impl Renderer {
    /// A renderer with no components.
    pub fn new(registry: Arc<ComponentRegistry>) -> Self {
        Self::build(registry, None)
    }

    /// A renderer that calls `notify` (from any thread) whenever a [`Handle`] queues an update or async
    /// work: the host should then call [`process_messages`](Self::process_messages),
    /// [`take_tasks`](Self::take_tasks) and [`render`](Self::render) on its own task.
    pub fn with_notify(
        registry: Arc<ComponentRegistry>,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        Self::build(registry, Some(Box::new(notify)))
    }

    fn build(
        registry: Arc<ComponentRegistry>,
        notify: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Self {
        Renderer {
            registry,
            shared: Arc::new(Shared {
                inbox: parking_lot::Mutex::new(Inbox::default()),
                notify,
                services: parking_lot::RwLock::new(Services::new()),
            }),
            components: SmallMap::default(),
            roots: Vec::new(),
            handlers: HandlerTable::default(),
            next_node_id: 1,
            next_component_id: 1,
            next_batch_id: 1,
            dirty: BTreeSet::new(),
            pass: Pass::default(),
            failure: None,
            restore: None,
        }
    }

    /// Provides `value` to every component of this renderer: components read it with
    /// [`Context::service`](crate::Context::service) (in `init`, `render`, `props_changed`, `after_render`).
    /// Replaces an earlier value of the same type; components that already read the old one keep it.
    /// Provide services before mounting roots so that their `init` sees them.
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.shared.services.write().insert(value);
        self
    }

    /// Provides every value of `services` (see [`provide`](Self::provide)).
    pub fn provide_all(&mut self, services: &Services) -> &mut Self {
        self.shared.services.write().extend(services);
        self
    }

    /// The services provided so far (a cheap clone of the set).
    pub fn services(&self) -> Services {
        self.shared.services.read().clone()
    }

    /// Mounts a registered root component from JSON props; returns its root index (0, 1, … in mount
    /// order, matching the order of `StartCircuit`'s descriptors). The first [`render`](Self::render)
    /// attaches it with op 11.
    pub fn mount_root(&mut self, type_name: &str, props: &Value) -> Result<usize, MountError> {
        self.check_failed().map_err(MountError::Failed)?;
        let factory = *self
            .registry
            .types
            .get(type_name)
            .ok_or_else(|| MountError::UnknownType(type_name.to_owned()))?;
        let created =
            catch(|| factory(props)).map_err(|panic| self.fail_creation(type_name, panic))?;
        let component = created.map_err(|reason| MountError::InvalidProps {
            type_name: type_name.to_owned(),
            reason,
        })?;
        self.mount(component)
    }

    /// A root's `create` panicked: like any uncaught component failure, that finishes the renderer.
    fn fail_creation(&mut self, type_name: &str, panic: String) -> MountError {
        tracing::warn!(component = type_name, error = %panic, "creating a root component failed; the renderer is finished");
        let failure = RenderError::new(format!("{type_name}: create {panic}"));
        self.failure = Some(failure.clone());
        MountError::Failed(failure)
    }

    /// Mounts a root component from typed props (tests, or hosts that build roots in code).
    pub fn mount_root_component<C: Component>(
        &mut self,
        props: C::Props,
    ) -> Result<usize, MountError> {
        self.check_failed().map_err(MountError::Failed)?;
        let component = catch(|| create_root::<C>(props))
            .map_err(|panic| self.fail_creation(std::any::type_name::<C>(), panic))?;
        self.mount(component)
    }

    fn mount(&mut self, component: Box<dyn AnyComponent>) -> Result<usize, MountError> {
        let position = self.roots.len() as u32;
        let id = self.create_component(component, None, 0, position);
        self.handle_errors().map_err(MountError::Failed)?;
        self.roots.push(Root {
            component: id,
            attached: false,
        });
        Ok(self.roots.len() - 1)
    }

    /// The component mounted as root `index`.
    pub fn root_component(&self, index: usize) -> Option<ComponentId> {
        self.roots.get(index).map(|r| r.component)
    }

    /// A handle to the root component `index`, if it is a `C`.
    pub fn root_handle<C: Component>(&self, index: usize) -> Option<Handle<C>> {
        let id = self.root_component(index)?;
        let entry = self.components.get(&id)?;
        (entry.component_type() == TypeId::of::<C>()).then(|| Handle::new(id, self.shared.clone()))
    }

    /// The current HTML of root `index`'s region content (between its markers), from the same serializer
    /// as batches: use it to prerender the page.
    pub fn root_html(&mut self, index: usize) -> Option<String> {
        let id = self.root_component(index)?;
        self.components.get(&id)?;
        let mut html = String::new();
        self.serialize_component(id, &mut html, false);
        Some(html)
    }

    /// The failure that finished this renderer, if any.
    pub fn failure(&self) -> Option<&RenderError> {
        self.failure.as_ref()
    }

    /// Number of live components.
    pub fn component_count(&self) -> usize {
        self.components.len()
    }

    /// Number of live handler ids.
    pub fn handler_count(&self) -> usize {
        self.handlers.len()
    }

    /// Whether handles queued updates not yet processed.
    pub fn has_messages(&self) -> bool {
        !self.shared.inbox.lock().messages.is_empty()
    }

    /// Async work spawned by components since the last call: run each on the host's executor.
    pub fn take_tasks(&mut self) -> Vec<Task> {
        std::mem::take(&mut self.shared.inbox.lock().tasks)
    }

    fn check_failed(&self) -> Result<(), RenderError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Applies the updates queued by handles (in order) and marks their components dirty; returns how
    /// many were processed. Updates for disposed components are dropped.
    pub fn process_messages(&mut self) -> Result<usize, RenderError> {
        self.check_failed()?;
        let messages = std::mem::take(&mut self.shared.inbox.lock().messages);
        let count = messages.len();
        for message in messages {
            let Some(entry) = self.components.get_mut(&message.component) else {
                tracing::debug!(
                    component = message.component.0,
                    "update for a disposed component dropped"
                );
                continue;
            };
            if let Some(apply) = message.apply {
                if let Err(e) = catch(|| entry.component.apply(apply)) {
                    self.record_error(message.component, e);
                    continue;
                }
            }
            self.mark_dirty(message.component);
        }
        self.handle_errors()?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    /// Every component keeps one boxed entry for its life; at 200 bytes it fits the allocator's 208-byte
    /// class (a field more takes it to 224). docs/performance.md, "What an idle circuit holds".
    #[test]
    fn a_component_entry_stays_within_200_bytes() {
        assert!(std::mem::size_of::<super::Entry>() <= 200);
    }
}
