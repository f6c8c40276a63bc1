//! An in-memory DOM that applies render batches exactly as docs/protocol.md says the browser client does,
//! and checks them on the way: every id a batch addresses must exist, every id it assigns must be new,
//! moves keep node identity.
//!
//! Nodes live in an arena and are never freed, so a [`NodeRef`] taken before a batch still names the same
//! node after it: comparing refs is how tests check that moved keyed nodes kept their identity.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

/// A node of the [`Dom`], stable for the DOM's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeRef(usize);

/// A batch that cannot be applied: the diff and the DOM disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomError(pub String);

impl fmt::Display for DomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch does not apply: {}", self.0)
    }
}

impl std::error::Error for DomError {}

fn fail<T>(message: impl Into<String>) -> Result<T, DomError> {
    Err(DomError(message.into()))
}

#[derive(Debug, Clone)]
enum Kind {
    Element {
        tag: String,
        attrs: Vec<(String, String)>,
        props: Vec<(String, Value)>,
    },
    Text(String),
    Comment(String),
}

#[derive(Debug, Clone)]
struct DomNode {
    kind: Kind,
    parent: Option<usize>,
    children: Vec<usize>,
    id: Option<u32>,
}

/// A document body holding root regions `<!--t:r:NAME--> … <!--/t-->`.
#[derive(Debug, Clone)]
pub struct Dom {
    nodes: Vec<DomNode>,
    body: usize,
    by_id: HashMap<u32, usize>,
    last_batch: u64,
}

fn is_void(tag: &str) -> bool {
    matches!(
        tag,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
    )
}

fn opens_range(data: &str) -> bool {
    data.starts_with("t:")
}

impl Dom {
    /// A body with one empty region per name (`<!--t:r:NAME--><!--/t-->`), roots 0, 1, … in order.
    pub fn with_regions(names: &[&str]) -> Dom {
        let mut dom = Dom {
            nodes: Vec::new(),
            body: 0,
            by_id: HashMap::new(),
            last_batch: 0,
        };
        dom.body = dom.alloc(Kind::Element {
            tag: "body".into(),
            attrs: Vec::new(),
            props: Vec::new(),
        });
        for name in names {
            let start = dom.alloc(Kind::Comment(format!("t:r:{name}")));
            let end = dom.alloc(Kind::Comment("/t".into()));
            dom.append(dom.body, start);
            dom.append(dom.body, end);
        }
        dom
    }

