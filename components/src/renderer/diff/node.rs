//! Diffing one matched node: text, raw HTML, a child component's props, or an element (whose subtree is
//! skipped when its source text is unchanged).

use super::{DiffState, Parent};
use crate::batch::{ComponentId, Edit, EditSink};
use crate::renderer::{catch, Renderer};
use crate::tree::{self, NodeIndex, NodeKind};

impl Renderer {
    pub(super) fn diff_node(
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
}
