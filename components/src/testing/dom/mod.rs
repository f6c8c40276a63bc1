//! An in-memory DOM that applies render batches exactly as docs/protocol.md says the browser client does,
//! and checks them on the way: every id a batch addresses must exist, every id it assigns must be new,
//! moves keep node identity.
//!
//! Nodes live in an arena and are never freed, so a [`NodeRef`] taken before a batch still names the same
//! node after it: comparing refs is how tests check that moved keyed nodes kept their identity.
//!
//! - `apply`: batch edits, node numbering and the id checks.
//! - `parse`: the fragment parser for the HTML subset the server sends.
//! - `serialize`: `innerHTML`-like output and the canonical form that compares a patched DOM with a fresh
//!   one.
//! - `select`: the small CSS selector subset tests use to find nodes.

mod apply;
mod parse;
mod select;
mod serialize;
#[cfg(test)]
mod tests;

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
}
