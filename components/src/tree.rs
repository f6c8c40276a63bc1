//! The render tree: an arena of what one component's markup shows, parsed from maud's output.
//!
//! maud guarantees well-formed, quoted and escaped markup, so a small purpose-built parser suffices. Only
//! markup a browser would parse into a different node structure is rejected (a `<tr>` directly inside
//! `<table>`, stray end tags, comments that are not Tether markers), because node ids are assigned in
//! pre-order over this tree and must match the browser's DOM node for node.
//!
//! # Layout invariants
//!
//! - Strings are spans into the component's rendered markup (`Shape::src`), kept in their escaped source
//!   form; they are decoded only when an edit carries them (op 6, 8, 9). Strings that are not in the
//!   markup (child keys, recorded form values, re-escaped single-quoted attributes) are appended after
//!   `markup_len`.
//! - Nodes are stored in pre-order, so an element's subtree is the contiguous range `index..end`. Its
//!   attributes and bindings are stored in open order (also contiguous per subtree); `kids` blocks are
//!   written when an element closes, so a subtree's blocks are contiguous too and end with its own.
//!   [`reparse`] relies on all three to splice a re-parsed element into a copy of the old tree.
//! - Event bindings and keys are kept apart from attributes: keys are never serialised, bindings are
//!   serialised with their handler id.

use std::fmt;

use crate::event::EventKind;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeIndex = u32;

/// `FLAG_*` bits of an event binding.
pub(crate) const FLAG_PREVENT_DEFAULT: u8 = 1;
pub(crate) const FLAG_STOP_PROPAGATION: u8 = 2;

/// A range: of bytes in [`Shape::src`], or of entries in one of the tree's flat arrays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

impl Span {
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// One render's tree. Strings are spans into the rendered markup (kept in their escaped source form, so
/// equal values compare equal without decoding); children, attributes and bindings live in flat arrays,
/// so parsing a render allocates a handful of vectors rather than several per node.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) shape: Shape,
    pub(crate) nodes: Vec<Node>,
    pub(crate) events: Vec<Binding>,
    /// A browser-reported form value was recorded into this tree after it was rendered, so its
    /// attributes no longer match its source text.
    pub(crate) recorded: bool,
}

/// The parts of a tree the diff only reads.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// The rendered markup, plus strings appended later (child keys, recorded form values).
    pub(crate) src: String,
    pub(crate) kids: Vec<NodeIndex>,
    pub(crate) attrs: Vec<Attr>,
    /// The component's top-level nodes: a range of `kids`.
    pub(crate) top: Span,
    /// Length of the rendered markup at the start of `src` (appended strings follow it).
    pub(crate) markup_len: usize,
    /// The child component slots, in pre-order.
    pub(crate) slots: Vec<NodeIndex>,
}

