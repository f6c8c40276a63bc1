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
//!   component's latest render or the component is disposed; it is then listed in the batch's `dh`, and
//!   events naming it are rejected ([`EventError::UnknownHandler`]) without running anything.
//! - **Batches.** One render pass makes at most one batch; ids count 1, 2, 3… and an empty pass makes none.
//!   Inside a batch, root attachments (op 11) come first, then component edit lists in render order:
//!   components render parents before children (by depth), so a parent's edits precede the edits of the
//!   children it re-rendered.
//! - **Prerendering** is deterministic: a fresh renderer that mounts the same roots with the same props in
//!   the same order assigns the same handler ids, so [`Renderer::root_html`] from one renderer matches the
//!   op 11 HTML of another (the client then keeps the prerendered DOM).
//! - **Re-rendering** a dirty component takes one of three paths, each producing the same tree a full
//!   parse would (the unit tests in `tree.rs` and the property tests check this): markup identical to
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

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::batch::{ComponentId, Edit, EditSink, PropertyValue, RenderBatch};
use crate::component::{
    create_root, AnyComponent, ChildSpec, Component, Handle, Inbox, PreviousChild,
    PreviousChildren, Rendered, Shared, SpecProps, Task,
};
use crate::error::{EventError, MountError, RenderError};
use crate::event::{ChangeEvent, EventData, EventKind};
use crate::hash::{FastMap, FastSet};
use crate::services::Services;
use crate::tree::{self, Attr, Binding, NodeIndex, NodeKind, Shape, Span, Tree, TreeMut};

type RootFactory = fn(&Value) -> Result<Box<dyn AnyComponent>, String>;

/// Root component types constructible by name from JSON props (the prerender descriptors' names).
#[derive(Default)]
pub struct ComponentRegistry {
    types: HashMap<String, RootFactory>,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.types.keys()).finish()
    }
}

fn root_factory<C: Component>(props: &Value) -> Result<Box<dyn AnyComponent>, String>
where
    C::Props: DeserializeOwned,
{
    let props: C::Props =
        serde::Deserialize::deserialize(props).map_err(|e: serde_json::Error| e.to_string())?;
    Ok(create_root::<C>(props))
}

impl ComponentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `C` under `name`, replacing any earlier registration of that name.
    pub fn register<C: Component>(&mut self, name: impl Into<String>) -> &mut Self
    where
        C::Props: DeserializeOwned,
    {
        self.types.insert(name.into(), root_factory::<C>);
        self
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
}

struct Entry {
    component: Box<dyn AnyComponent>,
    type_id: TypeId,
    tree: Tree,
    parent: Option<ComponentId>,
    depth: u32,
    /// Id of the marker that ends this component's range (slot end or root region end).
    end_anchor: u32,
}

#[derive(Clone, Copy)]
struct HandlerEntry {
    component: ComponentId,
    index: u32,
    kind: EventKind,
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

/// Where a sibling list lives: inside an element, or at a component's top level (ended by a marker).
#[derive(Clone, Copy)]
enum Parent {
    Element(u32),
    Range(u32),
}

struct DiffState<'t> {
    old: &'t Tree,
    new: TreeMut<'t>,
    specs: Vec<Option<ChildSpec>>,
    component: ComponentId,
    depth: u32,
}

/// A re-rendering component's children as its last render placed them: slot `i` in pre-order usually
/// holds spec `i` (maud writes children in the order `cx.child` made them); other layouts are not
/// looked up, and their props are boxed as for a first render.
struct PreviousSlots<'a> {
    tree: &'a Tree,
    components: &'a FastMap<ComponentId, Box<Entry>>,
}

impl PreviousChildren for PreviousSlots<'_> {
    fn len(&self) -> usize {
        self.tree.shape.slots.len()
    }

    fn key_bytes(&self) -> usize {
        // Keys are appended after the markup (recorded form values too, which only overestimates).
        self.tree.shape.src.len() - self.tree.shape.markup_len
    }

    fn child(&self, index: u32) -> Option<PreviousChild<'_>> {
        let &slot = self.tree.shape.slots.get(index as usize)?;
        let node = self.tree.node(slot);
        let NodeKind::Slot { spec, component } = node.kind else {
            return None;
        };
        if spec != index {
            return None;
        }
        let id = ComponentId(component);
        let entry = self.components.get(&id)?;
        Some(PreviousChild {
            key: node.key.map(|k| self.tree.shape.str(k)),
            id,
            type_id: entry.type_id,
            component: &*entry.component,
        })
    }
}

/// One circuit's components, their last rendered trees and handler table. See the module docs.
pub struct Renderer {
    registry: Arc<ComponentRegistry>,
    shared: Arc<Shared>,
    /// Boxed so the map's spare buckets stay small (a counter circuit has one entry).
    components: FastMap<ComponentId, Box<Entry>>,
    roots: Vec<Root>,
    handlers: FastMap<u32, HandlerEntry>,
    next_node_id: u32,
    next_handler_id: u32,
    next_component_id: u32,
    next_batch_id: u64,
    dirty: BTreeSet<(u32, ComponentId)>,
    pass: Pass,
    failure: Option<RenderError>,
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

fn is_property(tag: &str, name: &str) -> Option<&'static str> {
    match (tag, name) {
        ("input", "value") => Some("value"),
        ("input", "checked") => Some("checked"),
        ("option", "selected") => Some("selected"),
        _ => None,
    }
}

