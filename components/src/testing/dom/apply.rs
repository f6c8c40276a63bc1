//! Applying render batches (docs/protocol.md section 4) and the checks on the way.
//!
//! Invariants: batches apply in id order; every id an edit addresses exists; every id it assigns is new
//! and non-zero; a range (`t:c`, `t:raw`) moves and leaves whole; removed nodes lose their ids, moved ones
//! keep them.

use serde_json::Value;

use super::{fail, opens_range, Dom, DomError, Kind, NodeRef};

impl Dom {
    fn node(&self, id: u32) -> Result<usize, DomError> {
        match self.by_id.get(&id) {
            Some(&n) => Ok(n),
            None => fail(format!(
                "node {id} does not exist (never numbered, or removed)"
            )),
        }
    }

    fn element(&self, id: u32) -> Result<usize, DomError> {
        let n = self.node(id)?;
        match &self.nodes[n].kind {
            Kind::Element { .. } => Ok(n),
            _ => fail(format!("node {id} is not an element")),
        }
    }

    /// Numbers `nodes` (a sibling sequence) in pre-order from `next`, skipping raw-region content.
    fn number(&mut self, nodes: &[usize], next: &mut u32) -> Result<(), DomError> {
        let mut i = 0;
        while i < nodes.len() {
            let n = nodes[i];
            self.assign(n, *next)?;
            *next += 1;
            if self.comment(n) == Some("t:raw") {
                let mut depth = 1usize;
                i += 1;
                while i < nodes.len() {
                    match self.comment(nodes[i]) {
                        Some(d) if opens_range(d) => depth += 1,
                        Some("/t") => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if i == nodes.len() {
                    return fail("raw region without its end marker");
                }
                continue;
            }
            let children = self.nodes[n].children.clone();
            self.number(&children, next)?;
            i += 1;
        }
        Ok(())
    }

    fn assign(&mut self, node: usize, id: u32) -> Result<(), DomError> {
        if id == 0 {
            return fail("node id 0");
        }
        if self.by_id.contains_key(&id) {
            return fail(format!("node id {id} assigned twice"));
        }
        self.by_id.insert(id, node);
        self.nodes[node].id = Some(id);
        Ok(())
    }

    fn forget(&mut self, node: usize) {
        if let Some(id) = self.nodes[node].id {
            self.by_id.remove(&id);
        }
        for c in self.nodes[node].children.clone() {
            self.forget(c);
        }
    }

    /// The node, or the whole range when it is a `t:c` / `t:raw` start marker.
    fn node_or_range(&self, node: usize) -> Result<Vec<usize>, DomError> {
        match self.comment(node) {
            Some(d) if opens_range(d) => self.range(node),
            Some("/t") => fail("an end marker cannot be moved or removed on its own"),
            _ => Ok(vec![node]),
        }
    }

    /// Applies batch `id` in its JSON wire form (`T.Batch`'s arguments). Batches must come in id order.
    pub fn apply_json(&mut self, id: u64, json: &str) -> Result<(), DomError> {
        if id != self.last_batch + 1 {
            return fail(format!("batch {id} after batch {}", self.last_batch));
        }
        let batch: Value = serde_json::from_str(json).map_err(|e| DomError(e.to_string()))?;
        let Some(edits) = batch.as_array() else {
            return fail("a batch is an array of edits");
        };
        for edit in edits {
            self.apply_edit(edit)?;
        }
        self.last_batch = id;
        Ok(())
    }

    fn apply_edit(&mut self, edit: &Value) -> Result<(), DomError> {
        let fields = edit
            .as_array()
            .ok_or(DomError("edit is not an array".into()))?;
        let f = Fields { edit, fields };
        match f.num(0)? {
            1 => self.insert_before_edit(&f),
            2 => self.append_edit(&f),
            3 => self.remove_edit(&f),
            4 => self.move_before_edit(&f),
            5 => self.move_to_end_edit(&f),
            6 => self.attribute_edit(&f, true),
            7 => self.attribute_edit(&f, false),
            8 => self.set_text_edit(&f),
            9 => self.set_property_edit(&f),
            10 => self.replace_raw_edit(&f),
            11 => self.attach_edit(&f),
            op => fail(format!("unknown opcode {op}")),
        }
    }

    /// Op 1: parse, number and insert before the anchor.
    fn insert_before_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let anchor = self.node(f.num(1)?)?;
        if self.nodes[anchor].parent.is_none() {
            return fail("insert anchor is detached");
        }
        for n in self.parse_numbered(f)? {
            self.insert_before(anchor, n);
        }
        Ok(())
    }

    /// Op 2: parse, number and append inside the parent element.
    fn append_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let parent = self.element(f.num(1)?)?;
        for n in self.parse_numbered(f)? {
            self.append(parent, n);
        }
        Ok(())
    }

    /// The detached nodes of an insert's HTML (field 2), numbered from its first id (field 3).
    fn parse_numbered(&mut self, f: &Fields<'_>) -> Result<Vec<usize>, DomError> {
        let nodes = self.parse_fragment(f.text(2)?)?;
        let mut next = f.num(3)?;
        self.number(&nodes, &mut next)?;
        Ok(nodes)
    }