/// The parts of a tree the diff writes (node ids, handler ids, resolved child components), borrowed
/// apart from its [`Shape`].
pub(crate) struct TreeMut<'a> {
    pub(crate) shape: &'a Shape,
    pub(crate) nodes: &'a mut [Node],
    pub(crate) events: &'a mut [Binding],
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub(crate) name: Span,
    /// The value as written inside double quotes (escaped); empty for a boolean attribute.
    pub(crate) value: Span,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// DOM node id (for raw regions and slots: the start marker's id); 0 until assigned.
    pub(crate) id: u32,
    /// `t-key` of an element, or the key of a child component slot.
    pub(crate) key: Option<Span>,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeKind {
    /// `attrs`, `events` and `kids` are ranges of the tree's flat arrays.
    Element {
        tag: Span,
        attrs: Span,
        events: Span,
        kids: Span,
        /// The element's whole source, start tag to end tag.
        outer: Span,
        /// One past the last node of the subtree (subtrees are contiguous in pre-order).
        end: NodeIndex,
        /// One past the last binding of the subtree (bindings are stored in pre-order too).
        events_end: u32,
        /// Whether the subtree holds a child component slot.
        has_slot: bool,
        /// Byte offset just after the start tag.
        inner_start: u32,
        /// Where the subtree's entries begin in `kids` (descendants' blocks, then its own).
        kids_from: u32,
        /// One past the subtree's last attribute (attributes are stored in pre-order).
        attrs_end: u32,
    },
    Text(Span),
    /// Trusted HTML between `<!--t:raw-->` and `<!--/t-->`, not diffed inside.
    Raw(Span),
    /// A child component: `spec` is its render-order index, `component` its id once resolved.
    Slot {
        spec: u32,
        component: u32,
    },
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

impl Shape {
    pub(crate) fn str(&self, span: Span) -> &str {
        &self.src[span.range()]
    }

    pub(crate) fn kids(&self, span: Span) -> &[NodeIndex] {
        &self.kids[span.range()]
    }

    pub(crate) fn attrs(&self, span: Span) -> &[Attr] {
        &self.attrs[span.range()]
    }

    /// Appends a string to `src` and returns its span.
    pub(crate) fn push_str(&mut self, s: &str) -> Span {
        let start = self.src.len() as u32;
        self.src.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    /// Index (in `attrs`) of the attribute `name` within an element's range.
    pub(crate) fn find_attr(&self, attrs: Span, name: &str) -> Option<usize> {
        attrs
            .range()
            .find(|&i| self.str(self.attrs[i].name).eq_ignore_ascii_case(name))
    }
}

impl Tree {
    pub(crate) fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes[index as usize]
    }

    pub(crate) fn as_mut(&mut self) -> TreeMut<'_> {
        TreeMut {
            shape: &self.shape,
            nodes: &mut self.nodes,
            events: &mut self.events,
        }
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
    if !matches!(tag.len(), 2..=6) {
        return false;
    }
    const VOID: [&str; 13] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    VOID.iter().any(|v| v.eq_ignore_ascii_case(tag))
}

pub(crate) fn is_raw_text(tag: &str) -> bool {
    matches!(tag.len(), 5 | 6) && tag.eq_ignore_ascii_case("script")
        || tag.eq_ignore_ascii_case("style")
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Where parsing stops (the end of `src`, or of a fragment).
    limit: usize,
    /// Tag of the element a fragment is parsed into.
    context: Option<&'a str>,
    /// Whether a fragment is parsed somewhere inside a `<p>`.
    context_in_p: bool,
    nodes: Vec<Node>,
    kids: Vec<NodeIndex>,
    attrs: Vec<Attr>,
    events: Vec<Binding>,
    /// Children collected for the open elements, innermost last.
    scratch: Vec<NodeIndex>,
    /// Open elements with where their children start in `scratch` and the slot count when they opened.
    stack: Vec<(NodeIndex, usize, u32)>,
    slots: Vec<NodeIndex>,
    /// Attribute values that had to be re-escaped: (attribute index, escaped value).
    rewritten: Vec<(usize, String)>,
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        len: (end - start) as u32,
    }
}

/// Parses one component's markup, taking ownership of it.
pub(crate) fn parse(src: String) -> Result<Tree, MarkupError> {
    let mut p = Parser {
        src: &src,
        pos: 0,
        limit: src.len(),
        context: None,
        context_in_p: false,
        nodes: Vec::with_capacity(src.len() / 16),
        kids: Vec::with_capacity(src.len() / 16),
        attrs: Vec::with_capacity(src.len() / 32),
        events: Vec::with_capacity(src.len() / 64),
        scratch: Vec::new(),
        stack: Vec::new(),
        slots: Vec::new(),
        rewritten: Vec::new(),
    };
    p.run()?;
    let top_start = p.kids.len();
    p.kids.extend_from_slice(&p.scratch);
    let top = span(top_start, p.kids.len());
    let Parser {
        mut nodes,
        mut kids,
        mut attrs,
        mut events,
        rewritten,
        slots,
        ..
    } = p;
    // The capacity guesses above avoid regrowing while parsing; trees are retained, so give back a
    // large overshoot (text-heavy markup has few nodes per byte).
    shrink(&mut nodes);
    shrink(&mut kids);
    shrink(&mut attrs);
    shrink(&mut events);
    let mut shape = Shape {
        markup_len: src.len(),
        src,
        kids,
        attrs,
        top,
        slots,
    };
    for (index, value) in rewritten {
        shape.attrs[index].value = shape.push_str(&value);
    }
    Ok(Tree {
        shape,
        nodes,
        events,
        recorded: false,
    })
}

fn shrink<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 4 + 8 {
        v.shrink_to_fit();
    }
}

