//! The render tree: an arena of what one component's markup shows, parsed from maud's output.
//!
//! maud guarantees well-formed, quoted and escaped markup, so a small purpose-built parser suffices. Only
//! markup a browser would parse into a different node structure is rejected (a `<tr>` directly inside
//! `<table>`, stray end tags, comments that are not Tether markers), because node ids are assigned in
//! pre-order over this tree and must match the browser's DOM node for node.
//!
//! Text is stored decoded; attribute values too. Event bindings and keys are kept apart from attributes:
//! keys are never serialised, bindings are serialised with their handler id.

use std::fmt;

use crate::event::EventKind;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeIndex = u32;

/// `FLAG_*` bits of an event binding.
pub(crate) const FLAG_PREVENT_DEFAULT: u8 = 1;
pub(crate) const FLAG_STOP_PROPAGATION: u8 = 2;

#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    /// The component's top-level nodes, in order.
    pub(crate) top: Vec<NodeIndex>,
}

#[derive(Debug)]
pub(crate) struct Node {
    /// DOM node id (for raw regions and slots: the start marker's id); 0 until assigned.
    pub(crate) id: u32,
    /// `t-key` of an element, or the key of a child component slot.
    pub(crate) key: Option<Box<str>>,
    pub(crate) kind: NodeKind,
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    Element(Element),
    Text(Box<str>),
    /// Trusted HTML between `<!--t:raw-->` and `<!--/t-->`, not diffed inside.
    Raw(Box<str>),
    /// A child component: `spec` is its render-order index until the diff resolves it to a component id.
    Slot {
        spec: u32,
        component: u32,
    },
}

#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) tag: Box<str>,
    /// Ordinary attributes in source order; a boolean attribute has an empty value.
    pub(crate) attrs: Vec<(Box<str>, Box<str>)>,
    pub(crate) events: Vec<Binding>,
    pub(crate) children: Vec<NodeIndex>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding {
    pub(crate) kind: EventKind,
    pub(crate) flags: u8,
    /// Index of the closure in the component's latest render.
    pub(crate) render_index: u32,
    /// Circuit-unique handler id; 0 until assigned.
    pub(crate) handler_id: u32,
}

impl Tree {
    pub(crate) fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes[index as usize]
    }

    pub(crate) fn node_mut(&mut self, index: NodeIndex) -> &mut Node {
        &mut self.nodes[index as usize]
    }
}

/// Markup that cannot be turned into a render tree that matches the browser's DOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkupError {
    /// Byte offset in the rendered markup.
    pub offset: usize,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for MarkupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid markup at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for MarkupError {}