    /// Op 3: remove a node or a whole range; its ids die with it.
    fn remove_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let node = self.node(f.num(1)?)?;
        for n in self.node_or_range(node)? {
            self.forget(n);
            self.detach(n);
        }
        Ok(())
    }

    /// Op 4: move a node or range before the anchor, keeping ids.
    fn move_before_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let node = self.node(f.num(1)?)?;
        let anchor = self.node(f.num(2)?)?;
        let moving = self.node_or_range(node)?;
        if moving.contains(&anchor) {
            return fail("move before a node of the moved range");
        }
        for n in moving {
            self.insert_before(anchor, n);
        }
        Ok(())
    }

    /// Op 5: move a node or range to the end of the parent element, keeping ids.
    fn move_to_end_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let node = self.node(f.num(1)?)?;
        let parent = self.element(f.num(2)?)?;
        for n in self.node_or_range(node)? {
            self.append(parent, n);
        }
        Ok(())
    }

    /// Ops 6 and 7: set or remove an attribute; removing an absent one is an error.
    fn attribute_edit(&mut self, f: &Fields<'_>, set: bool) -> Result<(), DomError> {
        let node = self.element(f.num(1)?)?;
        // As in a browser's HTML document: `setAttribute`/`removeAttribute` lowercase the name.
        let name = f.text(2)?.to_ascii_lowercase();
        let value = if set {
            Some(f.text(3)?.to_owned())
        } else {
            None
        };
        let Kind::Element { attrs, .. } = &mut self.nodes[node].kind else {
            unreachable!("element() returns elements")
        };
        let pos = attrs.iter().position(|(n, _)| *n == name);
        match (value, pos) {
            (Some(v), Some(p)) => attrs[p].1 = v,
            (Some(v), None) => attrs.push((name, v)),
            (None, Some(p)) => {
                attrs.remove(p);
            }
            (None, None) => return fail(format!("remove of absent attribute {name}")),
        }
        Ok(())
    }

    /// Op 8: replace a text node's data.
    fn set_text_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let node = self.node(f.num(1)?)?;
        let data = f.text(2)?.to_owned();
        match &mut self.nodes[node].kind {
            Kind::Text(t) => *t = data,
            _ => return fail("text edit on a non-text node"),
        }
        Ok(())
    }

    /// Op 9: set `value` (a string), `checked` or `selected` (booleans); nothing else.
    fn set_property_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let node = self.element(f.num(1)?)?;
        let name = f.text(2)?;
        let value = f.fields.get(3).cloned().unwrap_or(Value::Null);
        let ok = matches!(
            (name, &value),
            ("value", Value::String(_)) | ("checked" | "selected", Value::Bool(_))
        );
        if !ok {
            return fail(format!("bad property edit {}", f.edit));
        }
        self.set_property(NodeRef(node), name, value);
        Ok(())
    }

    /// Op 10: replace everything between a raw region's markers (the content has no ids).
    fn replace_raw_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let start = self.node(f.num(1)?)?;
        if self.comment(start) != Some("t:raw") {
            return fail("raw replace on a node that does not start a raw region");
        }
        let range = self.range(start)?;
        let end = *range.last().expect("range");
        for &n in &range[1..range.len() - 1] {
            self.detach(n);
        }
        for n in self.parse_fragment(f.text(2)?)? {
            self.insert_before(end, n);
        }
        Ok(())
    }

    /// Op 11: attach a root region, keeping prerendered nodes that equal the fresh ones, then number it.
    fn attach_edit(&mut self, f: &Fields<'_>) -> Result<(), DomError> {
        let (start, end) = self.region(f.num(1)? as usize)?;
        let fresh = self.parse_fragment(f.text(2)?)?;
        let range = self.range(start)?;
        let current: Vec<usize> = range[1..range.len() - 1].to_vec();
        let equal = current.len() == fresh.len()
            && current
                .iter()
                .zip(&fresh)
                .all(|(&a, &b)| self.equal_nodes(a, b));
        if !equal {
            for n in current {
                self.detach(n);
            }
            for &n in &fresh {
                self.insert_before(end, n);
            }
        }
        let range = self.range(start)?;
        let mut next = f.num(3)?;
        self.number(&range, &mut next)
    }

    /// `isEqualNode`: same kind, name, attribute set, data and children.
    fn equal_nodes(&self, a: usize, b: usize) -> bool {
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        let same = match (&na.kind, &nb.kind) {
            (Kind::Text(x), Kind::Text(y)) | (Kind::Comment(x), Kind::Comment(y)) => x == y,
            (
                Kind::Element {
                    tag: ta, attrs: aa, ..
                },
                Kind::Element {
                    tag: tb, attrs: ab, ..
                },
            ) => ta == tb && aa.len() == ab.len() && aa.iter().all(|x| ab.contains(x)),
            _ => false,
        };
        same && na.children.len() == nb.children.len()
            && na
                .children
                .iter()
                .zip(&nb.children)
                .all(|(&x, &y)| self.equal_nodes(x, y))
    }
}

/// One edit's fields, read with errors that quote the whole edit.
struct Fields<'a> {
    edit: &'a Value,
    fields: &'a [Value],
}

impl<'a> Fields<'a> {
    fn num(&self, i: usize) -> Result<u32, DomError> {
        self.fields
            .get(i)
            .and_then(Value::as_u64)
            .map(|n| n as u32)
            .ok_or_else(|| DomError(format!("edit {}: field {i} is not a number", self.edit)))
    }

    fn text(&self, i: usize) -> Result<&'a str, DomError> {
        self.fields
            .get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| DomError(format!("edit {}: field {i} is not a string", self.edit)))
    }
}