impl Parser<'_> {
    fn err<T>(&self, offset: usize, reason: impl Into<String>) -> Result<T, MarkupError> {
        Err(MarkupError {
            offset,
            reason: reason.into(),
        })
    }

    fn push(&mut self, node: Node) -> NodeIndex {
        let index = self.nodes.len() as NodeIndex;
        self.nodes.push(node);
        self.scratch.push(index);
        index
    }

    fn run(&mut self) -> Result<(), MarkupError> {
        let bytes = &self.src.as_bytes()[..self.limit];
        while self.pos < bytes.len() {
            if bytes[self.pos] != b'<' {
                // A text run always ends at a tag or marker, so adjacent text cannot occur.
                let end = memchr(b'<', &bytes[self.pos..]).map_or(bytes.len(), |i| self.pos + i);
                self.push(Node {
                    id: 0,
                    key: None,
                    kind: NodeKind::Text(span(self.pos, end)),
                });
                self.pos = end;
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
        if let Some(&(open, _, _)) = self.stack.last() {
            if let NodeKind::Element { tag, .. } = self.nodes[open as usize].kind {
                return self.err(
                    self.pos,
                    format!("<{}> is never closed", &self.src[tag.range()]),
                );
            }
        }
        Ok(())
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
            let index = self.push(Node {
                id: 0,
                key: None,
                kind: NodeKind::Slot { spec, component: 0 },
            });
            self.slots.push(index);
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
                        self.pos = at + "<!--/t-->".len();
                        self.push(Node {
                            id: 0,
                            key: None,
                            kind: NodeKind::Raw(span(content_start, at)),
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

    fn close(&mut self) {
        let (open, kids_from, slots_before) = self.stack.pop().expect("checked by caller");
        let start = self.kids.len();
        self.kids.extend_from_slice(&self.scratch[kids_from..]);
        self.scratch.truncate(kids_from);
        let (nodes_end, events_end, pos) = (self.nodes.len(), self.events.len(), self.pos);
        let (kids_end, attrs_len) = (self.kids.len(), self.attrs.len());
        let slot_inside = self.slots.len() as u32 != slots_before;
        if let NodeKind::Element {
            kids,
            outer,
            end,
            events_end: ev_end,
            has_slot,
            attrs_end,
            ..
        } = &mut self.nodes[open as usize].kind
        {
            *kids = span(start, kids_end);
            outer.len = pos as u32 - outer.start;
            *end = nodes_end as NodeIndex;
            *ev_end = events_end as u32;
            *has_slot = slot_inside;
            *attrs_end = attrs_len as u32;
        }
    }

    fn end_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let Some(close) = memchr(b'>', &self.src.as_bytes()[start..]) else {
            return self.err(start, "unterminated end tag");
        };
        let name = &self.src[start + 2..start + close];
        self.pos = start + close + 1;
        let Some(&(open, _, _)) = self.stack.last() else {
            return self.err(start, format!("</{name}> closes nothing"));
        };
        let NodeKind::Element { tag, .. } = self.nodes[open as usize].kind else {
            unreachable!("only elements are pushed on the stack")
        };
        let tag = &self.src[tag.range()];
        if !tag.eq_ignore_ascii_case(name) {
            return self.err(start, format!("</{name}> closes <{tag}>"));
        }
        self.close();
        Ok(())
    }

    fn start_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>') {
            i += 1;
        }
        let tag = span(start + 1, i);
        let tag_name = &self.src[tag.range()];
        if tag_name.eq_ignore_ascii_case("tr") {
            let parent = match self.stack.last() {
                Some(&(parent, _, _)) => match self.nodes[parent as usize].kind {
                    NodeKind::Element { tag: p, .. } => Some(&self.src[p.range()]),
                    _ => None,
                },
                None => self.context,
            };
            if let Some(p) = parent {
                {
                    if p.eq_ignore_ascii_case("table") {
                        return self.err(
                            start,
                            "<tr> directly inside <table>: write <tbody> (the browser inserts one, which would shift node ids)",
                        );
                    }
                }
            }
        }
        if closes_paragraph(tag_name) && self.inside_paragraph() {
            return self.err(
                start,
                format!("<{tag_name}> inside <p>: the browser would close the paragraph first (and shift node ids); use a <div> or <span>"),
            );
        }
        let attrs_start = self.attrs.len();
        let events_start = self.events.len();
        let mut key = None;
        let mut self_closing = false;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() {
                return self.err(start, format!("unterminated <{tag_name}> tag"));
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
            let name = span(name_start, i);
            let name_str = &self.src[name.range()];
            let mut value = Span::default();
            let mut rewrite = None;
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                match bytes.get(i) {
                    Some(b'"') => {
                        let Some(len) = memchr(b'"', &bytes[i + 1..]) else {
                            return self
                                .err(name_start, format!("unterminated value of `{name_str}`"));
                        };
                        value = span(i + 1, i + 1 + len);
                        i += len + 2;
                    }
                    quote => {
                        let (raw, next) = if quote == Some(&b'\'') {
                            let Some(len) = self.src[i + 1..].find('\'') else {
                                return self.err(
                                    name_start,
                                    format!("unterminated value of `{name_str}`"),
                                );
                            };
                            (&self.src[i + 1..i + 1 + len], i + len + 2)
                        } else {
                            let mut j = i;
                            while j < bytes.len()
                                && !bytes[j].is_ascii_whitespace()
                                && bytes[j] != b'>'
                            {
                                j += 1;
                            }
                            (&self.src[i..j], j)
                        };
                        value = span(i, i);
                        let mut escaped = String::new();
                        escape_like_maud(&decode_entities(raw), &mut escaped);
                        rewrite = Some(escaped);
                        i = next;
                    }
                }
            }
            if name_str.eq_ignore_ascii_case("t-key") {
                if key.is_some() {
                    return self.err(name_start, "an element has two t-key attributes");
                }
                if rewrite.is_some() {
                    return self.err(
                        name_start,
                        "write t-key with a double-quoted value, as maud does",
                    );
                }
                key = Some(value);
            } else if let Some(kind) = event_kind(name_str) {
                let Some(binding) = parse_binding(kind, &self.src[value.range()]) else {
                    return self.err(
                        name_start,
                        format!("the value of `{name_str}` must come from the render context (cx.on_{kind}(…))"),
                    );
                };
                if self.events[events_start..].iter().any(|b| b.kind == kind) {
                    return self.err(name_start, format!("an element binds `{name_str}` twice"));
                }
                self.events.push(binding);
            } else if !self.attrs[attrs_start..]
                .iter()
                .any(|a| self.src[a.name.range()].eq_ignore_ascii_case(name_str))
            {
                // Like the browser, the first of duplicate attributes wins.
                if let Some(escaped) = rewrite {
                    self.rewritten.push((self.attrs.len(), escaped));
                }
                self.attrs.push(Attr { name, value });
            }
        }
        self.pos = i;
        let void = is_void(tag_name);
        if self_closing && !void {
            return self.err(
                start,
                format!("<{tag_name}/> does not close in HTML (the browser would nest what follows): write <{tag_name}></{tag_name}>"),
            );
        }
        let raw_text = is_raw_text(tag_name);
        let index = self.push(Node {
            id: 0,
            key,
            kind: NodeKind::Element {
                tag,
                attrs: span(attrs_start, self.attrs.len()),
                events: span(events_start, self.events.len()),
                kids: Span::default(),
                outer: span(start, i),
                end: self.nodes.len() as NodeIndex + 1,
                events_end: self.events.len() as u32,
                has_slot: false,
                inner_start: i as u32,
                kids_from: self.kids.len() as u32,
                attrs_end: self.attrs.len() as u32,
            },
        });
        if void {
            return Ok(());
        }
        self.stack
            .push((index, self.scratch.len(), self.slots.len() as u32));
        if raw_text {
            let close = format!("</{tag_name}");
            let Some(len) = self.src[self.pos..].find(&close) else {
                return self.err(start, format!("<{tag_name}> is never closed"));
            };
            if len > 0 {
                self.push(Node {
                    id: 0,
                    key: None,
                    kind: NodeKind::Text(span(self.pos, self.pos + len)),
                });
            }
            self.pos += len;
        }
        Ok(())
    }
}

