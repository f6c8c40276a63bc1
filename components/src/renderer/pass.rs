//! The render pass: re-render dirty components parents first, take the cheapest path that gives the tree a
//! full parse would (unchanged markup, partial re-parse, full parse), and diff it against the old tree.

use super::diff::{DiffState, Parent};
use super::validate::{check_reparsed, check_tree};
use super::{catch, Entry, PendingError, Renderer};
use crate::batch::{ComponentId, RenderBatch};
use crate::component::{ChildSpec, PreviousChild, PreviousChildren, Rendered, SpecProps};
use crate::error::RenderError;
use crate::small_map::SmallMap;
use crate::tree::{self, NodeIndex, NodeKind, Tree, TreeMut};

/// A re-rendering component's children as its last render placed them: slot `i` in pre-order usually
/// holds spec `i` (maud writes children in the order `cx.child` made them); other layouts are not
/// looked up, and their props are boxed as for a first render.
struct PreviousSlots<'a> {
    tree: &'a Tree,
    components: &'a SmallMap<ComponentId, Box<Entry>>,
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
            key: node.key().map(|k| self.tree.shape.str(k)),
            id,
            type_id: entry.component_type(),
            component: &*entry.component,
        })
    }
}

impl Renderer {
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

    /// Renders a component's markup; failures are recorded.
    pub(super) fn render_markup(&mut self, id: ComponentId) -> Option<Rendered> {
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
    pub(super) fn box_same_props(&mut self, id: ComponentId, children: &mut [ChildSpec]) -> bool {
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
    pub(super) fn render_tree(
        &mut self,
        id: ComponentId,
    ) -> Option<(Tree, Vec<Option<ChildSpec>>)> {
        let rendered = self.render_markup(id)?;
        self.parse_rendered(id, rendered)
    }

    pub(super) fn parse_rendered(
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
    pub(super) fn reuse_unchanged(
        &mut self,
        id: ComponentId,
        rendered: Rendered,
    ) -> Option<Rendered> {
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
                        .is_some_and(|c| c.component_type() == spec.type_id);
                    let key = spec
                        .key
                        .map(|(start, end)| &rendered.keys[start as usize..end as usize]);
                    let same_key = node.key().map(|k| tree.shape.str(k)) == key;
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

    pub(super) fn render_fresh(&mut self, id: ComponentId) {
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

    pub(super) fn rerender(&mut self, id: ComponentId) {
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
                        NodeKind::Element(tree::Element { kids: old_kids, .. }),
                        NodeKind::Element(tree::Element { kids: new_kids, .. }),
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
    pub(super) fn prepare(
        &mut self,
        t: &mut TreeMut<'_>,
        index: NodeIndex,
        component: ComponentId,
        depth: u32,
        specs: &mut [Option<ChildSpec>],
    ) {
        let shape = t.shape;
        match t.nodes[index as usize].kind {
            NodeKind::Element(el) => {
                let kids = el.kids;
                for binding in &mut t.events[el.events().range()] {
                    self.handlers.bind(component, binding);
                }
                for &c in shape.kids(kids) {
                    self.prepare(t, c, component, depth, specs);
                }
            }
            NodeKind::Slot { spec: position, .. } => {
                let spec = specs[position as usize]
                    .take()
                    .expect("check_tree: each spec once");
                // A child whose `create` panics is left out (its slot stays empty) and the failure goes
                // to the nearest error boundary, as a panic in its render would.
                match catch(|| (spec.create)(spec.props.into_boxed())) {
                    Ok(created) => {
                        let child =
                            self.create_component(created, Some(component), depth + 1, position);
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
}
