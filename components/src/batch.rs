//! Render batches: the edits of one render pass and their JSON encoding (docs/protocol.md section 4).
//!
//! The diff pushes edits into the pass's [`RenderBatch`], and [`RenderBatch::write_json`] is the one
//! encoder of the wire form. Edits are kept in the order they must be applied: components in render order
//! (a parent before the children it re-rendered), and for each the order the diff emitted them.

use crate::number::push_u32;

/// A component id, unique within a renderer (circuit) and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId(pub(crate) u32);

impl ComponentId {
    /// The number sent on the wire.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The value of a DOM property edit (op 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    /// `value`.
    Text(String),
    /// `checked`, `selected`.
    Bool(bool),
}

/// One DOM edit, addressed by node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Op 1: parse `html` and insert its nodes before `anchor`, numbering them from `first_id`.
    InsertBefore {
        /// Node the new nodes go before.
        anchor: u32,
        /// The nodes.
        html: String,
        /// Id of the first new node (pre-order).
        first_id: u32,
    },
    /// Op 2: parse `html` and append its nodes inside element `parent`.
    Append {
        /// The element.
        parent: u32,
        /// The nodes.
        html: String,
        /// Id of the first new node (pre-order).
        first_id: u32,
    },
    /// Op 3: remove a node or range.
    Remove {
        /// The node (or range start marker).
        node: u32,
    },
    /// Op 4: move a node or range before `anchor`, keeping identity.
    MoveBefore {
        /// The node (or range start marker).
        node: u32,
        /// Node it goes before.
        anchor: u32,
    },
    /// Op 5: move a node or range to the end of element `parent`.
    MoveToEnd {
        /// The node (or range start marker).
        node: u32,
        /// The element.
        parent: u32,
    },
    /// Op 6: set an attribute.
    SetAttribute {
        /// The element.
        node: u32,
        /// Attribute name.
        name: String,
        /// Attribute value.
        value: String,
    },
    /// Op 7: remove an attribute.
    RemoveAttribute {
        /// The element.
        node: u32,
        /// Attribute name.
        name: String,
    },
    /// Op 8: set the data of a text node.
    SetText {
        /// The text node.
        node: u32,
        /// New data.
        text: String,
    },
    /// Op 9: set a DOM property (`value`, `checked`, `selected`).
    SetProperty {
        /// The element.
        node: u32,
        /// Property name.
        name: &'static str,
        /// New value.
        value: PropertyValue,
    },
    /// Op 10: replace the content of a raw region.
    ReplaceRaw {
        /// The raw region's start marker.
        node: u32,
        /// New content.
        html: String,
    },
    /// Op 11: attach root component `root` (keep the prerendered DOM when equal), numbering from `first_id`.
    Attach {
        /// Index of the root in `StartCircuit`'s descriptor list.
        root: u32,
        /// The region's content.
        html: String,
        /// Id of the region's start marker.
        first_id: u32,
    },
}

/// The edits of one render pass, in the order the browser applies them: root attachments, then each
/// re-rendered component's edits, parents before the children they re-rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderBatch {
    /// Batch id: 1 for the circuit's first batch, then +1 per batch. It travels as `T.Batch`'s first
    /// argument, not inside the batch.
    pub id: u64,
    /// The edits, in application order.
    pub edits: Vec<Edit>,
}

impl RenderBatch {
    /// Records `edit` after everything recorded before.
    pub fn push(&mut self, edit: Edit) {
        self.edits.push(edit);
    }

    /// Whether the pass changed nothing the browser shows.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The wire form (`T.Batch`'s second argument): `[edit,…]`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_json(&mut out);
        out
    }

    /// Appends the wire form to `out` (the circuit writes it straight into the hub frame).
    pub fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, edit) in self.edits.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            encode_edit(edit, out);
        }
        out.push(']');
    }
}

/// Writes one edit as its wire array `[op, …]` (docs/protocol.md section 4).
fn encode_edit(edit: &Edit, out: &mut String) {
    match edit {
        Edit::InsertBefore {
            anchor,
            html,
            first_id,
        } => markup_edit(out, "[1,", *anchor, html, *first_id),
        Edit::Append {
            parent,
            html,
            first_id,
        } => markup_edit(out, "[2,", *parent, html, *first_id),
        Edit::Remove { node } => {
            out.push_str("[3,");
            push_u32(out, *node);
            out.push(']');
        }
        Edit::MoveBefore { node, anchor } => move_edit(out, "[4,", *node, *anchor),
        Edit::MoveToEnd { node, parent } => move_edit(out, "[5,", *node, *parent),
        Edit::SetAttribute { node, name, value } => {
            head(out, "[6,", *node);
            json_string(name, out);
            out.push(',');
            json_string(value, out);
            out.push(']');
        }
        Edit::RemoveAttribute { node, name } => text_edit(out, "[7,", *node, name),
        Edit::SetText { node, text } => text_edit(out, "[8,", *node, text),
        Edit::SetProperty { node, name, value } => set_property(out, *node, name, value),
        Edit::ReplaceRaw { node, html } => text_edit(out, "[10,", *node, html),
        Edit::Attach {
            root,
            html,
            first_id,
        } => markup_edit(out, "[11,", *root, html, *first_id),
    }
}

