//! The HTML serializer: a tree (and its child components' trees) as the HTML the browser inserts, with node
//! ids assigned in pre-order when the HTML is sent.

use super::Renderer;
use crate::batch::ComponentId;
use crate::tree::{self, NodeIndex, NodeKind, TreeMut};

impl Renderer {
    /// Writes a node as HTML; with `assign`, numbers it (and its subtree) in pre-order. Text and attribute
    /// values are written in their source (maud-escaped) form.
    pub(super) fn serialize(
        &mut self,
        t: &mut TreeMut<'_>,
        index: NodeIndex,
        out: &mut String,
        assign: bool,
    ) {
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
}