    /// Like [`Dom::with_regions`], with prerendered content already in each region (as a page would be).
    pub fn with_prerendered(regions: &[(&str, &str)]) -> Result<Dom, DomError> {
        let mut dom = Dom::with_regions(&regions.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (index, (_, html)) in regions.iter().enumerate() {
            let (start, end) = dom.region(index)?;
            let nodes = dom.parse_fragment(html)?;
            for n in nodes {
                dom.insert_before(end, n);
            }
            let _ = start;
        }
        Ok(dom)
    }

    fn alloc(&mut self, kind: Kind) -> usize {
        self.nodes.push(DomNode {
            kind,
            parent: None,
            children: Vec::new(),
            id: None,
        });
        self.nodes.len() - 1
    }

    fn detach(&mut self, node: usize) {
        if let Some(parent) = self.nodes[node].parent.take() {
            self.nodes[parent].children.retain(|&c| c != node);
        }
    }

    fn append(&mut self, parent: usize, node: usize) {
        self.detach(node);
        self.nodes[node].parent = Some(parent);
        self.nodes[parent].children.push(node);
    }

    fn insert_before(&mut self, anchor: usize, node: usize) {
        self.detach(node);
        let parent = self.nodes[anchor]
            .parent
            .expect("anchor checked to be attached");
        let pos = self.nodes[parent]
            .children
            .iter()
            .position(|&c| c == anchor)
            .expect("child of its parent");
        self.nodes[parent].children.insert(pos, node);
        self.nodes[node].parent = Some(parent);
    }

    fn comment(&self, node: usize) -> Option<&str> {
        match &self.nodes[node].kind {
            Kind::Comment(data) => Some(data),
            _ => None,
        }
    }

    /// The nodes of the range starting at `start` (a `t:` comment): start marker through end marker.
    fn range(&self, start: usize) -> Result<Vec<usize>, DomError> {
        let Some(parent) = self.nodes[start].parent else {
            return fail("range start is detached");
        };
        let siblings = &self.nodes[parent].children;
        let pos = siblings.iter().position(|&c| c == start).expect("child");
        let mut depth = 0usize;
        for (i, &s) in siblings.iter().enumerate().skip(pos) {
            match self.comment(s) {
                Some(d) if opens_range(d) => depth += 1,
                Some("/t") => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(siblings[pos..=i].to_vec());
                    }
                }
                _ => {}
            }
        }
        fail("range without its end marker")
    }

    /// The start and end marker of root region `index`.
    fn region(&self, index: usize) -> Result<(usize, usize), DomError> {
        let starts: Vec<usize> = self.nodes[self.body]
            .children
            .iter()
            .copied()
            .filter(|&c| self.comment(c).is_some_and(|d| d.starts_with("t:r:")))
            .collect();
        let Some(&start) = starts.get(index) else {
            return fail(format!("no root region {index}"));
        };
        let range = self.range(start)?;
        Ok((start, *range.last().expect("non-empty")))
    }

    /// The nodes of root region `index`, between its markers.
    pub fn region_nodes(&self, index: usize) -> Vec<NodeRef> {
        match self.region(index).and_then(|(s, _)| self.range(s)) {
            Ok(range) => range[1..range.len() - 1]
                .iter()
                .map(|&n| NodeRef(n))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The content of root region `index`, serialised like the DOM's `innerHTML`.
    pub fn region_html(&self, index: usize) -> String {
        let mut out = String::new();
        for n in self.region_nodes(index) {
            self.write_html(n.0, &mut out, false);
        }
        out
    }

    /// A node's `outerHTML` (text and comments as `innerHTML` would show them).
    pub fn outer_html(&self, node: NodeRef) -> String {
        let mut out = String::new();
        self.write_html(node.0, &mut out, false);
        out
    }

    /// Text content of a node.
    pub fn text(&self, node: NodeRef) -> String {
        let mut out = String::new();
        self.collect_text(node.0, &mut out);
        out
    }

    fn collect_text(&self, node: usize, out: &mut String) {
        match &self.nodes[node].kind {
            Kind::Text(t) => out.push_str(t),
            Kind::Element { .. } => {
                for &c in &self.nodes[node].children {
                    self.collect_text(c, out);
                }
            }
            Kind::Comment(_) => {}
        }
    }

    /// An attribute of an element.
    pub fn attribute(&self, node: NodeRef, name: &str) -> Option<&str> {
        match &self.nodes[node.0].kind {
            Kind::Element { attrs, .. } => attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// A DOM property set by op 9 (or by the harness simulating the user), if any.
    pub fn property(&self, node: NodeRef, name: &str) -> Option<&Value> {
        match &self.nodes[node.0].kind {
            Kind::Element { props, .. } => props.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets a DOM property (the harness uses it to simulate typing).
    pub fn set_property(&mut self, node: NodeRef, name: &str, value: Value) {
        if let Kind::Element { props, .. } = &mut self.nodes[node.0].kind {
            match props.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => props.push((name.to_owned(), value)),
            }
        }
    }

    /// The live value of a form field: the `value` property if set, else the attribute.
    pub fn value(&self, node: NodeRef) -> Option<String> {
        match self.property(node, "value") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => self.attribute(node, "value").map(str::to_owned),
        }
    }

    /// The live checked state of a checkbox or radio.
    pub fn checked(&self, node: NodeRef) -> bool {
        match self.property(node, "checked") {
            Some(Value::Bool(b)) => *b,
            _ => self.attribute(node, "checked").is_some(),
        }
    }

    /// The node id the batches gave this node.
    pub fn node_id(&self, node: NodeRef) -> Option<u32> {
        self.nodes[node.0].id
    }

    /// The parent node.
    pub fn parent(&self, node: NodeRef) -> Option<NodeRef> {
        self.nodes[node.0].parent.map(NodeRef)
    }

    /// The tag of an element.
    pub fn tag(&self, node: NodeRef) -> Option<&str> {
        match &self.nodes[node.0].kind {
            Kind::Element { tag, .. } => Some(tag),
            _ => None,
        }
    }

    /// Elements under the body matching a simple selector, in document order. Supports compounds of
    /// `tag`, `#id`, `.class`, `[attr]` and `[attr=value]` (value optionally quoted), joined by spaces
    /// (descendant combinator): `li[data-k=2] button`.
    pub fn select_all(&self, selector: &str) -> Vec<NodeRef> {
        let Some(compounds) = selector
            .split_ascii_whitespace()
            .map(parse_selector)
            .collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let Some((last, ancestors)) = compounds.split_last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.walk(self.body, &mut |n| {
            if self.matches(n, last) && self.ancestors_match(n, ancestors) {
                out.push(NodeRef(n));
            }
        });
        out
    }

    fn ancestors_match(&self, node: usize, compounds: &[Vec<SelectorPart>]) -> bool {
        let Some((last, rest)) = compounds.split_last() else {
            return true;
        };
        let mut cursor = self.nodes[node].parent;
        while let Some(a) = cursor {
            if self.matches(a, last) && self.ancestors_match(a, rest) {
                return true;
            }
            cursor = self.nodes[a].parent;
        }
        false
    }

    /// The first element matching `selector` (see [`Dom::select_all`]).
    pub fn select(&self, selector: &str) -> Option<NodeRef> {
        self.select_all(selector).into_iter().next()
    }

    fn walk(&self, node: usize, f: &mut impl FnMut(usize)) {
        for &c in &self.nodes[node].children {
            f(c);
            self.walk(c, f);
        }
    }

    fn matches(&self, node: usize, parts: &[SelectorPart]) -> bool {
        let Kind::Element { tag, attrs, .. } = &self.nodes[node].kind else {
            return false;
        };
        let attr = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        parts.iter().all(|p| match p {
            SelectorPart::Tag(t) => tag == t,
            SelectorPart::Id(id) => attr("id") == Some(id),
            SelectorPart::Class(c) => {
                attr("class").is_some_and(|v| v.split_ascii_whitespace().any(|x| x == c))
            }
            SelectorPart::Attr(name, None) => attr(name).is_some(),
            SelectorPart::Attr(name, Some(value)) => attr(name) == Some(value),
        })
    }

    fn write_html(&self, node: usize, out: &mut String, raw_text: bool) {
        match &self.nodes[node].kind {
            Kind::Text(t) => {
                if raw_text {
                    out.push_str(t);
                } else {
                    for c in t.chars() {
                        match c {
                            '&' => out.push_str("&amp;"),
                            '<' => out.push_str("&lt;"),
                            '>' => out.push_str("&gt;"),
                            '\u{a0}' => out.push_str("&nbsp;"),
                            c => out.push(c),
                        }
                    }
                }
            }
            Kind::Comment(d) => {
                out.push_str("<!--");
                out.push_str(d);
                out.push_str("-->");
            }
            Kind::Element { tag, attrs, .. } => {
                out.push('<');
                out.push_str(tag);
                for (n, v) in attrs {
                    out.push(' ');
                    out.push_str(n);
                    out.push_str("=\"");
                    for c in v.chars() {
                        match c {
                            '&' => out.push_str("&amp;"),
                            '"' => out.push_str("&quot;"),
                            // Current HTML serialisation (and Chromium, and jsdom) escapes these in
                            // attribute values too.
                            '<' => out.push_str("&lt;"),
                            '>' => out.push_str("&gt;"),
                            '\u{a0}' => out.push_str("&nbsp;"),
                            c => out.push(c),
                        }
                    }
                    out.push('"');
                }
                out.push('>');
                if is_void(tag) {
                    return;
                }
                let raw = matches!(tag.as_str(), "script" | "style");
                for &c in &self.nodes[node].children {
                    self.write_html(c, out, raw);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }

    /// A canonical form of root region `index` for comparing a DOM patched by batches with one built from
    /// a fresh render: attributes sorted, handler ids replaced by `*` (flags kept), form fields by their
    /// live value, node ids ignored.
    pub fn canonical(&self, index: usize) -> String {
        let mut out = String::new();
        for n in self.region_nodes(index) {
            self.write_canonical(n.0, &mut out);
        }
        out
    }

    fn write_canonical(&self, node: usize, out: &mut String) {
        match &self.nodes[node].kind {
            Kind::Text(t) => {
                out.push_str("#text(");
                out.push_str(t);
                out.push(')');
            }
            Kind::Comment(d) => {
                out.push_str("<!--");
                out.push_str(d);
                out.push_str("-->");
            }
            Kind::Element { tag, attrs, .. } => {
                let mut shown: Vec<(String, String)> = attrs
                    .iter()
                    .filter(|(n, _)| !matches!(n.as_str(), "value" | "checked" | "selected"))
                    .map(|(n, v)| {
                        let v = if n.starts_with("t-") && n != "t-debounce" && n != "t-throttle" {
                            match v.split_once(':') {
                                Some((_, flags)) => format!("*:{flags}"),
                                None => "*".to_owned(),
                            }
                        } else {
                            v.clone()
                        };
                        (n.clone(), v)
                    })
                    .collect();
                let me = NodeRef(node);
                if tag == "input" {
                    // An input with no value and one whose value was set to "" look the same (`.value` is
                    // "" for both); a removed `value` attribute is diffed as the property set to "".
                    if let Some(v) = self.value(me).filter(|v| !v.is_empty()) {
                        shown.push(("value".into(), v));
                    }
                    if self.checked(me) {
                        shown.push(("checked".into(), String::new()));
                    }
                } else if let Some(v) = self.attribute(me, "value") {
                    shown.push(("value".into(), v.to_owned()));
                }
                let selected = match self.property(me, "selected") {
                    Some(Value::Bool(b)) => *b,
                    _ => self.attribute(me, "selected").is_some(),
                };
                if tag == "option" && selected {
                    shown.push(("selected".into(), String::new()));
                }
                shown.sort();
                out.push('<');
                out.push_str(tag);
                for (n, v) in shown {
                    out.push(' ');
                    out.push_str(&n);
                    out.push_str("=\"");
                    out.push_str(&v);
                    out.push('"');
                }
                out.push('>');
                for &c in &self.nodes[node].children {
                    self.write_canonical(c, out);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }

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
        let arr = edit
            .as_array()
            .ok_or(DomError("edit is not an array".into()))?;
        let num = |i: usize| -> Result<u32, DomError> {
            arr.get(i)
                .and_then(Value::as_u64)
                .map(|n| n as u32)
                .ok_or(DomError(format!("edit {edit}: field {i} is not a number")))
        };
        let text = |i: usize| -> Result<&str, DomError> {
            arr.get(i)
                .and_then(Value::as_str)
                .ok_or(DomError(format!("edit {edit}: field {i} is not a string")))
        };
        match num(0)? {
            1 => {
                let anchor = self.node(num(1)?)?;
                if self.nodes[anchor].parent.is_none() {
                    return fail("insert anchor is detached");
                }
                let nodes = self.parse_fragment(text(2)?)?;
                let mut next = num(3)?;
                self.number(&nodes, &mut next)?;
                for n in nodes {
                    self.insert_before(anchor, n);
                }
            }
            2 => {
                let parent = self.element(num(1)?)?;
                let nodes = self.parse_fragment(text(2)?)?;
                let mut next = num(3)?;
                self.number(&nodes, &mut next)?;
                for n in nodes {
                    self.append(parent, n);
                }
            }
            3 => {
                let node = self.node(num(1)?)?;
                for n in self.node_or_range(node)? {
                    self.forget(n);
                    self.detach(n);
                }
            }
            4 => {
                let node = self.node(num(1)?)?;
                let anchor = self.node(num(2)?)?;
                let moving = self.node_or_range(node)?;
                if moving.contains(&anchor) {
                    return fail("move before a node of the moved range");
                }
                for n in moving {
                    self.insert_before(anchor, n);
                }
            }
            5 => {
                let node = self.node(num(1)?)?;
                let parent = self.element(num(2)?)?;
                for n in self.node_or_range(node)? {
                    self.append(parent, n);
                }
            }
            6 | 7 => {
                let node = self.element(num(1)?)?;
                // As in a browser's HTML document: `setAttribute`/`removeAttribute` lowercase the name.
                let name = text(2)?.to_ascii_lowercase();
                let value = if num(0)? == 6 {
                    Some(text(3)?.to_owned())
                } else {
                    None
                };
                let Kind::Element { attrs, .. } = &mut self.nodes[node].kind else {
                    unreachable!()
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
            }
            8 => {
                let node = self.node(num(1)?)?;
                let data = text(2)?.to_owned();
                match &mut self.nodes[node].kind {
                    Kind::Text(t) => *t = data,
                    _ => return fail("text edit on a non-text node"),
                }
            }
            9 => {
                let node = self.element(num(1)?)?;
                let name = text(2)?;
                let value = arr.get(3).cloned().unwrap_or(Value::Null);
                let ok = matches!(
                    (name, &value),
                    ("value", Value::String(_)) | ("checked" | "selected", Value::Bool(_))
                );
                if !ok {
                    return fail(format!("bad property edit {edit}"));
                }
                self.set_property(NodeRef(node), name, value);
            }
            10 => {
                let start = self.node(num(1)?)?;
                if self.comment(start) != Some("t:raw") {
                    return fail("raw replace on a node that does not start a raw region");
                }
                let range = self.range(start)?;
                let end = *range.last().expect("range");
                for &n in &range[1..range.len() - 1] {
                    self.detach(n);
                }
                for n in self.parse_fragment(text(2)?)? {
                    self.insert_before(end, n);
                }
            }
            11 => {
                let (start, end) = self.region(num(1)? as usize)?;
                let fresh = self.parse_fragment(text(2)?)?;
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
                let mut next = num(3)?;
                self.number(&range, &mut next)?;
            }
            op => return fail(format!("unknown opcode {op}")),
        }
        Ok(())
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

    /// Parses an HTML fragment into detached nodes (the subset of HTML the server sends).
    fn parse_fragment(&mut self, html: &str) -> Result<Vec<usize>, DomError> {
        let mut top = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let b = html.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let node = if html[i..].starts_with("<!--") {
                let Some(end) = html[i + 4..].find("-->") else {
                    return fail("unterminated comment");
                };
                let data = html[i + 4..i + 4 + end].to_owned();
                i += 4 + end + 3;
                self.alloc(Kind::Comment(data))
            } else if html[i..].starts_with("</") {
                let Some(end) = html[i..].find('>') else {
                    return fail("unterminated end tag");
                };
                let name = html[i + 2..i + end].to_ascii_lowercase();
                i += end + 1;
                match stack.pop() {
                    Some(open) if matches!(&self.nodes[open].kind, Kind::Element { tag, .. } if *tag == name) =>
                        {}
                    _ => return fail(format!("unexpected </{name}>")),
                }
                continue;
            } else if b[i] == b'<' {
                let mut j = i + 1;
                while j < b.len() && !matches!(b[j], b' ' | b'>' | b'/') {
                    j += 1;
                }
                let tag = html[i + 1..j].to_ascii_lowercase();
                let mut attrs = Vec::new();
                loop {
                    while j < b.len() && b[j] == b' ' {
                        j += 1;
                    }
                    if j >= b.len() {
                        return fail("unterminated tag");
                    }
                    if b[j] == b'>' {
                        j += 1;
                        break;
                    }
                    if b[j] == b'/' {
                        j += 1;
                        continue;
                    }
                    let ns = j;
                    while j < b.len() && !matches!(b[j], b'=' | b' ' | b'>') {
                        j += 1;
                    }
                    let name = html[ns..j].to_ascii_lowercase();
                    let mut value = String::new();
                    if j < b.len() && b[j] == b'=' {
                        j += 1;
                        if b.get(j) != Some(&b'"') {
                            return fail("unquoted attribute value");
                        }
                        let Some(len) = html[j + 1..].find('"') else {
                            return fail("unterminated attribute value");
                        };
                        value = crate::tree::decode_entities(&html[j + 1..j + 1 + len]);
                        j += len + 2;
                    }
                    attrs.push((name, value));
                }
                i = j;
                let node = self.alloc(Kind::Element {
                    tag: tag.clone(),
                    attrs,
                    props: Vec::new(),
                });
                match stack.last() {
                    Some(&p) => self.append(p, node),
                    None => top.push(node),
                }
                if matches!(tag.as_str(), "script" | "style") {
                    let close = format!("</{tag}>");
                    let Some(len) = html[i..].find(&close) else {
                        return fail("unterminated raw text element");
                    };
                    if len > 0 {
                        let t = self.alloc(Kind::Text(html[i..i + len].to_owned()));
                        self.append(node, t);
                    }
                    i += len + close.len();
                } else if !is_void(&tag) {
                    stack.push(node);
                }
                continue;
            } else {
                let end = html[i..].find('<').map_or(b.len(), |k| i + k);
                let data = crate::tree::decode_entities(&html[i..end]);
                i = end;
                self.alloc(Kind::Text(data))
            };
            match stack.last() {
                Some(&p) => self.append(p, node),
                None => top.push(node),
            }
        }
        if !stack.is_empty() {
            return fail("unclosed element in fragment");
        }
        Ok(top)
    }
}

enum SelectorPart {
    Tag(String),
    Id(String),
    Class(String),
    Attr(String, Option<String>),
}

fn parse_selector(s: &str) -> Option<Vec<SelectorPart>> {
    let mut parts = Vec::new();
    let b = s.trim().as_bytes();
    let s = s.trim();
    let mut i = 0;
    let ident_end = |mut j: usize| {
        while j < b.len() && !matches!(b[j], b'#' | b'.' | b'[') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        match b[i] {
            b'#' => {
                let j = ident_end(i + 1);
                parts.push(SelectorPart::Id(s[i + 1..j].to_owned()));
                i = j;
            }
            b'.' => {
                let j = ident_end(i + 1);
                parts.push(SelectorPart::Class(s[i + 1..j].to_owned()));
                i = j;
            }
            b'[' => {
                let close = s[i..].find(']')? + i;
                let inner = &s[i + 1..close];
                let part = match inner.split_once('=') {
                    Some((n, v)) => SelectorPart::Attr(
                        n.trim().to_owned(),
                        Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()),
                    ),
                    None => SelectorPart::Attr(inner.trim().to_owned(), None),
                };
                parts.push(part);
                i = close + 1;
            }
            _ => {
                let j = ident_end(i);
                parts.push(SelectorPart::Tag(s[i..j].to_ascii_lowercase()));
                i = j;
            }
        }
    }
    (!parts.is_empty()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_edits_and_checks_ids() {
        let mut dom = Dom::with_regions(&["fixture"]);
        dom.apply_json(1, r#"[[11,0,"<p>a</p><ul></ul>",1]]"#)
            .unwrap();
        // start 1, p 2, text 3, ul 4, end 5
        assert_eq!(dom.region_html(0), "<p>a</p><ul></ul>");
        dom.apply_json(
            2,
            r#"[[2,4,"<li>x</li><li>y &amp; z</li>",6],[8,3,"b"],[4,8,6],[6,2,"class","c"]]"#,
        )
        .unwrap();
        assert_eq!(
            dom.region_html(0),
            r#"<p class="c">b</p><ul><li>y &amp; z</li><li>x</li></ul>"#
        );
        let err = dom.apply_json(3, r#"[[3,99]]"#).unwrap_err();
        assert!(err.0.contains("99"));
        assert!(dom
            .apply_json(3, r#"[[2,4,"<li></li>",6]]"#)
            .unwrap_err()
            .0
            .contains("twice"));
    }

    #[test]
    fn ranges_move_and_remove_whole() {
        let mut dom = Dom::with_regions(&["r"]);
        dom.apply_json(
            1,
            r#"[[11,0,"<!--t:c--><b>1</b><!--/t--><!--t:raw--><i>r</i><!--/t--><hr>",1]]"#,
        )
        .unwrap();
        // 1 start, 2 c, 3 b, 4 "1", 5 /t, 6 raw, 7 /t, 8 hr, 9 end
        dom.apply_json(2, r#"[[4,2,9],[10,6,"<u>n</u>"]]"#).unwrap();
        assert_eq!(
            dom.region_html(0),
            "<!--t:raw--><u>n</u><!--/t--><hr><!--t:c--><b>1</b><!--/t-->"
        );
        dom.apply_json(3, r#"[[3,2],[3,6]]"#).unwrap();
        assert_eq!(dom.region_html(0), "<hr>");
    }

    #[test]
    fn attach_keeps_equal_prerendered_nodes() {
        let mut dom = Dom::with_prerendered(&[("r", r#"<p id="a" class="b">x</p>"#)]).unwrap();
        let p = dom.select("#a").unwrap();
        dom.apply_json(1, r#"[[11,0,"<p class=\"b\" id=\"a\">x</p>",1]]"#)
            .unwrap();
        assert_eq!(dom.select("p"), Some(p));
        assert_eq!(dom.node_id(p), Some(2));
    }

    #[test]
    fn selectors() {
        let mut dom = Dom::with_regions(&["r"]);
        dom.apply_json(
            1,
            r#"[[11,0,"<div class=\"a b\"><span id=\"s\" data-k=\"3\"></span></div>",1]]"#,
        )
        .unwrap();
        assert!(dom.select("div.b").is_some());
        assert!(dom.select("span#s[data-k=3]").is_some());
        assert!(dom.select("[data-k='4']").is_none());
        assert_eq!(dom.select_all("span").len(), 1);
    }
}
