//! The HTML serializer: a tree (and its child components' trees) as the HTML the browser inserts, with node
//! ids assigned in pre-order when the HTML is sent.

use super::Renderer;
use crate::batch::ComponentId;
use crate::tree::{self, NodeIndex, NodeKind, Span, TreeMut};

impl Renderer {
    /// Writes component `id`'s content (its top-level nodes). With `assign`, numbers it in pre-order and
    /// then gives the marker that ends its range the next id (its end anchor).
    pub(super) fn serialize_component(&mut self, id: ComponentId, out: &mut String, assign: bool) {
        let Some(entry) = self.components.get_mut(&id) else {
            if assign {
                self.alloc_node_id();
            }
            return;
        };
        let mut tree = std::mem::take(&mut entry.tree);
        {
            let mut t = tree.as_mut();
            let shape = t.shape;
            for &n in shape.kids(shape.top) {
                self.serialize(&mut t, n, out, assign);
            }
        }
        let end = if assign { self.alloc_node_id() } else { 0 };
        if let Some(entry) = self.components.get_mut(&id) {
            entry.tree = tree;
            if assign {
                entry.end_anchor = end;
            }
        }
    }

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
                out.push_str("<!--t:c-->");
                self.serialize_component(ComponentId(component), out, assign);
                out.push_str("<!--/t-->");
            }
            NodeKind::Element(el) => {
                let (attrs, events, kids) = (el.attrs(), el.events(), el.kids);
                let tag = shape.str(el.tag());
                write_start_tag(t, tag, attrs, events, out);
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

fn write_start_tag(t: &TreeMut<'_>, tag: &str, attrs: Span, events: Span, out: &mut String) {
    let shape = t.shape;
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
}
