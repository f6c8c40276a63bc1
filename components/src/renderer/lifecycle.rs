//! Component lifecycle inside the renderer: creating, attaching roots, marking dirty, routing failures to
//! error boundaries, and disposing components and handler ids.

use super::{catch, Entry, PendingError, Renderer};
use crate::batch::{ComponentId, Edit};
use crate::component::AnyComponent;
use crate::error::RenderError;
use crate::tree::{NodeIndex, NodeKind, Tree};

impl Renderer {
    pub(super) fn attach(&mut self, root: usize) {
        self.roots[root].attached = true;
        let id = self.roots[root].component;
        if !self.components.contains_key(&id) {
            return;
        }
        let first_id = self.alloc_node_id();
        let mut html = String::new();
        self.serialize_component(id, &mut html, true);
        self.pass.batch.push(Edit::Attach {
            root: root as u32,
            html,
            first_id,
        });
    }

    pub(super) fn alloc_node_id(&mut self) -> u32 {
        let id = self.next_node_id;
        self.next_node_id += 1;
        id
    }

    pub(super) fn mark_dirty(&mut self, id: ComponentId) {
        if let Some(entry) = self.components.get(&id) {
            self.dirty.insert((entry.depth, id));
        }
    }

    pub(super) fn record_error(&mut self, component: ComponentId, message: String) {
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
    pub(super) fn handle_errors(&mut self) -> Result<(), RenderError> {
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

    pub(super) fn create_component(
        &mut self,
        component: Box<dyn AnyComponent>,
        parent: Option<ComponentId>,
        depth: u32,
        position: u32,
    ) -> ComponentId {
        let id = ComponentId(self.next_component_id);
        self.next_component_id += 1;
        self.components.insert(
            id,
            Box::new(Entry {
                component,
                tree: Tree::default(),
                parent,
                depth,
                end_anchor: 0,
            }),
        );
        self.restore_at(id, parent, position);
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

    pub(super) fn dispose_subtree(&mut self, tree: &Tree, index: NodeIndex) {
        match tree.node(index).kind {
            NodeKind::Element(el) => {
                let kids = el.kids;
                for b in &tree.events[el.events().range()] {
                    self.handlers.remove(b.handler_id);
                }
                for &c in tree.shape.kids(kids) {
                    self.dispose_subtree(tree, c);
                }
            }
            NodeKind::Slot { component, .. } => self.dispose_component(ComponentId(component)),
            NodeKind::Text(_) | NodeKind::Raw(_) => {}
        }
    }

    pub(super) fn dispose_component(&mut self, id: ComponentId) {
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