/// Length of the common prefix of two byte strings (block compares first, so the long equal runs of a
/// re-render cost a `memcmp`).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix of two byte strings, at most `max`.
fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    const BLOCK: usize = 256;
    let mut i = 0;
    while i + BLOCK <= max
        && a[a.len() - i - BLOCK..a.len() - i] == b[b.len() - i - BLOCK..b.len() - i]
    {
        i += BLOCK;
    }
    while i < max && a[a.len() - 1 - i] == b[b.len() - 1 - i] {
        i += 1;
    }
    i
}

fn shift(v: u32, by: i64) -> u32 {
    (v as i64 + by) as u32
}

/// A tree rebuilt from the previous one by re-parsing only the content of `element`, the deepest element
/// whose content holds every byte that differs between the two renders' markup.
pub(crate) struct Reparsed {
    pub(crate) tree: Tree,
    pub(crate) element: NodeIndex,
}

/// Re-parses only what changed since `old` was parsed. Everything outside the changed element is copied
/// from `old` (with node ids and handler ids, spans moved by the length difference); the caller diffs
/// only that element's children. Gives the markup back when this does not apply (child component slots,
/// recorded form values, a change at the top level or inside `<script>`/`<style>`, or a fragment that
/// does not parse on its own), so the caller parses it whole.
pub(crate) fn reparse(old: &Tree, html: String) -> Result<Reparsed, String> {
    let sh = &old.shape;
    if old.recorded || !sh.slots.is_empty() || sh.src.len() != sh.markup_len {
        return Err(html);
    }
    let (o, n) = (sh.src.as_bytes(), html.as_bytes());
    let p = common_prefix(o, n);
    let s = common_suffix(o, n, o.len().min(n.len()) - p);
    let (change_start, change_end) = (p as u32, (o.len() - s) as u32);
    let delta = n.len() as i64 - o.len() as i64;

    // Descend to the deepest element whose content (between its tags) holds the change.
    let mut found = None;
    let mut in_p = false;
    let mut list = sh.kids(sh.top);
    'descend: loop {
        for &c in list {
            let NodeKind::Element {
                tag,
                outer,
                inner_start,
                kids,
                ..
            } = old.node(c).kind
            else {
                continue;
            };
            if outer.start > change_start {
                break;
            }
            let tag_name = sh.str(tag);
            if is_void(tag_name) {
                continue;
            }
            let inner_end = outer.start + outer.len - tag.len - 3;
            if inner_start <= change_start && change_end <= inner_end {
                if is_raw_text(tag_name) {
                    break 'descend;
                }
                found = Some((c, inner_end));
                in_p |= tag_name.eq_ignore_ascii_case("p");
                list = sh.kids(kids);
                continue 'descend;
            }
        }
        break;
    }
    let Some((e, inner_end)) = found else {
        return Err(html);
    };
    let NodeKind::Element {
        tag: e_tag,
        attrs: e_attrs,
        events: e_events,
        kids: e_kids,
        end: e_end,
        events_end: e_events_end,
        inner_start,
        kids_from,
        attrs_end: e_attrs_end,
        ..
    } = old.node(e).kind
    else {
        unreachable!("found elements only")
    };

    let frag_end = (inner_end as i64 + delta) as usize;
    let fragment_len = frag_end.saturating_sub(inner_start as usize);
    if fragment_len > 4096 && fragment_len > n.len() / 2 {
        // Most of the markup changed: parsing it whole costs less than parsing a fragment and splicing.
        return Err(html);
    }
    let mut p = Parser {
        src: &html,
        pos: inner_start as usize,
        limit: frag_end,
        context: Some(sh.str(e_tag)),
        context_in_p: in_p,
        nodes: Vec::with_capacity(fragment_len / 16),
        kids: Vec::with_capacity(fragment_len / 16),
        attrs: Vec::with_capacity(fragment_len / 32),
        events: Vec::with_capacity(fragment_len / 64),
        scratch: Vec::new(),
        stack: Vec::new(),
        slots: Vec::new(),
        rewritten: Vec::new(),
    };
    if p.run().is_err()
        || p.pos != frag_end
        || !p.stack.is_empty()
        || !p.slots.is_empty()
        || !p.rewritten.is_empty()
    {
        drop(p);
        return Err(html);
    }
    let top_start = p.kids.len();
    p.kids.extend_from_slice(&p.scratch);
    let f_top = span(top_start, p.kids.len());
    let Parser {
        nodes: f_nodes,
        kids: f_kids,
        attrs: f_attrs,
        events: f_events,
        ..
    } = p;

    let node_off = e + 1;
    let attrs_off = e_attrs.start + e_attrs.len;
    let events_off = e_events.start + e_events.len;
    let dn = f_nodes.len() as i64 - (e_end - e - 1) as i64;
    let dk = f_kids.len() as i64 - (e_kids.start + e_kids.len - kids_from) as i64;
    let da = f_attrs.len() as i64 - (e_attrs_end - attrs_off) as i64;
    let de = f_events.len() as i64 - (e_events_end - events_off) as i64;

    let mut nodes = Vec::with_capacity((old.nodes.len() as i64 + dn) as usize);
    for (i, node) in old.nodes[..=e as usize].iter().enumerate() {
        let mut node = *node;
        if let NodeKind::Element {
            outer,
            end,
            events_end,
            attrs_end,
            kids,
            has_slot,
            ..
        } = &mut node.kind
        {
            if *end > e {
                // E or one of its ancestors: it spans the change.
                outer.len = shift(outer.len, delta);
                *end = shift(*end, dn);
                *events_end = shift(*events_end, de);
                *attrs_end = shift(*attrs_end, da);
                if i == e as usize {
                    *kids = Span {
                        start: f_top.start + kids_from,
                        len: f_top.len,
                    };
                    *has_slot = false;
                } else {
                    kids.start = shift(kids.start, dk);
                }
            }
        }
        nodes.push(node);
    }
    for node in &f_nodes {
        let mut node = *node;
        if let NodeKind::Element {
            attrs,
            events,
            kids,
            end,
            events_end,
            kids_from: from,
            attrs_end,
            ..
        } = &mut node.kind
        {
            attrs.start += attrs_off;
            events.start += events_off;
            kids.start += kids_from;
            *end += node_off;
            *events_end += events_off;
            *from += kids_from;
            *attrs_end += attrs_off;
        }
        nodes.push(node);
    }
    for node in &old.nodes[e_end as usize..] {
        let mut node = *node;
        if let Some(key) = &mut node.key {
            key.start = shift(key.start, delta);
        }
        match &mut node.kind {
            NodeKind::Element {
                tag,
                attrs,
                events,
                kids,
                outer,
                end,
                events_end,
                inner_start,
                kids_from,
                attrs_end,
                ..
            } => {
                tag.start = shift(tag.start, delta);
                outer.start = shift(outer.start, delta);
                *inner_start = shift(*inner_start, delta);
                attrs.start = shift(attrs.start, da);
                events.start = shift(events.start, de);
                kids.start = shift(kids.start, dk);
                *kids_from = shift(*kids_from, dk);
                *end = shift(*end, dn);
                *events_end = shift(*events_end, de);
                *attrs_end = shift(*attrs_end, da);
            }
            NodeKind::Text(t) | NodeKind::Raw(t) => t.start = shift(t.start, delta),
            NodeKind::Slot { .. } => unreachable!("trees with slots are not re-parsed in part"),
        }
        nodes.push(node);
    }

    let mut kids = Vec::with_capacity((sh.kids.len() as i64 + dk) as usize);
    kids.extend_from_slice(&sh.kids[..kids_from as usize]);
    kids.extend(f_kids.iter().map(|&k| k + node_off));
    kids.extend(
        sh.kids[(e_kids.start + e_kids.len) as usize..]
            .iter()
            .map(|&k| if k >= e_end { shift(k, dn) } else { k }),
    );

    let mut attrs = Vec::with_capacity((sh.attrs.len() as i64 + da) as usize);
    attrs.extend_from_slice(&sh.attrs[..attrs_off as usize]);
    attrs.extend_from_slice(&f_attrs);
    attrs.extend(sh.attrs[e_attrs_end as usize..].iter().map(|a| Attr {
        name: Span {
            start: shift(a.name.start, delta),
            len: a.name.len,
        },
        value: Span {
            start: shift(a.value.start, delta),
            len: a.value.len,
        },
    }));

    let mut events = Vec::with_capacity((old.events.len() as i64 + de) as usize);
    events.extend_from_slice(&old.events[..events_off as usize]);
    events.extend_from_slice(&f_events);
    events.extend_from_slice(&old.events[e_events_end as usize..]);

    let top = Span {
        start: shift(sh.top.start, dk),
        len: sh.top.len,
    };
    Ok(Reparsed {
        tree: Tree {
            shape: Shape {
                markup_len: html.len(),
                src: html,
                kids,
                attrs,
                top,
                slots: Vec::new(),
            },
            nodes,
            events,
            recorded: false,
        },
        element: e,
    })
}

