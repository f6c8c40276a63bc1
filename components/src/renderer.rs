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
//! - **Failures.** A panic or unrenderable markup in a component goes to its nearest ancestor whose
//!   [`Component::catch_error`] accepts it (an error boundary), which re-renders. Without one the renderer
//!   is failed: every later call returns the [`RenderError`].

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::batch::{ComponentId, Edit, EditSink, PropertyValue, RenderBatch};
use crate::component::{
    create_root, AnyComponent, ChildSpec, Component, Handle, Inbox, Rendered, Shared, Task,
};
use crate::error::{EventError, MountError, RenderError};
use crate::event::{ChangeEvent, EventData, EventKind};
use crate::tree::{self, Node, NodeIndex, NodeKind, Tree};

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
    new: &'t mut Tree,
    specs: Vec<Option<ChildSpec>>,
    component: ComponentId,
    depth: u32,
}

/// One circuit's components, their last rendered trees and handler table. See the module docs.
pub struct Renderer {
    registry: Arc<ComponentRegistry>,
    shared: Arc<Shared>,
    components: HashMap<ComponentId, Entry>,
    roots: Vec<Root>,
    handlers: HashMap<u32, HandlerEntry>,
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
            }),
            components: HashMap::new(),
            roots: Vec::new(),
            handlers: HashMap::new(),
            next_node_id: 1,
            next_handler_id: 1,
            next_component_id: 1,
            next_batch_id: 1,
            dirty: BTreeSet::new(),
            pass: Pass::default(),
            failure: None,
        }
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
        let component = factory(props).map_err(|reason| MountError::InvalidProps {
            type_name: type_name.to_owned(),
            reason,
        })?;
        self.mount(component)
    }

    /// Mounts a root component from typed props (tests, or hosts that build roots in code).
    pub fn mount_root_component<C: Component>(
        &mut self,
        props: C::Props,
    ) -> Result<usize, MountError> {
        self.check_failed().map_err(MountError::Failed)?;
        self.mount(create_root::<C>(props))
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
        let top = std::mem::take(&mut tree.top);
        for &n in &top {
            self.serialize(&mut tree, n, &mut html, false, false);
        }
        tree.top = top;
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
        let Some(index) = tree.nodes.iter().position(|n| match &n.kind {
            NodeKind::Element(e) => e.events.iter().any(|b| b.handler_id == handler_id),
            _ => false,
        }) else {
            return;
        };
        let NodeKind::Element(el) = &mut tree.nodes[index].kind else {
            return;
        };
        match &*el.tag {
            "input" => {
                if let Some(checked) = change.checked {
                    let at = el.attrs.iter().position(|(n, _)| &**n == "checked");
                    match (checked, at) {
                        (true, None) => el.attrs.push(("checked".into(), "".into())),
                        (false, Some(at)) => {
                            el.attrs.remove(at);
                        }
                        _ => {}
                    }
                } else if let Some(attr) = el.attrs.iter_mut().find(|(n, _)| &**n == "value") {
                    attr.1 = change.value.as_str().into();
                }
            }
            "select" => {
                let chosen: Vec<&str> = match &change.values {
                    Some(values) => values.iter().map(String::as_str).collect(),
                    None => vec![change.value.as_str()],
                };
                let options: Vec<NodeIndex> = el.children.clone();
                for option in options {
                    let value = option_value(tree, option);
                    let NodeKind::Element(opt) = &mut tree.node_mut(option).kind else {
                        continue;
                    };
                    if &*opt.tag != "option" {
                        continue;
                    }
                    let selected = value.as_deref().is_some_and(|v| chosen.contains(&v));
                    let at = opt.attrs.iter().position(|(n, _)| &**n == "selected");
                    match (selected, at) {
                        (true, None) => opt.attrs.push(("selected".into(), "".into())),
                        (false, Some(at)) => {
                            opt.attrs.remove(at);
                        }
                        _ => {}
                    }
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
        let top = std::mem::take(&mut tree.top);
        for &n in &top {
            self.serialize(&mut tree, n, &mut html, true, false);
        }
        tree.top = top;
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
            Entry {
                component,
                type_id,
                tree: Tree::default(),
                parent,
                depth,
                end_anchor: 0,
            },
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

    /// Renders a component and parses its markup; failures are recorded.
    fn render_tree(&mut self, id: ComponentId) -> Option<(Tree, Vec<Option<ChildSpec>>)> {
        let shared = self.shared.clone();
        let entry = self.components.get_mut(&id)?;
        let rendered = match catch(|| entry.component.render(id, &shared)) {
            Ok(r) => r,
            Err(e) => {
                self.record_error(id, e);
                return None;
            }
        };
        match check_tree(rendered) {
            Ok(result) => Some(result),
            Err(e) => {
                self.record_error(id, e);
                None
            }
        }
    }

    fn render_fresh(&mut self, id: ComponentId) {
        let Some((mut tree, mut specs)) = self.render_tree(id) else {
            return;
        };
        let depth = self.components[&id].depth;
        let top = std::mem::take(&mut tree.top);
        for &n in &top {
            self.prepare(&mut tree, n, id, depth, &mut specs);
        }
        tree.top = top;
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = tree;
        }
        self.pass.rendered.push((id, true));
    }

    fn rerender(&mut self, id: ComponentId) {
        let Some((mut new, specs)) = self.render_tree(id) else {
            return;
        };
        let entry = self.components.get_mut(&id).expect("checked by caller");
        let old = std::mem::take(&mut entry.tree);
        let (depth, end) = (entry.depth, entry.end_anchor);
        let new_top = std::mem::take(&mut new.top);
        let mut st = DiffState {
            old: &old,
            new: &mut new,
            specs,
            component: id,
            depth,
        };
        self.diff_children(&mut st, &old.top, &new_top, Parent::Range(end));
        new.top = new_top;
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = new;
        }
        self.pass.rendered.push((id, false));
    }

    /// Gives a new subtree's bindings fresh handler ids and creates its child components, in pre-order.
    fn prepare(
        &mut self,
        tree: &mut Tree,
        index: NodeIndex,
        component: ComponentId,
        depth: u32,
        specs: &mut [Option<ChildSpec>],
    ) {
        match &mut tree.node_mut(index).kind {
            NodeKind::Element(el) => {
                for binding in &mut el.events {
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
                let children = std::mem::take(&mut el.children);
                for &c in &children {
                    self.prepare(tree, c, component, depth, specs);
                }
                if let NodeKind::Element(el) = &mut tree.node_mut(index).kind {
                    el.children = children;
                }
            }
            NodeKind::Slot { spec, .. } => {
                let spec = specs[*spec as usize]
                    .take()
                    .expect("check_tree: each spec once");
                let child =
                    self.create_component((spec.create)(spec.props), Some(component), depth + 1);
                if let NodeKind::Slot { component, .. } = &mut tree.node_mut(index).kind {
                    *component = child.0;
                }
            }
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }

    /// Writes a node as HTML; with `assign`, numbers it (and its subtree) in pre-order.
    fn serialize(
        &mut self,
        tree: &mut Tree,
        index: NodeIndex,
        out: &mut String,
        assign: bool,
        raw_text: bool,
    ) {
        if assign {
            let id = self.alloc_node_id();
            tree.node_mut(index).id = id;
        }
        match &mut tree.node_mut(index).kind {
            NodeKind::Text(text) => {
                if raw_text {
                    out.push_str(text);
                } else {
                    tree::escape_text(text, out);
                }
            }
            NodeKind::Raw(html) => {
                out.push_str("<!--t:raw-->");
                out.push_str(html);
                out.push_str("<!--/t-->");
                if assign {
                    self.alloc_node_id();
                }
            }
            NodeKind::Slot { component, .. } => {
                let child = ComponentId(*component);
                out.push_str("<!--t:c-->");
                if let Some(entry) = self.components.get_mut(&child) {
                    let mut child_tree = std::mem::take(&mut entry.tree);
                    let top = std::mem::take(&mut child_tree.top);
                    for &n in &top {
                        self.serialize(&mut child_tree, n, out, assign, false);
                    }
                    child_tree.top = top;
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
            NodeKind::Element(el) => {
                out.push('<');
                out.push_str(&el.tag);
                for (name, value) in &el.attrs {
                    out.push(' ');
                    out.push_str(name);
                    out.push_str("=\"");
                    tree::escape_attr(value, out);
                    out.push('"');
                }
                for b in &el.events {
                    out.push(' ');
                    out.push_str(b.kind.attribute());
                    out.push_str("=\"");
                    tree::binding_value(b.handler_id, b.flags, out);
                    out.push('"');
                }
                out.push('>');
                if tree::is_void(&el.tag) {
                    return;
                }
                let raw_text = matches!(&*el.tag, "script" | "style");
                let tag = el.tag.clone();
                let children = std::mem::take(&mut el.children);
                for &c in &children {
                    self.serialize(tree, c, out, assign, raw_text);
                }
                if let NodeKind::Element(el) = &mut tree.node_mut(index).kind {
                    el.children = children;
                }
                out.push_str("</");
                out.push_str(&tag);
                out.push('>');
            }
        }
    }

    fn same_kind(&self, st: &DiffState<'_>, old: &Node, new: &Node) -> bool {
        if old.key != new.key {
            return false;
        }
        match (&old.kind, &new.kind) {
            (NodeKind::Element(a), NodeKind::Element(b)) => a.tag == b.tag,
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
    ) {
        let old = st.old;
        let (n_old, n_new) = (old_list.len(), new_list.len());
        let mut start = 0;
        while start < n_old
            && start < n_new
            && self.same_kind(st, old.node(old_list[start]), st.new.node(new_list[start]))
        {
            start += 1;
        }
        let (mut end_old, mut end_new) = (n_old, n_new);
        while end_old > start
            && end_new > start
            && self.same_kind(
                st,
                old.node(old_list[end_old - 1]),
                st.new.node(new_list[end_new - 1]),
            )
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
                || mid_new.iter().any(|&i| st.new.node(i).key.is_some());
            if keyed {
                let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(mid_old.len());
                let mut unkeyed_old = Vec::new();
                for (pos, &i) in mid_old.iter().enumerate() {
                    match &old.node(i).key {
                        Some(k) => {
                            by_key.insert(k, pos);
                        }
                        None => unkeyed_old.push(pos),
                    }
                }
                let mut next_unkeyed = unkeyed_old.into_iter();
                for (k, &i) in mid_new.iter().enumerate() {
                    let candidate = match &st.new.node(i).key {
                        Some(key) => by_key.get(&**key).copied(),
                        None => next_unkeyed.next(),
                    };
                    if let Some(pos) = candidate {
                        if !old_used[pos]
                            && self.same_kind(st, old.node(mid_old[pos]), st.new.node(i))
                        {
                            matched[k] = Some(pos);
                            old_used[pos] = true;
                        }
                    }
                }
            } else {
                for k in 0..mid_new.len().min(mid_old.len()) {
                    if self.same_kind(st, old.node(mid_old[k]), st.new.node(mid_new[k])) {
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
            self.diff_node(st, old_list[k - end_new + end_old], new_list[k]);
            anchor = Some(st.new.node(new_list[k]).id);
        }
        let mut k = mid_new.len();
        while k > 0 {
            k -= 1;
            if let Some(pos) = matched[k] {
                self.diff_node(st, mid_old[pos], mid_new[k]);
                let node = st.new.node(mid_new[k]).id;
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
                    self.prepare(st.new, n, st.component, st.depth, &mut st.specs);
                }
                let first_id = self.next_node_id;
                let mut html = String::new();
                for &n in run {
                    self.serialize(st.new, n, &mut html, true, false);
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
            self.diff_node(st, old_list[k], new_list[k]);
        }
    }

    fn diff_node(&mut self, st: &mut DiffState<'_>, old_index: NodeIndex, new_index: NodeIndex) {
        let old_node = st.old.node(old_index);
        let id = old_node.id;
        let component = st.component;
        st.new.node_mut(new_index).id = id;
        match (&old_node.kind, &mut st.new.node_mut(new_index).kind) {
            (NodeKind::Text(a), NodeKind::Text(b)) => {
                if a != b {
                    self.pass.batch.push_edit(
                        component,
                        Edit::SetText {
                            node: id,
                            text: b.to_string(),
                        },
                    );
                }
            }
            (NodeKind::Raw(a), NodeKind::Raw(b)) => {
                if a != b {
                    self.pass.batch.push_edit(
                        component,
                        Edit::ReplaceRaw {
                            node: id,
                            html: b.to_string(),
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
                    if !entry.component.props_equal(&*spec.props) {
                        match catch(|| entry.component.set_props(spec.props, child, &shared)) {
                            Ok(()) => self.mark_dirty(child),
                            Err(e) => self.record_error(child, e),
                        }
                    }
                }
            }
            (NodeKind::Element(old_el), NodeKind::Element(new_el)) => {
                let tag = &*new_el.tag;
                for (i, (name, value)) in new_el.attrs.iter().enumerate() {
                    let old_value = match old_el.attrs.get(i) {
                        Some((n, v)) if n == name => Some(v),
                        _ => old_el.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v),
                    };
                    if old_value == Some(value) {
                        continue;
                    }
                    let edit = match is_property(tag, name) {
                        Some("value") => Edit::SetProperty {
                            node: id,
                            name: "value",
                            value: PropertyValue::Text(value.to_string()),
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
                            name: name.to_string(),
                            value: value.to_string(),
                        },
                    };
                    self.pass.batch.push_edit(component, edit);
                }
                for (i, (name, _)) in old_el.attrs.iter().enumerate() {
                    let present = match new_el.attrs.get(i) {
                        Some((n, _)) if n == name => true,
                        _ => new_el.attrs.iter().any(|(n, _)| n == name),
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
                            name: name.to_string(),
                        },
                    };
                    self.pass.batch.push_edit(component, edit);
                }
                for binding in &mut new_el.events {
                    match old_el.events.iter().find(|b| b.kind == binding.kind) {
                        Some(old_binding) => {
                            binding.handler_id = old_binding.handler_id;
                            if old_binding.render_index != binding.render_index {
                                if let Some(h) = self.handlers.get_mut(&binding.handler_id) {
                                    h.index = binding.render_index;
                                }
                            }
                            if old_binding.flags != binding.flags {
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
                            let mut value = String::new();
                            tree::binding_value(handler_id, binding.flags, &mut value);
                            self.pass.batch.push_edit(
                                component,
                                Edit::SetAttribute {
                                    node: id,
                                    name: binding.kind.attribute().to_owned(),
                                    value,
                                },
                            );
                        }
                    }
                }
                for old_binding in &old_el.events {
                    if !new_el.events.iter().any(|b| b.kind == old_binding.kind) {
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
                let new_children = std::mem::take(&mut new_el.children);
                self.diff_children(st, &old_el.children, &new_children, Parent::Element(id));
                if let NodeKind::Element(el) = &mut st.new.node_mut(new_index).kind {
                    el.children = new_children;
                }
            }
            _ => unreachable!("diff_node is only called on same_kind pairs"),
        }
    }

    fn dispose_handler(&mut self, id: u32) {
        if self.handlers.remove(&id).is_some() {
            self.pass.batch.disposed_handlers.push(id);
        }
    }

    fn dispose_subtree(&mut self, tree: &Tree, index: NodeIndex) {
        match &tree.node(index).kind {
            NodeKind::Element(el) => {
                for b in &el.events {
                    self.dispose_handler(b.handler_id);
                }
                for &c in &el.children {
                    self.dispose_subtree(tree, c);
                }
            }
            NodeKind::Slot { component, .. } => self.dispose_component(ComponentId(*component)),
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }

    fn dispose_component(&mut self, id: ComponentId) {
        let Some(mut entry) = self.components.remove(&id) else {
            return;
        };
        let tree = std::mem::take(&mut entry.tree);
        for &n in &tree.top {
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

fn option_value(tree: &Tree, option: NodeIndex) -> Option<String> {
    let NodeKind::Element(opt) = &tree.node(option).kind else {
        return None;
    };
    if let Some((_, v)) = opt.attrs.iter().find(|(n, _)| &**n == "value") {
        return Some(v.to_string());
    }
    let mut text = String::new();
    for &c in &opt.children {
        if let NodeKind::Text(t) = &tree.node(c).kind {
            text.push_str(t);
        }
    }
    Some(text)
}

/// Parses a render's markup and checks what the diff relies on: binding and slot placeholders come from
/// this render, each slot once, and sibling keys are unique. Slot nodes get their spec's key.
fn check_tree(rendered: Rendered) -> Result<(Tree, Vec<Option<ChildSpec>>), String> {
    let mut tree = tree::parse(&rendered.html).map_err(|e| e.to_string())?;
    let mut specs: Vec<Option<ChildSpec>> = rendered.children.into_iter().map(Some).collect();
    let mut used = vec![false; specs.len()];
    for node in &mut tree.nodes {
        match &node.kind {
            NodeKind::Element(el) => {
                for b in &el.events {
                    match rendered.handler_kinds.get(b.render_index as usize) {
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
            }
            NodeKind::Slot { spec, .. } => {
                let spec = *spec as usize;
                if spec >= specs.len() || used[spec] {
                    return Err(format!(
                        "child component placeholder {spec} is not from this render or is used twice"
                    ));
                }
                used[spec] = true;
                node.key = specs[spec].as_mut().and_then(|s| s.key.take());
            }
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }
    for spec in specs.iter_mut().zip(&used) {
        if !*spec.1 {
            // A child that was created but not placed in the markup is simply not shown.
            *spec.0 = None;
        }
    }
    check_unique_keys(&tree, &tree.top)?;
    for node in &tree.nodes {
        if let NodeKind::Element(el) = &node.kind {
            check_unique_keys(&tree, &el.children)?;
        }
    }
    Ok((tree, specs))
}

fn check_unique_keys(tree: &Tree, siblings: &[NodeIndex]) -> Result<(), String> {
    let mut keys = siblings.iter().filter_map(|&i| tree.node(i).key.as_deref());
    let Some(first) = keys.next() else {
        return Ok(());
    };
    let mut seen: HashSet<&str> = HashSet::with_capacity(siblings.len());
    seen.insert(first);
    for key in keys {
        if !seen.insert(key) {
            return Err(format!("duplicate key `{key}` among siblings"));
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
