//! Diffing one matched node: text, raw HTML, a child component's props, or an element (whose subtree is
//! reused as is when its source text is unchanged but for binding render indices).

use super::{DiffState, Parent};
use crate::batch::{ComponentId, Edit};
use crate::renderer::{catch, Renderer};
use crate::tree::{self, NodeIndex, NodeKind};

impl Renderer {
    /// Diffs a pair that [`same_kind`](Renderer::same_kind) matched; the new node takes the old id.
    pub(super) fn diff_node(
        &mut self,
        st: &mut DiffState<'_>,
        old_index: NodeIndex,
        new_index: NodeIndex,
        raw_text: bool,
    ) {
        let (old, new_shape) = (st.old, st.new.shape);
        let old_node = old.node(old_index);
        let node = old_node.id;
        st.new.nodes[new_index as usize].id = node;
        let edit = match (old_node.kind, st.new.nodes[new_index as usize].kind) {
            (NodeKind::Text(a), NodeKind::Text(b)) => {
                let (a, b) = (old.shape.str(a), new_shape.str(b));
                (a != b).then(|| Edit::SetText {
                    node,
                    text: if raw_text {
                        b.to_owned()
                    } else {
                        tree::decode_entities(b)
                    },
                })
            }
            (NodeKind::Raw(a), NodeKind::Raw(b)) => {
                let (a, b) = (old.shape.str(a), new_shape.str(b));
                (a != b).then(|| Edit::ReplaceRaw {
                    node,
                    html: b.to_owned(),
                })
            }
            (NodeKind::Slot { component, .. }, NodeKind::Slot { spec, .. }) => {
                self.diff_slot(st, new_index, ComponentId(component), spec);
                None
            }
            (NodeKind::Element { .. }, NodeKind::Element { .. }) => {
                self.diff_element(st, old_index, new_index);
                None
            }
            _ => unreachable!("diff_node is only called on same_kind pairs"),
        };
        if let Some(edit) = edit {
            self.pass.batch.push(edit);
        }
    }

    /// The slot keeps its child component, which gets the new props when they differ.
    fn diff_slot(
        &mut self,
        st: &mut DiffState<'_>,
        new_index: NodeIndex,
        child: ComponentId,
        spec: u32,
    ) {
        if let NodeKind::Slot { component, .. } = &mut st.new.nodes[new_index as usize].kind {
            *component = child.0;
        }
        let spec = st.specs[spec as usize].take().expect("each spec once");
        let shared = self.shared.clone();
        let Some(entry) = self.components.get_mut(&child) else {
            return;
        };
        if !entry.component.props_equal(spec.props.as_any()) {
            let props = spec.props.into_boxed();
            match catch(|| entry.component.set_props(props, child, &shared)) {
                Ok(()) => self.mark_dirty(child),
                Err(e) => self.record_error(child, e),
            }
        }
    }

    fn diff_element(&mut self, st: &mut DiffState<'_>, old_index: NodeIndex, new_index: NodeIndex) {
        if self.reuse_subtree(st, old_index, new_index) {
            return;
        }
        let (old, new_shape) = (st.old, st.new.shape);
        let (NodeKind::Element(old_el), NodeKind::Element(new_el)) = (
            old.node(old_index).kind,
            st.new.nodes[new_index as usize].kind,
        ) else {
            unreachable!("diff_element is called on elements")
        };
        let (old_attrs, old_events, old_kids) = (old_el.attrs(), old_el.events(), old_el.kids);
        let (tag, new_attrs, new_events, new_kids) =
            (new_el.tag(), new_el.attrs(), new_el.events(), new_el.kids);
        let node = old.node(old_index).id;
        let tag = new_shape.str(tag);
        self.diff_attrs(
            node,
            tag,
            (&old.shape, old.shape.attrs(old_attrs)),
            (new_shape, new_shape.attrs(new_attrs)),
        );
        self.diff_bindings(
            st.component,
            node,
            &old.events[old_events.range()],
            &mut st.new.events[new_events.range()],
        );
        self.diff_children(
            st,
            old.shape.kids(old_kids),
            new_shape.kids(new_kids),
            Parent::Element(node),
            tree::is_raw_text(tag),
        );
    }

    /// Same source text and no child components inside: the subtree is identical, including binding
    /// render indices, so ids are copied across instead of comparing node by node. A subtree that
    /// differs only in render indices (rows after an insert, moved rows) is the same nodes too: its
    /// handlers keep their ids and learn their new indices. Returns whether the subtree was reused.
    fn reuse_subtree(
        &mut self,
        st: &mut DiffState<'_>,
        old_index: NodeIndex,
        new_index: NodeIndex,
    ) -> bool {
        let (old, new_shape) = (st.old, st.new.shape);
        let (NodeKind::Element(old_el), NodeKind::Element(new_el)) = (
            old.node(old_index).kind,
            st.new.nodes[new_index as usize].kind,
        ) else {
            return false;
        };
        let (old_events, old_outer, old_end, old_events_end) =
            (old_el.events(), old_el.outer, old_el.end, old_el.events_end);
        let (new_events, new_outer, new_end, new_events_end, has_slot) = (
            new_el.events(),
            new_el.outer,
            new_el.end,
            new_el.events_end,
            new_el.has_slot,
        );
        if has_slot || old.recorded {
            return false;
        }
        let old_bindings = &old.events[old_events.start as usize..old_events_end as usize];
        let new_range = new_events.start as usize..new_events_end as usize;
        let identical = old.shape.str(old_outer) == new_shape.str(new_outer);
        if !identical
            && !tree::same_but_render_indices(
                &old.shape,
                old_outer,
                old_bindings,
                new_shape,
                new_outer,
                &st.new.events[new_range.clone()],
            )
        {
            return false;
        }
        let count = (new_end - new_index) as usize;
        debug_assert_eq!(count, (old_end - old_index) as usize);
        for i in 1..count {
            st.new.nodes[new_index as usize + i].id = old.nodes[old_index as usize + i].id;
        }
        for (old_b, new_b) in old_bindings.iter().zip(&mut st.new.events[new_range]) {
            new_b.handler_id = old_b.handler_id;
            if !identical {
                self.handlers.retarget(new_b);
            }
        }
        true
    }
}