/// Start tags that close an open `<p>` in the HTML parsing algorithm.
fn closes_paragraph(tag: &str) -> bool {
    const TAGS: [&str; 32] = [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "ul",
    ];
    TAGS.iter().any(|t| t.eq_ignore_ascii_case(tag)) || tag.eq_ignore_ascii_case("table")
}

impl Parser<'_> {
    fn inside_paragraph(&self) -> bool {
        self.context_in_p
            || self
                .stack
                .iter()
                .any(|&(open, _, _)| match self.nodes[open as usize].kind {
                    NodeKind::Element { tag, .. } => {
                        self.src[tag.range()].eq_ignore_ascii_case("p")
                    }
                    _ => false,
                })
    }
}

fn event_kind(name: &str) -> Option<EventKind> {
    let rest = name.strip_prefix("t-")?;
    EventKind::from_name(rest).or_else(|| {
        rest.bytes()
            .any(|b| b.is_ascii_uppercase())
            .then(|| EventKind::from_name(&rest.to_ascii_lowercase()))
            .flatten()
    })
}

/// Escapes a value the way maud does (`&`, `<`, `>`, `"`), so recorded values compare equal to rendered ones.
pub(crate) fn escape_like_maud(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
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

    fn describe(tree: &Tree) -> Vec<String> {
        let sh = &tree.shape;
        tree.nodes
            .iter()
            .map(|n| match n.kind {
                NodeKind::Element { tag, .. } => sh.str(tag).to_owned(),
                NodeKind::Text(t) => format!("#{}", sh.str(t)),
                NodeKind::Raw(h) => format!("raw:{}", sh.str(h)),
                NodeKind::Slot { spec, .. } => format!("slot:{spec}"),
            })
            .collect()
    }

    #[test]
    fn parses_elements_text_raw_and_slots() {
        let tree = parse(
            r#"<div class="a&amp;b" t-key="k1" title='x"y'><p t-click="0:ps">x &lt; y</p><br><!--t:c:0--><!--t:raw--><b><!--t:raw-->i<!--/t--></b><!--/t-->z</div>"#.to_owned(),
        )
        .unwrap();
        assert_eq!(
            describe(&tree),
            [
                "div",
                "p",
                "#x &lt; y",
                "br",
                "slot:0",
                "raw:<b><!--t:raw-->i<!--/t--></b>",
                "#z"
            ]
        );
        let sh = &tree.shape;
        let NodeKind::Element { attrs, kids, .. } = tree.node(0).kind else {
            panic!()
        };
        let attrs = sh.attrs(attrs);
        assert_eq!(sh.str(attrs[0].value), "a&amp;b");
        assert_eq!(sh.str(attrs[1].value), "x&quot;y");
        assert_eq!(sh.str(tree.node(0).key.unwrap()), "k1");
        assert_eq!(sh.kids(kids), [1, 3, 4, 5, 6]);
        let NodeKind::Element { events, .. } = tree.node(1).kind else {
            panic!()
        };
        assert_eq!(
            tree.events[events.range()][0].flags,
            FLAG_PREVENT_DEFAULT | FLAG_STOP_PROPAGATION
        );
        assert_eq!(sh.kids(sh.top), [0]);
    }

    #[test]
    fn rejects_markup_the_browser_would_restructure() {
        let e = parse("<table><tr><td>1</td></tr></table>".into()).unwrap_err();
        assert!(e.reason.contains("write <tbody>"), "{e}");
        assert!(parse("<table><tbody><tr><td>1</td></tr></tbody></table>".into()).is_ok());
        assert!(parse("<div></span>".into()).is_err());
        assert!(parse("<div>".into()).is_err());
        assert!(parse("<!-- hi -->".into()).is_err());
        assert!(parse(r#"<a t-click="x">"#.into()).is_err());
        assert!(parse("<div/>".into())
            .unwrap_err()
            .reason
            .contains("does not close"));
        assert!(parse("<p><span><div></div></span></p>".into())
            .unwrap_err()
            .reason
            .contains("inside <p>"));
        assert!(parse("<div><p>a</p><p>b</p></div>".into()).is_ok());
        assert!(parse("<br/><img src=\"x\" />".into()).is_ok());
    }

    #[test]
    fn decodes_references() {
        assert_eq!(
            decode_entities("a&amp;b&#39;&#x41;&nbsp;&bogus;"),
            "a&b'A\u{a0}&bogus;"
        );
    }
}

#[cfg(test)]
mod reparse_tests {
    use super::*;

    /// Everything a tree says, resolved to strings, except node and handler ids.
    fn describe(tree: &Tree) -> Vec<String> {
        let sh = &tree.shape;
        let mut out = vec![format!("top {:?}", sh.kids(sh.top))];
        for (i, n) in tree.nodes.iter().enumerate() {
            let key = n.key.map(|k| sh.str(k).to_owned());
            let line = match n.kind {
                NodeKind::Element {
                    tag,
                    attrs,
                    events,
                    kids,
                    outer,
                    end,
                    events_end,
                    has_slot,
                    inner_start,
                    kids_from,
                    attrs_end,
                } => {
                    let attrs: Vec<String> = sh
                        .attrs(attrs)
                        .iter()
                        .map(|a| format!("{}={}", sh.str(a.name), sh.str(a.value)))
                        .collect();
                    let events: Vec<String> = tree.events[events.range()]
                        .iter()
                        .map(|b| format!("{}:{}:{}", b.kind, b.render_index, b.flags))
                        .collect();
                    format!(
                        "{i} <{}> key={key:?} attrs={attrs:?} events={events:?} kids={:?} outer={:?} inner={:?} end={end} events_end={events_end} attrs_end={attrs_end} slot={has_slot} kids_from_ok={}",
                        sh.str(tag),
                        sh.kids(kids),
                        sh.str(outer),
                        &sh.src[inner_start as usize..],
                        kids_from <= kids.start,
                    )
                }
                NodeKind::Text(t) => format!("{i} #{}", sh.str(t)),
                NodeKind::Raw(r) => format!("{i} raw {}", sh.str(r)),
                NodeKind::Slot { spec, .. } => format!("{i} slot {spec}"),
            };
            out.push(line);
        }
        out
    }

    fn check(old: &str, new: &str) -> bool {
        let old_tree = parse(old.to_owned()).unwrap();
        let fresh = parse(new.to_owned()).unwrap();
        match reparse(&old_tree, new.to_owned()) {
            Ok(re) => {
                assert_eq!(describe(&re.tree), describe(&fresh), "{old} -> {new}");
                assert_eq!(re.tree.events.len(), fresh.events.len());
                true
            }
            Err(html) => {
                assert_eq!(html, new);
                false
            }
        }
    }

    #[test]
    fn partial_reparse_equals_a_full_parse() {
        let base = r#"<main><h2 class="t">x</h2><ul><li t-key="1" data-k="1">one<b t-click="0">x</b></li><li t-key="2">two</li></ul><ol><li t-key="9" title="n">nine<i t-click="1:p">y</i></li></ol><p>tail</p></main><footer t-key="f">end</footer>"#;
        let cases = [
            base.replace("one", "uno!"),
            base.replace("one", ""),
            base.replace(
                r#"<li t-key="2">two</li>"#,
                r#"<li t-key="2">two</li><li t-key="3">three<br></li>"#,
            ),
            base.replace(r#"<li t-key="2">two</li>"#, ""),
            base.replace(
                "<h2 class=\"t\">x</h2>",
                "<h2 class=\"t\">xyz<em>!</em></h2>",
            ),
            base.replace("tail", "tale told"),
            base.replace("nine", "9"),
            base.replace(">two<", r#">two<a href="/2" class="x">l</a><"#),
            base.replace(r#"<b t-click="0">x</b>"#, ""),
        ];
        let mut partial = 0;
        for new in &cases {
            if check(base, new) {
                partial += 1;
            }
        }
        assert!(partial >= 8, "only {partial} cases took the partial path");
        // A change at the top level, or a fragment that is not balanced on its own, falls back.
        assert!(!check(base, &format!("{base}<p>more</p>")));
        assert!(!check("<b>1</b><b>2</b>", "<b>1</b><b>3</b><b>2</b>"));
    }
}