pub(crate) fn is_void(tag: &str) -> bool {
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

fn is_raw_text(tag: &str) -> bool {
    matches!(tag, "script" | "style")
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    tree: Tree,
    /// Open elements.
    stack: Vec<NodeIndex>,
}

/// Parses one component's markup.
pub(crate) fn parse(src: &str) -> Result<Tree, MarkupError> {
    let mut p = Parser {
        src,
        pos: 0,
        tree: Tree::default(),
        stack: Vec::new(),
    };
    p.run()?;
    Ok(p.tree)
}

impl Parser<'_> {
    fn err<T>(&self, offset: usize, reason: impl Into<String>) -> Result<T, MarkupError> {
        Err(MarkupError {
            offset,
            reason: reason.into(),
        })
    }

    fn push(&mut self, node: Node) -> NodeIndex {
        let index = self.tree.nodes.len() as NodeIndex;
        self.tree.nodes.push(node);
        match self.stack.last() {
            Some(&parent) => match &mut self.tree.nodes[parent as usize].kind {
                NodeKind::Element(e) => e.children.push(index),
                _ => unreachable!("only elements are pushed on the stack"),
            },
            None => self.tree.top.push(index),
        }
        index
    }

    fn run(&mut self) -> Result<(), MarkupError> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            if bytes[self.pos] != b'<' {
                let end = memchr(b'<', &bytes[self.pos..]).map_or(bytes.len(), |i| self.pos + i);
                let text = decode_entities(&self.src[self.pos..end]);
                self.pos = end;
                self.push_text(text);
                continue;
            }
            let rest = &self.src[self.pos..];
            if rest.starts_with("<!--") {
                self.comment()?;
            } else if rest.starts_with("</") {
                self.end_tag()?;
            } else if rest.len() > 1 && rest.as_bytes()[1].is_ascii_alphabetic() {
                self.start_tag()?;
            } else if rest.starts_with("<!") {
                return self.err(
                    self.pos,
                    "declarations such as <!DOCTYPE> cannot appear in a component",
                );
            } else {
                return self.err(self.pos, "a `<` that starts no tag");
            }
        }
        if let Some(&open) = self.stack.last() {
            if let NodeKind::Element(e) = &self.tree.node(open).kind {
                return self.err(self.pos, format!("<{}> is never closed", e.tag));
            }
        }
        Ok(())
    }

    fn push_text(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        // Adjacent text merges: the browser would parse it as one node.
        let last = match self.stack.last() {
            Some(&parent) => match &self.tree.node(parent).kind {
                NodeKind::Element(e) => e.children.last().copied(),
                _ => None,
            },
            None => self.tree.top.last().copied(),
        };
        if let Some(last) = last {
            if let NodeKind::Text(existing) = &mut self.tree.node_mut(last).kind {
                let mut merged = String::with_capacity(existing.len() + text.len());
                merged.push_str(existing);
                merged.push_str(&text);
                *existing = merged.into_boxed_str();
                return;
            }
        }
        self.push(Node {
            id: 0,
            key: None,
            kind: NodeKind::Text(text.into_boxed_str()),
        });
    }

    fn comment(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let Some(end) = self.src[start + 4..].find("-->") else {
            return self.err(start, "unterminated comment");
        };
        let body = &self.src[start + 4..start + 4 + end];
        self.pos = start + 4 + end + 3;
        if let Some(spec) = body.strip_prefix("t:c:") {
            let Ok(spec) = spec.parse::<u32>() else {
                return self.err(start, "malformed child component placeholder");
            };
            self.push(Node {
                id: 0,
                key: None,
                kind: NodeKind::Slot { spec, component: 0 },
            });
            Ok(())
        } else if body == "t:raw" {
            // The region ends at the first `<!--/t-->` at the same nesting depth.
            let content_start = self.pos;
            let mut depth = 1usize;
            let mut cursor = content_start;
            loop {
                let Some(next) = self.src[cursor..].find("<!--") else {
                    return self.err(start, "raw region without its `<!--/t-->` end marker");
                };
                let at = cursor + next;
                let tail = &self.src[at..];
                if tail.starts_with("<!--/t-->") {
                    depth -= 1;
                    if depth == 0 {
                        let html = &self.src[content_start..at];
                        self.pos = at + "<!--/t-->".len();
                        self.push(Node {
                            id: 0,
                            key: None,
                            kind: NodeKind::Raw(html.into()),
                        });
                        return Ok(());
                    }
                    cursor = at + "<!--/t-->".len();
                } else {
                    if tail.starts_with("<!--t:") {
                        depth += 1;
                    }
                    cursor = at + 4;
                }
            }
        } else {
            self.err(
                start,
                "HTML comments are not allowed in component markup (they would shift node ids); put them in a RawHtml region",
            )
        }
    }

    fn end_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let Some(close) = self.src[start..].find('>') else {
            return self.err(start, "unterminated end tag");
        };
        let name = self.src[start + 2..start + close].trim();
        self.pos = start + close + 1;
        let Some(&open) = self.stack.last() else {
            return self.err(start, format!("</{name}> closes nothing"));
        };
        let NodeKind::Element(e) = &self.tree.node(open).kind else {
            unreachable!("only elements are pushed on the stack")
        };
        if !e.tag.eq_ignore_ascii_case(name) {
            return self.err(start, format!("</{name}> closes <{}>", e.tag));
        }
        self.stack.pop();
        Ok(())
    }

    fn start_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>') {
            i += 1;
        }
        let tag = self.src[start + 1..i].to_ascii_lowercase();
        if tag == "tr" {
            if let Some(&parent) = self.stack.last() {
                if let NodeKind::Element(p) = &self.tree.node(parent).kind {
                    if &*p.tag == "table" {
                        return self.err(
                            start,
                            "<tr> directly inside <table>: write <tbody> (the browser inserts one, which would shift node ids)",
                        );
                    }
                }
            }
        }
        let mut attrs = Vec::new();
        let mut events = Vec::new();
        let mut key = None;
        let mut self_closing = false;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() {
                return self.err(start, format!("unterminated <{tag}> tag"));
            }
            if bytes[i] == b'>' {
                i += 1;
                break;
            }
            if bytes[i] == b'/' {
                self_closing = true;
                i += 1;
                continue;
            }
            let name_start = i;
            while i < bytes.len()
                && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>' | b'=')
            {
                i += 1;
            }
            let name = self.src[name_start..i].to_ascii_lowercase();
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                let (raw, next) = match bytes.get(i) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let Some(len) = self.src[i + 1..].find(q as char) else {
                            return self.err(name_start, format!("unterminated value of `{name}`"));
                        };
                        (&self.src[i + 1..i + 1 + len], i + 1 + len + 1)
                    }
                    _ => {
                        let mut j = i;
                        while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>'
                        {
                            j += 1;
                        }
                        (&self.src[i..j], j)
                    }
                };
                value = decode_entities(raw);
                i = next;
            }
            if name == "t-key" {
                if key.is_some() {
                    return self.err(name_start, "an element has two t-key attributes");
                }
                key = Some(value.into_boxed_str());
            } else if let Some(kind) = name.strip_prefix("t-").and_then(EventKind::from_name) {
                let Some(binding) = parse_binding(kind, &value) else {
                    return self.err(
                        name_start,
                        format!("the value of `{name}` must come from the render context (cx.on_{kind}(…))"),
                    );
                };
                if events.iter().any(|b: &Binding| b.kind == kind) {
                    return self.err(name_start, format!("an element binds `{name}` twice"));
                }
                events.push(binding);
            } else if !attrs
                .iter()
                .any(|(n, _): &(Box<str>, Box<str>)| **n == *name)
            {
                // Like the browser, the first of duplicate attributes wins.
                attrs.push((name.into_boxed_str(), value.into_boxed_str()));
            }
        }
        self.pos = i;
        let void = is_void(&tag) || self_closing;
        let raw_text = is_raw_text(&tag);
        let index = self.push(Node {
            id: 0,
            key,
            kind: NodeKind::Element(Element {
                tag: tag.clone().into_boxed_str(),
                attrs,
                events,
                children: Vec::new(),
            }),
        });
        if void {
            return Ok(());
        }
        if raw_text {
            let close = format!("</{tag}");
            let Some(len) = self.src[self.pos..].find(&close) else {
                return self.err(start, format!("<{tag}> is never closed"));
            };
            let content = &self.src[self.pos..self.pos + len];
            self.pos += len;
            self.stack.push(index);
            if !content.is_empty() {
                self.push(Node {
                    id: 0,
                    key: None,
                    kind: NodeKind::Text(content.into()),
                });
            }
            return Ok(());
        }
        self.stack.push(index);
        Ok(())
    }
}

