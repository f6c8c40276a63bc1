//! The diff: an old tree against a new render's tree, emitting edits into the pass's batch.
//!
//! Sibling lists are diffed in [`children`] (equal ends first, then the keyed or positional middle),
//! matched nodes in [`node`], and an element's attributes and event bindings in [`attributes`].

mod attributes;
mod children;
mod middle;
mod node;
#[cfg(test)]
mod tests;

use super::Renderer;
use crate::batch::ComponentId;
use crate::component::ChildSpec;
use crate::tree::{NodeIndex, NodeKind, Tree, TreeMut};

/// Where a sibling list lives: inside an element, or at a component's top level (ended by a marker).
#[derive(Clone, Copy)]
pub(super) enum Parent {
    Element(u32),
    Range(u32),
}

pub(super) struct DiffState<'t> {
    pub(super) old: &'t Tree,
    pub(super) new: TreeMut<'t>,
    pub(super) specs: Vec<Option<ChildSpec>>,
    pub(super) component: ComponentId,
    pub(super) depth: u32,
}

impl Renderer {
    fn same_kind(&self, st: &DiffState<'_>, old: NodeIndex, new: NodeIndex) -> bool {
        let (o, n) = (st.old.node(old), &st.new.nodes[new as usize]);
        let (os, ns) = (&st.old.shape, st.new.shape);
        match (o.key(), n.key()) {
            (None, None) => {}
            (Some(a), Some(b)) if os.str(a) == ns.str(b) => {}
            _ => return false,
        }
        match (&o.kind, &n.kind) {
            (NodeKind::Element(a), NodeKind::Element(b)) => os.str(a.tag()) == ns.str(b.tag()),
            (NodeKind::Text(_), NodeKind::Text(_)) | (NodeKind::Raw(_), NodeKind::Raw(_)) => true,
            (NodeKind::Slot { component, .. }, NodeKind::Slot { spec, .. }) => {
                let old_type = self
                    .components
                    .get(&ComponentId(*component))
                    .map(|e| e.component_type());
                let new_type = st.specs[*spec as usize].as_ref().map(|s| s.type_id);
                old_type.is_some() && old_type == new_type
            }
            _ => false,
        }
    }
}