/// An edit that adds markup whose elements get ids from `first_id` on: `[OP,NODE,"html",first_id]`.
fn markup_edit(out: &mut String, op: &str, node: u32, html: &str, first_id: u32) {
    head(out, op, node);
    json_string(html, out);
    out.push(',');
    push_u32(out, first_id);
    out.push(']');
}

/// An edit that moves `node` relative to another node: `[OP,NODE,OTHER]`.
fn move_edit(out: &mut String, op: &str, node: u32, other: u32) {
    head(out, op, node);
    push_u32(out, other);
    out.push(']');
}

/// An edit with one string: `[OP,NODE,"text"]`.
fn text_edit(out: &mut String, op: &str, node: u32, text: &str) {
    head(out, op, node);
    json_string(text, out);
    out.push(']');
}

/// Op 9: `[9,NODE,"name",value]`, the value a JSON string or boolean.
fn set_property(out: &mut String, node: u32, name: &str, value: &PropertyValue) {
    head(out, "[9,", node);
    json_string(name, out);
    match value {
        PropertyValue::Text(text) => {
            out.push(',');
            json_string(text, out);
        }
        PropertyValue::Bool(b) => {
            out.push_str(if *b { ",true" } else { ",false" });
        }
    }
    out.push(']');
}

/// Writes `[OP,NODE,` (`op` is `[OP,`).
fn head(out: &mut String, op: &str, node: u32) {
    out.push_str(op);
    push_u32(out, node);
    out.push(',');
}

/// Writes `s` as a JSON string literal, copying runs that need no escape at once.
fn json_string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[(b >> 4) as usize]));
            out.push(char::from(HEX[(b & 15) as usize]));
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_protocol_example() {
        let mut batch = RenderBatch {
            id: 3,
            ..Default::default()
        };
        batch.push(Edit::SetText {
            node: 41,
            text: "4".into(),
        });
        assert_eq!(batch.to_json(), r#"[[8,41,"4"]]"#);
    }

    #[test]
    fn encodes_every_op_as_valid_json() {
        let mut batch = RenderBatch {
            id: 1,
            ..Default::default()
        };
        let edits = vec![
            Edit::InsertBefore {
                anchor: 5,
                html: "<p class=\"x\">a\\b\n\u{1}</p>".into(),
                first_id: 9,
            },
            Edit::Append {
                parent: 4,
                html: "x".into(),
                first_id: 10,
            },
            Edit::Remove { node: 3 },
            Edit::MoveBefore { node: 3, anchor: 4 },
            Edit::MoveToEnd { node: 3, parent: 2 },
            Edit::SetAttribute {
                node: 2,
                name: "class".into(),
                value: "on".into(),
            },
            Edit::RemoveAttribute {
                node: 2,
                name: "hidden".into(),
            },
            Edit::SetText {
                node: 6,
                text: "é\"".into(),
            },
            Edit::SetProperty {
                node: 7,
                name: "value",
                value: PropertyValue::Text("v".into()),
            },
            Edit::SetProperty {
                node: 7,
                name: "checked",
                value: PropertyValue::Bool(true),
            },
            Edit::ReplaceRaw {
                node: 8,
                html: "<b>x</b>".into(),
            },
            Edit::Attach {
                root: 0,
                html: "".into(),
                first_id: 1,
            },
        ];
        for e in edits {
            batch.push(e);
        }
        let json = batch.to_json();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([
                [1, 5, "<p class=\"x\">a\\b\n\u{1}</p>", 9],
                [2, 4, "x", 10],
                [3, 3],
                [4, 3, 4],
                [5, 3, 2],
                [6, 2, "class", "on"],
                [7, 2, "hidden"],
                [8, 6, "é\""],
                [9, 7, "value", "v"],
                [9, 7, "checked", true],
                [10, 8, "<b>x</b>"],
                [11, 0, "", 1]
            ])
        );
        assert!(json.contains("\\u0001"));
    }
}