fn parse_binding(kind: EventKind, value: &str) -> Option<Binding> {
    let (index, flags) = match value.split_once(':') {
        Some((index, flags)) => (index, flags),
        None => (value, ""),
    };
    let render_index = index.parse::<u32>().ok()?;
    let mut bits = 0;
    for c in flags.chars() {
        match c {
            'p' => bits |= FLAG_PREVENT_DEFAULT,
            's' => bits |= FLAG_STOP_PROPAGATION,
            _ => return None,
        }
    }
    Some(Binding {
        kind,
        flags: bits,
        render_index,
        handler_id: 0,
    })
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Decodes the character references maud and hand-written markup use.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    } else if let Some(dec) = name.strip_prefix('#') {
                        dec.parse::<u32>().ok().and_then(char::from_u32)
                    } else {
                        None
                    }
                }
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text the way the DOM's `innerHTML` serialises it: `&`, `<`, `>` and U+00A0.
pub(crate) fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value the way the DOM's `innerHTML` serialises it: `&`, `"` and U+00A0.
pub(crate) fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

/// Writes a binding's attribute value: `ID` or `ID:FLAGS`.
pub(crate) fn binding_value(handler_id: u32, flags: u8, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(out, "{handler_id}");
    if flags != 0 {
        out.push(':');
        if flags & FLAG_PREVENT_DEFAULT != 0 {
            out.push('p');
        }
        if flags & FLAG_STOP_PROPAGATION != 0 {
            out.push('s');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(tree: &Tree) -> Vec<String> {
        tree.nodes
            .iter()
            .map(|n| match &n.kind {
                NodeKind::Element(e) => e.tag.to_string(),
                NodeKind::Text(t) => format!("#{t}"),
                NodeKind::Raw(h) => format!("raw:{h}"),
                NodeKind::Slot { spec, .. } => format!("slot:{spec}"),
            })
            .collect()
    }

    #[test]
    fn parses_elements_text_raw_and_slots() {
        let tree = parse(
            r#"<div class="a&amp;b" t-key="k1"><p t-click="0:ps">x &lt; y</p><br><!--t:c:0--><!--t:raw--><b><!--t:raw-->i<!--/t--></b><!--/t-->z</div>"#,
        )
        .unwrap();
        assert_eq!(
            tags(&tree),
            [
                "div",
                "p",
                "#x < y",
                "br",
                "slot:0",
                "raw:<b><!--t:raw-->i<!--/t--></b>",
                "#z"
            ]
        );
        let NodeKind::Element(div) = &tree.node(0).kind else {
            panic!()
        };
        assert_eq!(&*div.attrs[0].1, "a&b");
        assert_eq!(tree.node(0).key.as_deref(), Some("k1"));
        let NodeKind::Element(p) = &tree.node(1).kind else {
            panic!()
        };
        assert_eq!(
            p.events[0].flags,
            FLAG_PREVENT_DEFAULT | FLAG_STOP_PROPAGATION
        );
        assert_eq!(tree.top, [0]);
    }

    #[test]
    fn rejects_markup_the_browser_would_restructure() {
        let e = parse("<table><tr><td>1</td></tr></table>").unwrap_err();
        assert!(e.reason.contains("write <tbody>"), "{e}");
        assert!(parse("<table><tbody><tr><td>1</td></tr></tbody></table>").is_ok());
        assert!(parse("<div></span>").is_err());
        assert!(parse("<div>").is_err());
        assert!(parse("<!-- hi -->").is_err());
        assert!(parse(r#"<a t-click="x">"#).is_err());
    }

    #[test]
    fn decodes_references() {
        assert_eq!(
            decode_entities("a&amp;b&#39;&#x41;&nbsp;&bogus;"),
            "a&b'A\u{a0}&bogus;"
        );
    }
}