/// Indices (into `seq`) of one longest strictly increasing subsequence.
fn longest_increasing(seq: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new();
    let mut prev = vec![usize::MAX; seq.len()];
    for i in 0..seq.len() {
        let pos = tails.partition_point(|&t| seq[t] < seq[i]);
        if pos > 0 {
            prev[i] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = vec![0; tails.len()];
    let mut k = tails.last().copied().unwrap_or(usize::MAX);
    for slot in out.iter_mut().rev() {
        *slot = k;
        k = prev[k];
    }
    out
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
            components: FastMap::default(),
            roots: Vec::new(),
            handlers: FastMap::default(),
            next_node_id: 1,
            next_handler_id: 1,
            next_component_id: 1,
            next_batch_id: 1,
            dirty: BTreeSet::new(),
            pass: Pass::default(),
            failure: None,
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
        let id = self.create_component(component, None, 0);
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
        (entry.type_id == TypeId::of::<C>()).then(|| Handle::new(id, self.shared.clone()))
    }

    /// The current HTML of root `index`'s region content (between its markers), from the same serializer
    /// as batches: use it to prerender the page.
    pub fn root_html(&mut self, index: usize) -> Option<String> {
        let id = self.root_component(index)?;
        let mut tree = std::mem::take(&mut self.components.get_mut(&id)?.tree);
        let mut html = String::new();
        {
            let mut t = tree.as_mut();
            let shape = t.shape;
            for &n in shape.kids(shape.top) {
                self.serialize(&mut t, n, &mut html, false);
            }
        }
        self.components.get_mut(&id)?.tree = tree;
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

    /// Whether a [`render`](Self::render) call would do work (dirty components or unattached roots).
    pub fn needs_render(&self) -> bool {
        !self.dirty.is_empty() || self.roots.iter().any(|r| !r.attached)
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

    /// Runs the handler `handler_id` for `event_name` with the client's `eventArgs` and marks its component
    /// dirty. For `input` and `change`, the reported value is first recorded as what the element shows.
    pub fn dispatch_event(
        &mut self,
        handler_id: u64,
        event_name: &str,
        args: &Value,
    ) -> Result<(), EventError> {
        self.check_failed().map_err(EventError::Failed)?;
        let entry = u32::try_from(handler_id)
            .ok()
            .and_then(|id| self.handlers.get(&id).copied())
            .ok_or(EventError::UnknownHandler { handler_id })?;
        if entry.kind.name() != event_name {
            return Err(EventError::WrongEvent {
                handler_id,
                bound: entry.kind,
                received: event_name.to_owned(),
            });
        }
        if matches!(entry.kind, EventKind::Input | EventKind::Change) {
            let change = ChangeEvent::decode(entry.kind, args)
                .map_err(|error| EventError::InvalidArgs { handler_id, error })?;
            self.record_value(entry.component, handler_id as u32, &change);
        }
        let Some(component) = self.components.get_mut(&entry.component) else {
            return Err(EventError::UnknownHandler { handler_id });
        };
        match catch(|| {
            component
                .component
                .call_handler(entry.index, entry.kind, args)
        }) {
            Ok(Ok(())) => {
                self.mark_dirty(entry.component);
                Ok(())
            }
            Ok(Err(error)) => Err(EventError::InvalidArgs { handler_id, error }),
            Err(message) => {
                self.record_error(entry.component, message);
                self.handle_errors().map_err(EventError::Failed)
            }
        }
    }

    /// Records the browser's value on the element bound to `handler_id`, so re-rendering that value emits
    /// nothing. Only controlled fields are recorded: an `input` with a `value` attribute, checkboxes and
    /// radios (`checked`), and `select` (the `selected` options).
    fn record_value(&mut self, component: ComponentId, handler_id: u32, change: &ChangeEvent) {
        let Some(entry) = self.components.get_mut(&component) else {
            return;
        };
        let tree = &mut entry.tree;
        let found = tree.nodes.iter().position(|n| match n.kind {
            NodeKind::Element { events, .. } => tree.events[events.range()]
                .iter()
                .any(|b| b.handler_id == handler_id),
            _ => false,
        });
        let Some(index) = found else {
            return;
        };
        tree.recorded = true;
        let NodeKind::Element { tag, kids, .. } = tree.nodes[index].kind else {
            return;
        };
        let tag = tree.shape.str(tag).to_ascii_lowercase();
        match tag.as_str() {
            "input" => {
                if let Some(checked) = change.checked {
                    set_flag_attr(tree, index, "checked", checked);
                } else {
                    let NodeKind::Element { attrs, .. } = tree.nodes[index].kind else {
                        return;
                    };
                    if let Some(at) = tree.shape.find_attr(attrs, "value") {
                        let mut escaped = String::new();
                        tree::escape_like_maud(&change.value, &mut escaped);
                        let value = tree.shape.push_str(&escaped);
                        tree.shape.attrs[at].value = value;
                    }
                }
            }
            "select" => {
                let chosen: Vec<&str> = match &change.values {
                    Some(values) => values.iter().map(String::as_str).collect(),
                    None => vec![change.value.as_str()],
                };
                let options: Vec<NodeIndex> = tree.shape.kids(kids).to_vec();
                for option in options {
                    let Some(value) = option_value(tree, option) else {
                        continue;
                    };
                    set_flag_attr(tree, option as usize, "selected", chosen.contains(&&*value));
                }
            }
            _ => {}
        }
    }

    /// Runs a render pass over the dirty components; returns the batch, or `None` when nothing changed.
    pub fn render(&mut self) -> Result<Option<RenderBatch>, RenderError> {
        self.check_failed()?;
        for root in 0..self.roots.len() {
            if !self.roots[root].attached {
                self.attach(root);
            }
        }
        loop {
            while let Some((_, id)) = self.dirty.pop_first() {
                if self.components.contains_key(&id) {
                    self.rerender(id);
                }
            }
            self.handle_errors()?;
            if self.dirty.is_empty() {
                break;
            }
        }
        let mut rendered = std::mem::take(&mut self.pass.rendered);
        rendered.sort_by_key(|&(id, first)| (id, !first));
        rendered.dedup_by_key(|&mut (id, _)| id);
        for (id, first) in rendered {
            let shared = self.shared.clone();
            let Some(entry) = self.components.get_mut(&id) else {
                continue;
            };
            match catch(|| entry.component.after_render(first, id, &shared)) {
                Ok(true) => self.mark_dirty(id),
                Ok(false) => {}
                Err(e) => self.record_error(id, e),
            }
        }
        self.handle_errors()?;
        if !self.dirty.is_empty() {
            if let Some(notify) = &self.shared.notify {
                notify();
            }
        }
        let mut batch = std::mem::take(&mut self.pass.batch);
        if batch.is_empty() {
            return Ok(None);
        }
        batch.id = self.next_batch_id;
        self.next_batch_id += 1;
        Ok(Some(batch))
    }

    fn attach(&mut self, root: usize) {
        self.roots[root].attached = true;
        let id = self.roots[root].component;
        let Some(entry) = self.components.get_mut(&id) else {
            return;
        };
        let mut tree = std::mem::take(&mut entry.tree);
        let first_id = self.alloc_node_id();
        let mut html = String::new();
        {
            let mut t = tree.as_mut();
            let shape = t.shape;
            for &n in shape.kids(shape.top) {
                self.serialize(&mut t, n, &mut html, true);
            }
        }
        let end = self.alloc_node_id();
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = tree;
            entry.end_anchor = end;
        }
        self.pass.batch.push_edit(
            id,
            Edit::Attach {
                root: root as u32,
                html,
                first_id,
            },
        );
    }

    fn alloc_node_id(&mut self) -> u32 {
        let id = self.next_node_id;
        self.next_node_id += 1;
        id
    }

    fn mark_dirty(&mut self, id: ComponentId) {
        if let Some(entry) = self.components.get(&id) {
            self.dirty.insert((entry.depth, id));
        }
    }

    fn record_error(&mut self, component: ComponentId, message: String) {
        let (parent, name) = match self.components.get(&component) {
            Some(e) => (e.parent, e.component.type_name()),
            None => (None, "component"),
        };
        self.pass.errors.push(PendingError {
            parent,
            message: format!("{name}: {message}"),
        });
    }

    /// Routes recorded failures to error boundaries, or fails the renderer.
    fn handle_errors(&mut self) -> Result<(), RenderError> {
        let errors = std::mem::take(&mut self.pass.errors);
        for error in errors {
            let mut ancestor = error.parent;
            loop {
                let Some(id) = ancestor else {
                    tracing::warn!(error = %error.message, "uncaught component failure ends the renderer");
                    let failure = RenderError::new(error.message);
                    self.failure = Some(failure.clone());
                    return Err(failure);
                };
                let Some(entry) = self.components.get_mut(&id) else {
                    ancestor = None;
                    continue;
                };
                if catch(|| entry.component.catch_error(&error.message)) == Ok(true) {
                    self.mark_dirty(id);
                    break;
                }
                ancestor = self.components.get(&id).and_then(|e| e.parent);
            }
        }
        Ok(())
    }

    fn create_component(
        &mut self,
        component: Box<dyn AnyComponent>,
        parent: Option<ComponentId>,
        depth: u32,
    ) -> ComponentId {
        let id = ComponentId(self.next_component_id);
        self.next_component_id += 1;
        let type_id = component.type_id();
        self.components.insert(
            id,
            Box::new(Entry {
                component,
                type_id,
                tree: Tree::default(),
                parent,
                depth,
                end_anchor: 0,
            }),
        );
        let shared = self.shared.clone();
        let entry = self.components.get_mut(&id).expect("just inserted");
        // A render follows at once, so a render request from init needs no extra pass.
        if let Err(e) = catch(|| entry.component.init(id, &shared)) {
            self.record_error(id, e);
            return id;
        }
        self.render_fresh(id);
        id
    }

    /// Renders a component's markup; failures are recorded.
    fn render_markup(&mut self, id: ComponentId) -> Option<Rendered> {
        let shared = self.shared.clone();
        let result = if self.components.get(&id)?.tree.shape.slots.is_empty() {
            let entry = self.components.get_mut(&id)?;
            catch(|| entry.component.render(id, &shared, None))
        } else {
            // Out of the map while it renders, so its children can be looked up (their props are
            // compared in place as the parent places them).
            let mut entry = self.components.remove(&id)?;
            let result = {
                let Entry {
                    component, tree, ..
                } = &mut *entry;
                let previous = PreviousSlots {
                    tree,
                    components: &self.components,
                };
                catch(|| component.render(id, &shared, Some(&previous)))
            };
            self.components.insert(id, entry);
            result
        };
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                self.record_error(id, e);
                None
            }
        }
    }

    /// Boxes a copy of the props of every child spec that only pointed at an existing child's (equal)
    /// props, before a tree with child slots is diffed: the diff may match such a slot differently
    /// (or create a new child from it). Returns false when a `Clone` panicked (recorded).
    fn box_same_props(&mut self, id: ComponentId, children: &mut [ChildSpec]) -> bool {
        for spec in children {
            let SpecProps::Same(child) = spec.props else {
                continue;
            };
            let Some(entry) = self.components.get(&child) else {
                unreachable!("a child found while its parent rendered is still mounted")
            };
            match catch(|| entry.component.clone_props()) {
                Ok(props) => spec.props = SpecProps::New(props),
                Err(e) => {
                    self.record_error(id, e);
                    return false;
                }
            }
        }
        true
    }

    /// Renders a component and parses its markup; failures are recorded.
    fn render_tree(&mut self, id: ComponentId) -> Option<(Tree, Vec<Option<ChildSpec>>)> {
        let rendered = self.render_markup(id)?;
        self.parse_rendered(id, rendered)
    }

    fn parse_rendered(
        &mut self,
        id: ComponentId,
        rendered: Rendered,
    ) -> Option<(Tree, Vec<Option<ChildSpec>>)> {
        match check_tree(rendered) {
            Ok(result) => Some(result),
            Err(e) => {
                self.record_error(id, e);
                None
            }
        }
    }

    /// When a re-render produced exactly the markup of the last one (typical for a parent whose children
    /// only get new props), the tree the browser shows is unchanged: keep it, skip parsing and diffing,
    /// and only pass the new props to the child components. Gives the render back when it cannot.
    fn reuse_unchanged(&mut self, id: ComponentId, rendered: Rendered) -> Option<Rendered> {
        let Some(entry) = self.components.get(&id) else {
            return Some(rendered);
        };
        let tree = &entry.tree;
        if tree.recorded || tree.shape.src.get(..tree.shape.markup_len) != Some(&*rendered.html) {
            return Some(rendered);
        }
        let kinds_match = tree
            .events
            .iter()
            .all(|b| rendered.handler_kinds.get(b.render_index as usize) == Some(&b.kind));
        if !kinds_match || rendered.children.len() != tree.shape.slots.len() {
            return Some(rendered);
        }
        // Children whose props are not known to be equal (usually the few whose props changed).
        let mut changed = Vec::new();
        for &slot in &tree.shape.slots {
            let node = tree.node(slot);
            let NodeKind::Slot {
                spec: spec_index,
                component,
            } = node.kind
            else {
                return Some(rendered);
            };
            let Some(spec) = rendered.children.get(spec_index as usize) else {
                return Some(rendered);
            };
            match spec.props {
                SpecProps::Same(child) if child.0 == component => {}
                SpecProps::Same(_) => return Some(rendered),
                SpecProps::New(_) => {
                    let same_type = self
                        .components
                        .get(&ComponentId(component))
                        .is_some_and(|c| c.type_id == spec.type_id);
                    let key = spec
                        .key
                        .map(|(start, end)| &rendered.keys[start as usize..end as usize]);
                    let same_key = node.key.map(|k| tree.shape.str(k)) == key;
                    if !same_type || !same_key {
                        return Some(rendered);
                    }
                    changed.push((ComponentId(component), spec_index as usize));
                }
            }
        }
        let shared = self.shared.clone();
        let mut specs = rendered.children;
        for (child, index) in changed {
            let props = std::mem::replace(&mut specs[index].props, SpecProps::Same(child));
            let Some(entry) = self.components.get_mut(&child) else {
                continue;
            };
            if !entry.component.props_equal(props.as_any()) {
                let props = props.into_boxed();
                match catch(|| entry.component.set_props(props, child, &shared)) {
                    Ok(()) => self.mark_dirty(child),
                    Err(e) => self.record_error(child, e),
                }
            }
        }
        None
    }

    fn render_fresh(&mut self, id: ComponentId) {
        let Some((mut tree, mut specs)) = self.render_tree(id) else {
            return;
        };
        let depth = self.components[&id].depth;
        {
            let mut t = tree.as_mut();
            let shape = t.shape;
            for &n in shape.kids(shape.top) {
                self.prepare(&mut t, n, id, depth, &mut specs);
            }
        }
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = tree;
        }
        self.pass.rendered.push((id, true));
    }

    fn rerender(&mut self, id: ComponentId) {
        let Some(rendered) = self.render_markup(id) else {
            return;
        };
        // Each slot placeholder is used once per render, so the slot list matches the specs 1:1.
        let Some(mut rendered) = self.reuse_unchanged(id, rendered) else {
            self.pass.rendered.push((id, false));
            return;
        };
        let mut children = std::mem::take(&mut rendered.children);
        if !self.box_same_props(id, &mut children) {
            return;
        }
        rendered.children = children;
        let entry = self.components.get(&id).expect("checked by caller");
        let mut partial = None;
        if rendered.children.is_empty() {
            match tree::reparse(&entry.tree, std::mem::take(&mut rendered.html)) {
                Ok(reparsed) => partial = Some(reparsed),
                Err(html) => rendered.html = html,
            }
        }
        let (mut new, specs, changed) = match partial {
            Some(reparsed) => {
                if let Err(e) = check_reparsed(&reparsed, &rendered.handler_kinds) {
                    self.record_error(id, e);
                    return;
                }
                (reparsed.tree, Vec::new(), Some(reparsed.element))
            }
            None => {
                let Some((new, specs)) = self.parse_rendered(id, rendered) else {
                    return;
                };
                (new, specs, None)
            }
        };
        let entry = self.components.get_mut(&id).expect("checked by caller");
        let old = std::mem::take(&mut entry.tree);
        let (depth, end) = (entry.depth, entry.end_anchor);
        {
            let mut st = DiffState {
                old: &old,
                new: new.as_mut(),
                specs,
                component: id,
                depth,
            };
            match changed {
                // Only this element's content differs; everything else was copied with its ids.
                Some(element) => {
                    let (
                        NodeKind::Element { kids: old_kids, .. },
                        NodeKind::Element { kids: new_kids, .. },
                    ) = (old.node(element).kind, st.new.nodes[element as usize].kind)
                    else {
                        unreachable!("reparse returns an element")
                    };
                    let node = old.node(element).id;
                    let (old_list, new_list) =
                        (old.shape.kids(old_kids), st.new.shape.kids(new_kids));
                    self.diff_children(&mut st, old_list, new_list, Parent::Element(node), false);
                }
                None => {
                    let (old_top, new_top) = (
                        old.shape.kids(old.shape.top),
                        st.new.shape.kids(st.new.shape.top),
                    );
                    self.diff_children(&mut st, old_top, new_top, Parent::Range(end), false);
                }
            }
        }
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = new;
        }
        self.pass.rendered.push((id, false));
    }

    /// Gives a new subtree's bindings fresh handler ids and creates its child components, in pre-order.
    fn prepare(
        &mut self,
        t: &mut TreeMut<'_>,
        index: NodeIndex,
        component: ComponentId,
        depth: u32,
        specs: &mut [Option<ChildSpec>],
    ) {
        let shape = t.shape;
        match t.nodes[index as usize].kind {
            NodeKind::Element { events, kids, .. } => {
                for binding in &mut t.events[events.range()] {
                    let id = self.next_handler_id;
                    self.next_handler_id += 1;
                    binding.handler_id = id;
                    self.handlers.insert(
                        id,
                        HandlerEntry {
                            component,
                            index: binding.render_index,
                            kind: binding.kind,
                        },
                    );
                }
                for &c in shape.kids(kids) {
                    self.prepare(t, c, component, depth, specs);
                }
            }
            NodeKind::Slot { spec, .. } => {
                let spec = specs[spec as usize]
                    .take()
                    .expect("check_tree: each spec once");
                // A child whose `create` panics is left out (its slot stays empty) and the failure goes
                // to the nearest error boundary, as a panic in its render would.
                match catch(|| (spec.create)(spec.props.into_boxed())) {
                    Ok(created) => {
                        let child = self.create_component(created, Some(component), depth + 1);
                        if let NodeKind::Slot { component, .. } = &mut t.nodes[index as usize].kind
                        {
                            *component = child.0;
                        }
                    }
                    Err(panic) => self.pass.errors.push(PendingError {
                        parent: Some(component),
                        message: format!("a child component: create {panic}"),
                    }),
                }
            }
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }

    /// Writes a node as HTML; with `assign`, numbers it (and its subtree) in pre-order. Text and attribute
    /// values are written in their source (maud-escaped) form.
    fn serialize(&mut self, t: &mut TreeMut<'_>, index: NodeIndex, out: &mut String, assign: bool) {
        if assign {
            let id = self.alloc_node_id();
            t.nodes[index as usize].id = id;
        }
        let shape = t.shape;
        match t.nodes[index as usize].kind {
            NodeKind::Text(text) => out.push_str(shape.str(text)),
            NodeKind::Raw(html) => {
                out.push_str("<!--t:raw-->");
                out.push_str(shape.str(html));
                out.push_str("<!--/t-->");
                if assign {
                    self.alloc_node_id();
                }
            }
            NodeKind::Slot { component, .. } => {
                let child = ComponentId(component);
                out.push_str("<!--t:c-->");
                if let Some(entry) = self.components.get_mut(&child) {
                    let mut child_tree = std::mem::take(&mut entry.tree);
                    {
                        let mut ct = child_tree.as_mut();
                        let child_shape = ct.shape;
                        for &n in child_shape.kids(child_shape.top) {
                            self.serialize(&mut ct, n, out, assign);
                        }
                    }
                    let end = if assign { self.alloc_node_id() } else { 0 };
                    if let Some(entry) = self.components.get_mut(&child) {
                        entry.tree = child_tree;
                        if assign {
                            entry.end_anchor = end;
                        }
                    }
                } else if assign {
                    self.alloc_node_id();
                }
                out.push_str("<!--/t-->");
            }
            NodeKind::Element {
                tag,
                attrs,
                events,
                kids,
                ..
            } => {
                let tag = shape.str(tag);
                out.push('<');
                out.push_str(tag);
                for a in shape.attrs(attrs) {
                    out.push(' ');
                    out.push_str(shape.str(a.name));
                    out.push_str("=\"");
                    out.push_str(shape.str(a.value));
                    out.push('"');
                }
                for b in &t.events[events.range()] {
                    out.push(' ');
                    out.push_str(b.kind.attribute());
                    out.push_str("=\"");
                    tree::binding_value(b.handler_id, b.flags, out);
                    out.push('"');
                }
                out.push('>');
                if tree::is_void(tag) {
                    return;
                }
                for &c in shape.kids(kids) {
                    self.serialize(t, c, out, assign);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }

    fn same_kind(&self, st: &DiffState<'_>, old: NodeIndex, new: NodeIndex) -> bool {
        let (o, n) = (st.old.node(old), &st.new.nodes[new as usize]);
        let (os, ns) = (&st.old.shape, st.new.shape);
        match (o.key, n.key) {
            (None, None) => {}
            (Some(a), Some(b)) if os.str(a) == ns.str(b) => {}
            _ => return false,
        }
        match (&o.kind, &n.kind) {
            (NodeKind::Element { tag: a, .. }, NodeKind::Element { tag: b, .. }) => {
                os.str(*a) == ns.str(*b)
            }
            (NodeKind::Text(_), NodeKind::Text(_)) | (NodeKind::Raw(_), NodeKind::Raw(_)) => true,
            (NodeKind::Slot { component, .. }, NodeKind::Slot { spec, .. }) => {
                let old_type = self
                    .components
                    .get(&ComponentId(*component))
                    .map(|e| e.type_id);
                let new_type = st.specs[*spec as usize].as_ref().map(|s| s.type_id);
                old_type.is_some() && old_type == new_type
            }
            _ => false,
        }
    }

    fn diff_children(
        &mut self,
        st: &mut DiffState<'_>,
        old_list: &[NodeIndex],
        new_list: &[NodeIndex],
        parent: Parent,
        raw_text: bool,
    ) {
        let old = st.old;
        let (n_old, n_new) = (old_list.len(), new_list.len());
        let mut start = 0;
        while start < n_old && start < n_new && self.same_kind(st, old_list[start], new_list[start])
        {
            start += 1;
        }
        let (mut end_old, mut end_new) = (n_old, n_new);
        while end_old > start
            && end_new > start
            && self.same_kind(st, old_list[end_old - 1], new_list[end_new - 1])
        {
            end_old -= 1;
            end_new -= 1;
        }
        let mid_old = &old_list[start..end_old];
        let mid_new = &new_list[start..end_new];

        // Match the middle: keys win; unkeyed children pair up in order.
        let mut matched: Vec<Option<usize>> = vec![None; mid_new.len()];
        let mut old_used = vec![false; mid_old.len()];
        if !mid_old.is_empty() && !mid_new.is_empty() {
            let keyed = mid_old.iter().any(|&i| old.node(i).key.is_some())
                || mid_new
                    .iter()
                    .any(|&i| st.new.nodes[i as usize].key.is_some());
            if keyed {
                let mut by_key: FastMap<&str, usize> =
                    FastMap::with_capacity_and_hasher(mid_old.len(), Default::default());
                let mut unkeyed_old = Vec::new();
                for (pos, &i) in mid_old.iter().enumerate() {
                    match old.node(i).key {
                        Some(k) => {
                            by_key.insert(old.shape.str(k), pos);
                        }
                        None => unkeyed_old.push(pos),
                    }
                }
                let mut next_unkeyed = unkeyed_old.into_iter();
                let new_shape = st.new.shape;
                for (k, &i) in mid_new.iter().enumerate() {
                    let candidate = match st.new.nodes[i as usize].key {
                        Some(key) => by_key.get(new_shape.str(key)).copied(),
                        None => next_unkeyed.next(),
                    };
                    if let Some(pos) = candidate {
                        if !old_used[pos] && self.same_kind(st, mid_old[pos], i) {
                            matched[k] = Some(pos);
                            old_used[pos] = true;
                        }
                    }
                }
            } else {
                for k in 0..mid_new.len().min(mid_old.len()) {
                    if self.same_kind(st, mid_old[k], mid_new[k]) {
                        matched[k] = Some(k);
                        old_used[k] = true;
                    }
                }
            }
        }

        for (pos, &i) in mid_old.iter().enumerate() {
            if !old_used[pos] {
                self.pass.batch.push_edit(
                    st.component,
                    Edit::Remove {
                        node: old.node(i).id,
                    },
                );
                self.dispose_subtree(old, i);
            }
        }

        let matched_positions: Vec<usize> = matched.iter().flatten().copied().collect();
        let mut stays = vec![false; mid_new.len()];
        if !matched_positions.is_empty() {
            let lis = longest_increasing(&matched_positions);
            let mut lis_iter = lis.into_iter().peekable();
            let mut rank = 0;
            for (k, m) in matched.iter().enumerate() {
                if m.is_some() {
                    if lis_iter.peek() == Some(&rank) {
                        stays[k] = true;
                        lis_iter.next();
                    }
                    rank += 1;
                }
            }
        }

        // Place from the end, so each node's anchor (its next sibling) is already final.
        let mut anchor: Option<u32> = None;
        for k in (end_new..n_new).rev() {
            self.diff_node(st, old_list[k - end_new + end_old], new_list[k], raw_text);
            anchor = Some(st.new.nodes[new_list[k] as usize].id);
        }
        let mut k = mid_new.len();
        while k > 0 {
            k -= 1;
            if let Some(pos) = matched[k] {
                self.diff_node(st, mid_old[pos], mid_new[k], raw_text);
                let node = st.new.nodes[mid_new[k] as usize].id;
                if !stays[k] {
                    let edit = match (anchor, parent) {
                        (Some(anchor), _) | (None, Parent::Range(anchor)) => {
                            Edit::MoveBefore { node, anchor }
                        }
                        (None, Parent::Element(parent)) => Edit::MoveToEnd { node, parent },
                    };
                    self.pass.batch.push_edit(st.component, edit);
                }
                anchor = Some(node);
            } else {
                let last = k;
                while k > 0 && matched[k - 1].is_none() {
                    k -= 1;
                }
                let run = &mid_new[k..=last];
                for &n in run {
                    self.prepare(&mut st.new, n, st.component, st.depth, &mut st.specs);
                }
                let first_id = self.next_node_id;
                let mut html = String::new();
                for &n in run {
                    self.serialize(&mut st.new, n, &mut html, true);
                }
                let edit = match (anchor, parent) {
                    (Some(anchor), _) | (None, Parent::Range(anchor)) => Edit::InsertBefore {
                        anchor,
                        html,
                        first_id,
                    },
                    (None, Parent::Element(parent)) => Edit::Append {
                        parent,
                        html,
                        first_id,
                    },
                };
                self.pass.batch.push_edit(st.component, edit);
                anchor = Some(first_id);
            }
        }
        for k in (0..start).rev() {
            self.diff_node(st, old_list[k], new_list[k], raw_text);
        }
    }

    fn diff_node(
        &mut self,
        st: &mut DiffState<'_>,
        old_index: NodeIndex,
        new_index: NodeIndex,
        raw_text: bool,
    ) {
        let old = st.old;
        let new_shape = st.new.shape;
        let old_node = old.node(old_index);
        let id = old_node.id;
        let component = st.component;
        st.new.nodes[new_index as usize].id = id;
        match (&old_node.kind, &mut st.new.nodes[new_index as usize].kind) {
            (NodeKind::Text(a), NodeKind::Text(b)) => {
                let (a, b) = (old.shape.str(*a), new_shape.str(*b));
                if a != b {
                    let text = if raw_text {
                        b.to_owned()
                    } else {
                        tree::decode_entities(b)
                    };
                    self.pass
                        .batch
                        .push_edit(component, Edit::SetText { node: id, text });
                }
            }
            (NodeKind::Raw(a), NodeKind::Raw(b)) => {
                let (a, b) = (old.shape.str(*a), new_shape.str(*b));
                if a != b {
                    self.pass.batch.push_edit(
                        component,
                        Edit::ReplaceRaw {
                            node: id,
                            html: b.to_owned(),
                        },
                    );
                }
            }
            (
                NodeKind::Slot {
                    component: child, ..
                },
                NodeKind::Slot {
                    spec,
                    component: new_child,
                },
            ) => {
                *new_child = *child;
                let child = ComponentId(*child);
                let spec = st.specs[*spec as usize].take().expect("each spec once");
                let shared = self.shared.clone();
                if let Some(entry) = self.components.get_mut(&child) {
                    if !entry.component.props_equal(spec.props.as_any()) {
                        let props = spec.props.into_boxed();
                        match catch(|| entry.component.set_props(props, child, &shared)) {
                            Ok(()) => self.mark_dirty(child),
                            Err(e) => self.record_error(child, e),
                        }
                    }
                }
            }
            (
                NodeKind::Element {
                    attrs: old_attrs,
                    events: old_events,
                    kids: old_kids,
                    outer: old_outer,
                    end: old_end,
                    events_end: old_events_end,
                    ..
                },
                NodeKind::Element {
                    tag,
                    attrs: new_attrs,
                    events: new_events,
                    kids: new_kids,
                    outer: new_outer,
                    end: new_end,
                    events_end: new_events_end,
                    has_slot,
                    ..
                },
            ) => {
                // Same source text and no child components inside: the subtree is identical, including
                // binding render indices. Copy ids across instead of comparing node by node. A subtree
                // that differs only in render indices (rows after an insert, moved rows) is the same
                // nodes too: its handlers keep their ids and learn their new indices.
                if !*has_slot && !old.recorded {
                    let (old_ev, new_ev) = (old_events.start as usize, new_events.start as usize);
                    let (old_ev_end, new_ev_end) =
                        (*old_events_end as usize, *new_events_end as usize);
                    let identical = old.shape.str(*old_outer) == new_shape.str(*new_outer);
                    if identical
                        || tree::same_but_render_indices(
                            &old.shape,
                            *old_outer,
                            &old.events[old_ev..old_ev_end],
                            new_shape,
                            *new_outer,
                            &st.new.events[new_ev..new_ev_end],
                        )
                    {
                        let count = (*new_end - new_index) as usize;
                        debug_assert_eq!(count, (*old_end - old_index) as usize);
                        for i in 1..count {
                            st.new.nodes[new_index as usize + i].id =
                                old.nodes[old_index as usize + i].id;
                        }
                        for (old_b, new_b) in old.events[old_ev..old_ev_end]
                            .iter()
                            .zip(&mut st.new.events[new_ev..new_ev_end])
                        {
                            new_b.handler_id = old_b.handler_id;
                            if !identical && old_b.render_index != new_b.render_index {
                                if let Some(h) = self.handlers.get_mut(&new_b.handler_id) {
                                    h.index = new_b.render_index;
                                }
                            }
                        }
                        return;
                    }
                }
                let tag = new_shape.str(*tag);
                let (new_events, new_kids) = (*new_events, *new_kids);
                self.diff_attrs(
                    component,
                    id,
                    tag,
                    &old.shape,
                    old.shape.attrs(*old_attrs),
                    new_shape,
                    new_shape.attrs(*new_attrs),
                );
                let old_bindings = &old.events[old_events.range()];
                for binding in &mut st.new.events[new_events.range()] {
                    self.diff_binding(component, id, old_bindings, binding);
                }
                let new_bindings = &st.new.events[new_events.range()];
                for old_binding in old_bindings {
                    if !new_bindings.iter().any(|b| b.kind == old_binding.kind) {
                        self.dispose_handler(old_binding.handler_id);
                        self.pass.batch.push_edit(
                            component,
                            Edit::RemoveAttribute {
                                node: id,
                                name: old_binding.kind.attribute().to_owned(),
                            },
                        );
                    }
                }
                let raw_text = tree::is_raw_text(tag);
                self.diff_children(
                    st,
                    old.shape.kids(*old_kids),
                    new_shape.kids(new_kids),
                    Parent::Element(id),
                    raw_text,
                );
            }
            _ => unreachable!("diff_node is only called on same_kind pairs"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn diff_attrs(
        &mut self,
        component: ComponentId,
        id: u32,
        tag: &str,
        old_shape: &Shape,
        old_attrs: &[Attr],
        new_shape: &Shape,
        new_attrs: &[Attr],
    ) {
        for (i, a) in new_attrs.iter().enumerate() {
            let name = new_shape.str(a.name);
            let value = new_shape.str(a.value);
            // HTML attribute names are ASCII case-insensitive: the browser's parser lowercases them and
            // `setAttribute`/`removeAttribute` lowercase theirs, so `oc` and `OC` are one attribute.
            let old_value = match old_attrs.get(i) {
                Some(o) if old_shape.str(o.name).eq_ignore_ascii_case(name) => {
                    Some(old_shape.str(o.value))
                }
                _ => old_attrs
                    .iter()
                    .find(|o| old_shape.str(o.name).eq_ignore_ascii_case(name))
                    .map(|o| old_shape.str(o.value)),
            };
            if old_value == Some(value) {
                continue;
            }
            let edit = match is_property(tag, name) {
                Some("value") => Edit::SetProperty {
                    node: id,
                    name: "value",
                    value: PropertyValue::Text(tree::decode_entities(value)),
                },
                Some(prop) => {
                    if old_value.is_some() {
                        continue;
                    }
                    Edit::SetProperty {
                        node: id,
                        name: prop,
                        value: PropertyValue::Bool(true),
                    }
                }
                None => Edit::SetAttribute {
                    node: id,
                    name: name.to_owned(),
                    value: tree::decode_entities(value),
                },
            };
            self.pass.batch.push_edit(component, edit);
        }
        for (i, o) in old_attrs.iter().enumerate() {
            let name = old_shape.str(o.name);
            let present = match new_attrs.get(i) {
                Some(a) if new_shape.str(a.name).eq_ignore_ascii_case(name) => true,
                _ => new_attrs
                    .iter()
                    .any(|a| new_shape.str(a.name).eq_ignore_ascii_case(name)),
            };
            if present {
                continue;
            }
            let edit = match is_property(tag, name) {
                Some("value") => Edit::SetProperty {
                    node: id,
                    name: "value",
                    value: PropertyValue::Text(String::new()),
                },
                Some(prop) => Edit::SetProperty {
                    node: id,
                    name: prop,
                    value: PropertyValue::Bool(false),
                },
                None => Edit::RemoveAttribute {
                    node: id,
                    name: name.to_owned(),
                },
            };
            self.pass.batch.push_edit(component, edit);
        }
    }

    /// Gives a binding on a matched element its old handler id (same event) or a fresh one.
    fn diff_binding(
        &mut self,
        component: ComponentId,
        id: u32,
        old_bindings: &[Binding],
        binding: &mut Binding,
    ) {
        match old_bindings.iter().find(|b| b.kind == binding.kind) {
            Some(old_binding) => {
                binding.handler_id = old_binding.handler_id;
                if old_binding.render_index != binding.render_index {
                    if let Some(h) = self.handlers.get_mut(&binding.handler_id) {
                        h.index = binding.render_index;
                    }
                }
                if old_binding.flags == binding.flags {
                    return;
                }
            }
            None => {
                let handler_id = self.next_handler_id;
                self.next_handler_id += 1;
                binding.handler_id = handler_id;
                self.handlers.insert(
                    handler_id,
                    HandlerEntry {
                        component,
                        index: binding.render_index,
                        kind: binding.kind,
                    },
                );
            }
        }
        let mut value = String::new();
        tree::binding_value(binding.handler_id, binding.flags, &mut value);
        self.pass.batch.push_edit(
            component,
            Edit::SetAttribute {
                node: id,
                name: binding.kind.attribute().to_owned(),
                value,
            },
        );
    }

    fn dispose_handler(&mut self, id: u32) {
        if self.handlers.remove(&id).is_some() {
            self.pass.batch.disposed_handlers.push(id);
        }
    }

    fn dispose_subtree(&mut self, tree: &Tree, index: NodeIndex) {
        match tree.node(index).kind {
            NodeKind::Element { events, kids, .. } => {
                for b in &tree.events[events.range()] {
                    self.dispose_handler(b.handler_id);
                }
                for &c in tree.shape.kids(kids) {
                    self.dispose_subtree(tree, c);
                }
            }
            NodeKind::Slot { component, .. } => self.dispose_component(ComponentId(component)),
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }

    fn dispose_component(&mut self, id: ComponentId) {
        let Some(mut entry) = self.components.remove(&id) else {
            return;
        };
        let tree = std::mem::take(&mut entry.tree);
        for &n in tree.shape.kids(tree.shape.top) {
            self.dispose_subtree(&tree, n);
        }
        if let Err(e) = catch(|| entry.component.dispose()) {
            tracing::warn!(component = entry.component.type_name(), error = %e, "dispose failed");
        }
        self.pass.batch.disposed_components.push(id);
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        for (_, mut entry) in self.components.drain() {
            if let Err(e) = catch(|| entry.component.dispose()) {
                tracing::warn!(component = entry.component.type_name(), error = %e, "dispose failed");
            }
        }
    }
}

/// Sets or clears a boolean attribute of element `index` in a tree already rendered.
fn set_flag_attr(tree: &mut Tree, index: usize, name: &str, on: bool) {
    let NodeKind::Element { attrs, .. } = tree.nodes[index].kind else {
        return;
    };
    let at = tree.shape.find_attr(attrs, name);
    let new_range = match (on, at) {
        (true, None) => {
            // Ranges are contiguous: move the element's attributes to the end, plus the new one.
            let start = tree.shape.attrs.len();
            let copy: Vec<Attr> = tree.shape.attrs(attrs).to_vec();
            tree.shape.attrs.extend(copy);
            let name = tree.shape.push_str(name);
            tree.shape.attrs.push(Attr {
                name,
                value: tree::Span::default(),
            });
            tree::Span {
                start: start as u32,
                len: attrs.len + 1,
            }
        }
        (false, Some(at)) => {
            let last = (attrs.start + attrs.len - 1) as usize;
            tree.shape.attrs.swap(at, last);
            tree::Span {
                start: attrs.start,
                len: attrs.len - 1,
            }
        }
        _ => return,
    };
    if let NodeKind::Element { attrs, .. } = &mut tree.nodes[index].kind {
        *attrs = new_range;
    }
}

/// The value an `option` submits: its `value` attribute, else its text.
fn option_value(tree: &Tree, option: NodeIndex) -> Option<String> {
    let NodeKind::Element {
        tag, attrs, kids, ..
    } = tree.node(option).kind
    else {
        return None;
    };
    if !tree.shape.str(tag).eq_ignore_ascii_case("option") {
        return None;
    }
    if let Some(at) = tree.shape.find_attr(attrs, "value") {
        return Some(tree::decode_entities(
            tree.shape.str(tree.shape.attrs[at].value),
        ));
    }
    let mut text = String::new();
    for &c in tree.shape.kids(kids) {
        if let NodeKind::Text(t) = tree.node(c).kind {
            text.push_str(&tree::decode_entities(tree.shape.str(t)));
        }
    }
    Some(text)
}

/// The checks of [`check_tree`] for a partly re-parsed tree: bindings everywhere (render indices may
/// have moved), keys inside the re-parsed element.
fn check_reparsed(reparsed: &tree::Reparsed, kinds: &[EventKind]) -> Result<(), String> {
    let tree = &reparsed.tree;
    check_bindings(tree, kinds)?;
    let NodeKind::Element { kids, end, .. } = tree.node(reparsed.element).kind else {
        return Ok(());
    };
    check_unique_keys(tree, kids)?;
    for node in &tree.nodes[reparsed.element as usize + 1..end as usize] {
        if let NodeKind::Element { kids, .. } = node.kind {
            check_unique_keys(tree, kids)?;
        }
    }
    Ok(())
}

fn check_bindings(tree: &Tree, kinds: &[EventKind]) -> Result<(), String> {
    for b in &tree.events {
        match kinds.get(b.render_index as usize) {
            Some(&kind) if kind == b.kind => {}
            Some(&kind) => {
                return Err(format!(
                    "`{}` is given a handler made for `{kind}`: use cx.on_{}(…)",
                    b.kind.attribute(),
                    b.kind
                ))
            }
            None => {
                return Err(format!(
                    "`{}` names handler {} that this render did not bind: use the value cx.on_{}(…) returned",
                    b.kind.attribute(),
                    b.render_index,
                    b.kind
                ))
            }
        }
    }
    Ok(())
}

/// Parses a render's markup and checks what the diff relies on: binding and slot placeholders come from
/// this render, each slot once, and sibling keys are unique. Slot nodes get their spec's key.
fn check_tree(rendered: Rendered) -> Result<(Tree, Vec<Option<ChildSpec>>), String> {
    let mut tree = tree::parse(rendered.html).map_err(|e| e.to_string())?;
    let mut specs: Vec<Option<ChildSpec>> = rendered.children.into_iter().map(Some).collect();
    let mut used = vec![false; specs.len()];
    check_bindings(&tree, &rendered.handler_kinds)?;
    for i in 0..tree.nodes.len() {
        if let NodeKind::Slot { spec, .. } = tree.nodes[i].kind {
            let spec = spec as usize;
            if spec >= specs.len() || used[spec] {
                return Err(format!(
                    "child component placeholder {spec} is not from this render or is used twice"
                ));
            }
            used[spec] = true;
            if let Some((start, end)) = specs[spec].as_ref().and_then(|s| s.key) {
                let key = tree
                    .shape
                    .push_str(&rendered.keys[start as usize..end as usize]);
                tree.nodes[i].key = Some(key);
            }
        }
    }
    for (spec, used) in specs.iter_mut().zip(&used) {
        if !*used {
            // A child that was created but not placed in the markup is simply not shown.
            *spec = None;
        }
    }
    check_unique_keys(&tree, tree.shape.top)?;
    for node in &tree.nodes {
        if let NodeKind::Element { kids, .. } = node.kind {
            check_unique_keys(&tree, kids)?;
        }
    }
    Ok((tree, specs))
}

fn check_unique_keys(tree: &Tree, siblings: Span) -> Result<(), String> {
    let siblings = tree.shape.kids(siblings);
    let mut keys = siblings
        .iter()
        .filter_map(|&i| tree.node(i).key.map(|k| tree.shape.str(k)));
    let Some(first) = keys.next() else {
        return Ok(());
    };
    let mut seen: FastSet<&str> =
        FastSet::with_capacity_and_hasher(siblings.len(), Default::default());
    seen.insert(first);
    for key in keys {
        if !seen.insert(key) {
            return Err(format!(
                "duplicate key `{}` among siblings",
                tree::decode_entities(key)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::longest_increasing;

    #[test]
    fn lis_finds_a_longest_run() {
        let seq = [3, 0, 1, 4, 2, 5];
        let lis = longest_increasing(&seq);
        let values: Vec<usize> = lis.iter().map(|&i| seq[i]).collect();
        assert_eq!(values.len(), 4);
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        assert!(longest_increasing(&[]).is_empty());
        assert_eq!(longest_increasing(&[2, 1, 0]).len(), 1);
    }
}
